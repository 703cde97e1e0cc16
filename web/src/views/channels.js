// POST /api/v1/connect-hub/{channel}/stats: any channel, stat type and IANA timezone. The
// buckets are the API's, labelled from the wall-clock digits it returns for the zone, so
// a DST day shows as one bucket of 23 or 25 hours.
import { getJson } from '../api.js';
import { chart, clear } from '../charts.js';
import { cards, dayLabel, errorBox, fmt, h, metric, monthLabel } from '../dom.js';

const CHANNELS = ['sms', 'mms', 'whatsapp', 'chat'];
const SERIES_TYPES = [['hourly', 'Hourly'], ['daily', 'Daily'], ['weekly', 'Weekly (ISO, Monday)'], ['monthly', 'Monthly'], ['yearly', 'Yearly']];
const WINDOW_TYPES = [['today', 'Today so far'], ['lastm', 'Last minute'], ['last5m', 'Last 5 minutes'], ['last10m', 'Last 10 minutes'],
  ['last30m', 'Last 30 minutes'], ['lasth', 'Last hour'], ['last12h', 'Last 12 hours'], ['last24h', 'Last 24 hours'], ['lastmonth', 'Last 30 days']];
const EXPECTED_HOURS = { hourly: 1, daily: 24, weekly: 168 };

function hours(entry) {
  return (Date.parse(entry.end) - Date.parse(entry.start)) / 3_600_000;
}

/**
 * The bucket's label in the requested zone. A whole bucket whose length DST changed says
 * so ("Oct 25 (25 h)"); a bucket the range clips is marked partial.
 */
function bucketLabel(type, entry) {
  const start = entry.start;
  const labels = {
    hourly: () => `${dayLabel(start)} ${start.slice(11, 16)}`,
    daily: () => dayLabel(start),
    weekly: () => `Week of ${dayLabel(start)}`,
    monthly: () => monthLabel(start),
    yearly: () => start.slice(0, 4),
  };
  const label = labels[type] ? labels[type]() : WINDOW_TYPES.find(([value]) => value === type)?.[1] ?? type;
  const expected = EXPECTED_HOURS[type];
  if (!expected || !entry.end) return label;
  const whole = start.slice(14, 23) === '00:00.000' && entry.end.slice(14, 23) === '00:00.000'
    && (type === 'hourly' || (start.slice(11, 13) === '00' && entry.end.slice(11, 13) === '00'));
  if (!whole) return `${label} (partial)`;
  return hours(entry) === expected ? label : `${label} (${fmt.number(hours(entry))} h)`;
}

/** Labels made unique: an hour repeated when clocks go back shows its UTC offset. */
function distinct(labels, entries) {
  return labels.map((label, i) => (labels.indexOf(label) !== labels.lastIndexOf(label)
    ? `${label} (UTC${entries[i].start.slice(23) || 'Z'})` : label));
}

function browserZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

function select(id, label, options, value) {
  return h('label', {}, label, h('select', { id, name: id },
    options.map((option) => (Array.isArray(option) && Array.isArray(option[1])
      ? h('optgroup', { label: option[0] }, option[1].map(([v, text]) => h('option', { value: v, selected: v === value }, text)))
      : h('option', { value: option, selected: option === value }, option)))));
}

export const channels = {
  mount(panel, reload) {
    this.errorBox = errorBox();
    this.results = h('div');
    const zones = ['UTC', ...(Intl.supportedValuesOf ? Intl.supportedValuesOf('timeZone') : [])];
    this.form = h('form', { class: 'controls', method: 'post', onsubmit: (event) => { event.preventDefault(); reload(); } },
      select('channel', 'Channel', CHANNELS, 'whatsapp'),
      select('type', 'Stat type', [['Series', SERIES_TYPES], ['Single window', WINDOW_TYPES]], 'daily'),
      h('label', {}, 'Timezone (IANA)',
        h('input', { id: 'timezone', name: 'timezone', type: 'text', list: 'zones', value: browserZone(), spellcheck: 'false', autocomplete: 'off' })),
      h('datalist', { id: 'zones' }, zones.map((zone) => h('option', { value: zone }))),
      h('label', {}, 'From (wall clock in the zone, optional)', h('input', { id: 'start', name: 'start', type: 'datetime-local' })),
      h('label', {}, 'To (optional; default now)', h('input', { id: 'end', name: 'end', type: 'datetime-local' })),
      h('button', { type: 'submit', class: 'primary' }, 'Show'));
    for (const element of this.form.querySelectorAll('select')) element.addEventListener('change', reload);
    panel.append(h('h2', {}, 'Channel statistics'), this.form,
      h('p', { class: 'note' }, 'Buckets follow the timezone: a day is local midnight to midnight, so daylight-saving days last 23 or 25 hours.'),
      this.errorBox, this.results);
  },

  request() {
    const value = (name) => this.form.elements[name].value.trim();
    const body = { type: value('type'), timezone: value('timezone') || 'UTC' };
    if (value('start')) body.start_time = value('start');
    if (value('end')) body.end_time = value('end');
    return { channel: value('channel'), body };
  },

  async load(current) {
    const { channel, body } = this.request();
    const entries = await getJson(`api/v1/connect-hub/${encodeURIComponent(channel)}/stats`, { method: 'POST', body });
    if (!current()) return;
    clear(this.results);
    const currency = entries[0]?.currency ?? 'EUR';
    const sum = (field) => entries.reduce((total, entry) => total + entry[field], 0);
    // Summed in cents: the API's 2-decimal amounts add up exactly.
    const amount = entries.reduce((cents, entry) => cents + Math.round(entry.total_amount * 100), 0) / 100;
    this.results.append(cards(
      metric('total_requests', 'Messages (requests)', sum('total_requests')),
      metric('total_transactions', 'Reached sent (transactions)', sum('total_transactions')),
      metric('total_amount', `Amount (${currency})`, amount, fmt.money(amount, currency)),
    ));
    const labels = distinct(entries.map((entry) => bucketLabel(body.type, entry)), entries);
    const grid = h('div', { class: 'grid' });
    this.results.append(grid);
    chart(grid, {
      id: 'channel-counts',
      title: `${channel}: messages and transactions (${body.timezone})`,
      labels,
      series: [
        { label: 'Messages', values: entries.map((entry) => entry.total_requests) },
        { label: 'Transactions', values: entries.map((entry) => entry.total_transactions) },
      ],
    });
    chart(grid, {
      id: 'channel-amounts',
      title: `${channel}: amount in ${currency} (${body.timezone})`,
      labels,
      series: [{ label: `Amount (${currency})`, values: entries.map((entry) => entry.total_amount) }],
      format: fmt.number,
      integer: false,
    });
  },
};
