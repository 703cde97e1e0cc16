// The dashboard page: tabs of views fed by the public API with the user's key.
import './style.css';
import { ApiError, adoptFragmentKey, currentKey, forgetKey, useKey } from './api.js';
import { analytics } from './views/analytics.js';
import { billing } from './views/billing.js';
import { channels } from './views/channels.js';
import { chat } from './views/chat.js';
import { overview } from './views/overview.js';
import { usage } from './views/usage.js';

const REFRESH_MS = 60_000;
const views = { overview, channels, analytics, chat, usage, billing };
const mounted = new Set();
const requests = {};
let active = 'overview';
let timer = null;

const $ = (id) => document.getElementById(id);

function askForKey(message) {
  $('key-message').textContent = message;
  $('key-panel').hidden = false;
  $('key-input').focus();
}

/** Show a failed load: 401/403 ask for another key, any other error stays in the view. */
function failed(view, error) {
  const box = view.errorBox;
  if (!(error instanceof ApiError)) {
    box.textContent = `Could not load: ${error.message}`;
    return;
  }
  if (error.status === 401) {
    forgetKey();
    box.textContent = '';
    askForKey(`The API refused the key (401 Unauthorized: ${error.message}). Enter another key.`);
    return;
  }
  if (error.status === 403) {
    box.textContent = `This key may not read this view (403 Forbidden: ${error.message}).`;
    askForKey(`The key lacks a scope this view needs (403 Forbidden: ${error.message}). Enter another key.`);
    return;
  }
  box.textContent = `The API answered ${error.status}: ${error.message}`;
}

async function load(name) {
  const view = views[name];
  const panel = $(name);
  if (!currentKey()) {
    askForKey('Enter an API key to see your statistics.');
    return;
  }
  if (!mounted.has(name)) {
    view.mount(panel, () => load(name));
    mounted.add(name);
  }
  view.errorBox.textContent = '';
  // Only the newest request of a view draws (a slow answer must not overwrite a newer one).
  const sequence = (requests[name] = (requests[name] ?? 0) + 1);
  const current = () => requests[name] === sequence;
  panel.classList.add('loading');
  panel.setAttribute('aria-busy', 'true');
  try {
    await view.load(current);
    if (current()) $('updated').textContent = `Updated ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    if (current()) failed(view, error);
  } finally {
    if (current()) {
      panel.classList.remove('loading');
      panel.removeAttribute('aria-busy');
    }
  }
}

function select(name, focus = false) {
  active = name;
  for (const tab of document.querySelectorAll('[role="tab"]')) {
    const selected = tab.getAttribute('aria-controls') === name;
    tab.setAttribute('aria-selected', String(selected));
    tab.tabIndex = selected ? 0 : -1;
    if (selected && focus) tab.focus();
    $(tab.getAttribute('aria-controls')).hidden = !selected;
  }
  load(name);
}

function scheduleRefresh() {
  clearInterval(timer);
  if ($('auto-refresh').checked) {
    timer = setInterval(() => {
      if (!document.hidden && currentKey()) load(active);
    }, REFRESH_MS);
  }
}

function wireTabs() {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  for (const tab of tabs) tab.addEventListener('click', () => select(tab.getAttribute('aria-controls')));
  // Arrow keys move between tabs (WAI-ARIA tabs pattern); Tab enters the panel.
  $('tabs').addEventListener('keydown', (event) => {
    const index = tabs.indexOf(document.activeElement);
    const moves = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 };
    if (index < 0 || !(event.key in moves)) return;
    event.preventDefault();
    const next = tabs[(moves[event.key] + tabs.length) % tabs.length];
    select(next.getAttribute('aria-controls'), true);
  });
}

function wireKeyForm() {
  $('key-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const key = $('key-input').value.trim();
    if (!key) return;
    useKey(key);
    $('key-input').value = '';
    $('key-panel').hidden = true;
    load(active);
  });
  $('change-key').addEventListener('click', () => askForKey('Enter another API key.'));
  $('refresh').addEventListener('click', () => load(active));
  $('auto-refresh').addEventListener('change', scheduleRefresh);
}

adoptFragmentKey();
wireTabs();
wireKeyForm();
scheduleRefresh();
select(active);
