// Small DOM and formatting helpers shared by every view.

/** An element with attributes (`on*` attach listeners) and children (strings become text). */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (name === 'class') element.className = value;
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  element.append(...children.flat(Infinity).filter((child) => child !== null && child !== undefined && child !== false));
  return element;
}

const counts = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const decimals = new Intl.NumberFormat(undefined, { minimumFractionDigits: 0, maximumFractionDigits: 2 });

export const fmt = {
  count: (value) => counts.format(value),
  number: (value) => decimals.format(value),
  percent: (value) => `${decimals.format(value)} %`,
  signedPercent: (value) => `${value > 0 ? '+' : ''}${decimals.format(value)} %`,
  money(value, currency) {
    try {
      return new Intl.NumberFormat(undefined, { style: 'currency', currency }).format(value);
    } catch {
      return `${decimals.format(value)} ${currency}`;
    }
  },
};

/**
 * One figure of a card grid. `value` is the API's raw value (kept in data-value, so the
 * browser tests compare it with the API), `text` how it is shown.
 */
export function metric(id, label, value, text = fmt.count(value), note = null) {
  return h('div', { class: 'metric' },
    h('dt', {}, label),
    h('dd', { 'data-metric': id, 'data-value': value }, text, note && h('small', {}, ' ', note)));
}

export function cards(...metrics) {
  return h('dl', { class: 'cards' }, metrics);
}

/** A data table: `rows` are arrays of cells; a cell is text or {text, value}. */
export function table(caption, columns, rows, attrs = {}) {
  return h('div', { class: 'table-wrap' },
    h('table', attrs,
      caption && h('caption', {}, caption),
      h('thead', {}, h('tr', {}, columns.map((column) => h('th', { scope: 'col' }, column)))),
      h('tbody', {}, rows.map((row) => h('tr', {}, row.map((cell, index) => {
        const text = typeof cell === 'object' && cell !== null ? cell.text : cell;
        const value = typeof cell === 'object' && cell !== null ? cell.value : null;
        return h(index === 0 ? 'th' : 'td', { scope: index === 0 ? 'row' : null, 'data-value': value }, String(text));
      }))))));
}

export function errorBox() {
  return h('p', { class: 'error', role: 'alert' });
}

/** ISO date (YYYY-MM-DD) of a Date in UTC. */
export function isoDate(date) {
  return date.toISOString().slice(0, 10);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** "Mar 29" from the digits of an ISO date or date-time, whatever the browser's zone. */
export function dayLabel(iso) {
  return `${MONTHS[Number(iso.slice(5, 7)) - 1]} ${iso.slice(8, 10)}`;
}

export function monthLabel(iso) {
  return `${MONTHS[Number(iso.slice(5, 7)) - 1]} ${iso.slice(0, 4)}`;
}
