// The public API, called with the user's key from this page's own origin. The key lives in
// sessionStorage only: never in a URL query, a cookie or a log line.
const STORAGE = 'tally.key';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Move a key handed over in the fragment (`#key=...`, never sent to a server) to storage. */
export function adoptFragmentKey() {
  const params = new URLSearchParams(window.location.hash.slice(1));
  const key = params.get('key');
  if (key === null) return;
  if (key) sessionStorage.setItem(STORAGE, key);
  window.history.replaceState(null, '', window.location.pathname + window.location.search);
}

export const currentKey = () => sessionStorage.getItem(STORAGE);
export const useKey = (key) => sessionStorage.setItem(STORAGE, key);
export const forgetKey = () => sessionStorage.removeItem(STORAGE);

/** The message of any of the API's three error formats. */
function reason(body, status) {
  return body?.detail ?? body?.error?.message ?? body?.title ?? `HTTP ${status}`;
}

/** The response of `path` (relative to the page, so a stage prefix is kept); ApiError unless 2xx. */
export async function call(path, { method = 'GET', body, accept = 'application/json' } = {}) {
  const key = currentKey();
  if (!key) throw new ApiError(401, 'no API key has been entered yet');
  const headers = { Authorization: `Bearer ${key}`, Accept: accept };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(new URL(path, document.baseURI), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
    credentials: 'omit',
    referrerPolicy: 'no-referrer',
  });
  if (!response.ok) {
    let parsed = null;
    try {
      parsed = await response.json();
    } catch {
      parsed = null;
    }
    throw new ApiError(response.status, reason(parsed, response.status));
  }
  return response;
}

export async function getJson(path, options) {
  return (await call(path, options)).json();
}
