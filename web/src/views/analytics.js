// The analytics API over one date range: overview, trends (both metrics), top campaigns,
// best send times and the CSV export.
//
// Best send times: the API gives two marginals (by UTC hour, by weekday). The heat map does
// not guess a joint distribution from them: it is built from channel statistics `hourly`
// in UTC, summed over the four channels (messages per hour of the range), and its row and
// column totals are checked against the API's marginals.
import { call, getJson } from '../api.js';
import { chart, clear } from '../charts.js';
import { cards, dayLabel, errorBox, fmt, h, isoDate, metric, table } from '../dom.js';

const CHANNELS = ['sms', 'mms', 'whatsapp', 'chat'];
const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const HOURS = Array.from({ length: 24 }, (_, hour) => `${String(hour).padStart(2, '0')}:00`);
const DAY_MS = 86_400_000;
// Light to dark blue; each cell's text takes black or white, whichever contrasts more.
const LOW = [238, 244, 251];
const HIGH = [8, 48, 107];

function luminance([r, g, b]) {
  const linear = (c) => (c / 255 <= 0.03928 ? c / 255 / 12.92 : ((c / 255 + 0.055) / 1.055) ** 2.4);
  return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
}

function shade(fraction) {
  const rgb = LOW.map((low, i) => Math.round(low + (HIGH[i] - low) * fraction));
  const light = luminance(rgb);
  const onBlack = (light + 0.05) / 0.05;
  const onWhite = 1.05 / (light + 0.05);
  return { background: `rgb(${rgb.join(',')})`, color: onBlack >= onWhite ? '#000000' : '#ffffff' };
}

/** messages[weekday][hour] from hourly UTC channel statistics of every channel. */
function jointFromChannels(perChannel) {
  const grid = WEEKDAYS.map(() => HOURS.map(() => 0));
  for (const entries of perChannel) {
    for (const entry of entries) {
      const start = new Date(entry.start);
      grid[start.getUTCDay()][start.getUTCHours()] += entry.total_requests;
    }
  }
  return grid;
}

function heatmap(grid, byHour, byDay) {
  const max = Math.max(1, ...grid.flat());
  const hourTotals = HOURS.map((_, hour) => grid.reduce((sum, row) => sum + row[hour], 0));
  const agrees = hourTotals.every((total, hour) => total === (byHour.get(hour)?.totalSent ?? 0))
    && grid.every((row, day) => row.reduce((a, b) => a + b, 0) === (byDay.get(day)?.totalSent ?? 0));
  const cell = (value) => {
    const { background, color } = shade(value / max);
    // Inline colours through the CSSOM: the page's CSP forbids style attributes in markup.
    const td = h('td', { 'data-value': value }, fmt.count(value));
    td.style.background = background;
    td.style.color = color;
    return td;
  };
  return h('figure', { class: 'chart', id: 'best-send-heatmap' },
    h('figcaption', {},
      h('h3', {}, 'Messages by weekday and UTC hour'),
      h('p', { class: 'summary' },
        `Built from channel statistics (hourly, UTC, all four channels). Darker cells had more messages; the busiest cell holds ${fmt.count(max === 1 && !grid.flat().some(Boolean) ? 0 : max)}.`,
        agrees ? ' Its totals equal the best-send-times API\'s.' : ' Its totals differ from the best-send-times API\'s: the counters may still be catching up.')),
    h('div', { class: 'legend-scale' }, '0', h('span', { class: 'bar' }), fmt.count(max)),
    h('div', { class: 'table-wrap' },
      h('table', { class: 'heatmap', 'data-table': 'best-send-heatmap' },
        h('caption', {}, 'Messages per weekday (rows) and UTC hour (columns)'),
        h('thead', {}, h('tr', {}, h('td'), HOURS.map((hour) => h('th', { scope: 'col' }, hour.slice(0, 2))), h('th', { scope: 'col' }, 'Total'))),
        h('tbody', {}, grid.map((row, day) => h('tr', {},
          h('th', { scope: 'row' }, WEEKDAYS[day].slice(0, 3)),
          row.map(cell),
          h('td', { 'data-value': row.reduce((a, b) => a + b, 0) }, fmt.count(row.reduce((a, b) => a + b, 0)))))))));
}

export const analytics = {
  metric: 'messages',

  mount(panel, reload) {
    this.errorBox = errorBox();
    this.results = h('div');
    const today = new Date();
    const input = (id, label, value) => h('label', {}, label, h('input', { id, name: id, type: 'date', value, required: true }));
    this.form = h('form', { class: 'controls', method: 'post', onsubmit: (event) => { event.preventDefault(); reload(); } },
      input('startDate', 'From (UTC day)', isoDate(new Date(today.getTime() - 29 * DAY_MS))),
      input('endDate', 'To (UTC day, included)', isoDate(today)),
      h('fieldset', { class: 'segmented' }, h('legend', {}, 'Trend'),
        ['messages', 'campaigns'].map((value) => h('label', {},
          h('input', { type: 'radio', name: 'metric', value, checked: value === this.metric, onchange: () => { this.metric = value; reload(); } }),
          value === 'messages' ? 'Messages' : 'Campaigns'))),
      h('button', { type: 'submit', class: 'primary' }, 'Show'),
      h('button', { type: 'button', id: 'export-csv', onclick: () => this.download() }, 'Download CSV export'));
    this.exportStatus = h('p', { class: 'note', 'aria-live': 'polite' });
    panel.append(h('h2', {}, 'Analytics'), this.form, this.exportStatus, this.errorBox, this.results);
  },

  range() {
    return { start: this.form.elements.startDate.value, end: this.form.elements.endDate.value };
  },

  async download() {
    const { start, end } = this.range();
    this.exportStatus.textContent = 'Preparing the CSV…';
    try {
      const response = await call(`api/analytics/export?type=campaigns&startDate=${start}&endDate=${end}`, { accept: 'text/csv' });
      const name = /filename="([^"]+)"/.exec(response.headers.get('Content-Disposition') ?? '')?.[1] ?? 'campaigns.csv';
      const url = URL.createObjectURL(await response.blob());
      const link = h('a', { href: url, download: name });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      this.exportStatus.textContent = `Downloaded ${name}.`;
    } catch (error) {
      this.exportStatus.textContent = `The export failed: ${error.message}`;
    }
  },

  async load(current) {
    const { start, end } = this.range();
    const dates = `startDate=${start}&endDate=${end}`;
    // Hourly channel statistics over the same UTC days as the analytics range.
    const hourly = {
      type: 'hourly', timezone: 'UTC',
      start_time: `${start}T00:00:00Z`,
      end_time: `${isoDate(new Date(Date.parse(end) + DAY_MS))}T00:00:00Z`,
    };
    const [summary, trend, top, best, ...perChannel] = await Promise.all([
      getJson(`api/analytics/overview?${dates}`),
      getJson(`api/analytics/trends?metric=${this.metric}&${dates}`),
      getJson(`api/analytics/top-campaigns?limit=10&${dates}`),
      getJson(`api/analytics/best-send-times?${dates}`),
      ...CHANNELS.map((channel) => getJson(`api/v1/connect-hub/${channel}/stats`, { method: 'POST', body: hourly })),
    ]);
    if (!current()) return;
    clear(this.results);
    this.drawOverview(summary);
    const grid = h('div', { class: 'grid' });
    this.results.append(grid);
    const fields = this.metric === 'messages' ? ['total', 'sent', 'delivered', 'failed'] : ['total', 'completed', 'sending', 'failed'];
    chart(grid, {
      id: 'analytics-trends',
      title: `Daily ${this.metric} (UTC days)`,
      labels: trend.map((row) => dayLabel(row.date)),
      series: fields.map((field) => ({ label: field[0].toUpperCase() + field.slice(1), values: trend.map((row) => row[field]) })),
      kind: 'lines',
    });
    if (top.length) chart(grid, {
      id: 'analytics-top-campaigns',
      title: 'Top campaigns by delivery rate',
      labels: top.map((_, i) => `#${i + 1}`),
      series: [{ label: 'Delivery rate', values: top.map((row) => row.deliveryRate) }],
      format: fmt.percent, integer: false, totals: false,
    });
    this.results.append(h('section', { class: 'chart' }, h('h3', {}, 'Top campaigns'),
      top.length
        ? table('Completed campaigns created in the range, best delivery rate first',
          ['Rank', 'Campaign', 'Created', 'Total', 'Sent', 'Delivered', 'Failed', 'Delivery rate'],
          top.map((row, i) => [`#${i + 1}`, row.name, row.createdAt,
            { text: fmt.count(row.totalCount), value: row.totalCount }, { text: fmt.count(row.sentCount), value: row.sentCount },
            { text: fmt.count(row.deliveredCount), value: row.deliveredCount }, { text: fmt.count(row.failedCount), value: row.failedCount },
            { text: fmt.percent(row.deliveryRate), value: row.deliveryRate }]), { 'data-table': 'top-campaigns' })
        : h('p', { class: 'note' }, 'No completed campaign was created in this range.')));
    this.drawSendTimes(best, perChannel);
  },

  drawOverview(summary) {
    const { campaigns, messages, contacts } = summary;
    this.results.append(
      h('p', { class: 'note' }, `Range ${summary.dateRange.start} to ${summary.dateRange.end} (UTC).`),
      cards(
        metric('messages.total', 'Messages', messages.total),
        metric('messages.sent', 'Sent', messages.sent),
        metric('messages.delivered', 'Delivered', messages.delivered),
        metric('messages.failed', 'Failed', messages.failed),
        metric('deliveryRate', 'Delivery rate', summary.deliveryRate, fmt.percent(summary.deliveryRate)),
        metric('campaigns.total', 'Campaigns created', campaigns.total,
          fmt.count(campaigns.total), `${fmt.count(campaigns.completed)} completed, ${fmt.count(campaigns.sending)} sending, ${fmt.count(campaigns.scheduled)} scheduled, ${fmt.count(campaigns.failed)} failed`),
        metric('contacts.total', 'Contacts (now)', contacts.total,
          fmt.count(contacts.total), `${fmt.count(contacts.textable)} textable, ${fmt.count(contacts.optedOut)} opted out`),
      ));
  },

  drawSendTimes(best, perChannel) {
    const byHour = new Map(best.byHour.map((row) => [row.hour, row]));
    const byDay = new Map(best.byDayOfWeek.map((row) => [row.dayOfWeek, row]));
    this.results.append(h('h3', {}, 'Best send times'), heatmap(jointFromChannels(perChannel), byHour, byDay));
    const grid = h('div', { class: 'grid' });
    this.results.append(grid);
    for (const [id, title, labels, rows] of [
      ['best-send-hour', 'Delivery rate by UTC hour', HOURS, HOURS.map((_, hour) => byHour.get(hour))],
      ['best-send-day', 'Delivery rate by weekday (UTC)', WEEKDAYS, WEEKDAYS.map((_, day) => byDay.get(day))],
    ]) {
      const figure = chart(grid, {
        id, title, labels,
        // A bucket without messages has no delivery rate (not a rate of 0).
        series: [{ label: 'Delivery rate', values: rows.map((row) => row?.deliveryRate ?? null) }],
        format: fmt.percent, integer: false, totals: false,
      });
      figure.append(h('details', {}, h('summary', {}, 'Messages and delivered'),
        table(title, ['Bucket', 'Messages', 'Delivered', 'Delivery rate'], rows.map((row, i) => [labels[i],
          { text: fmt.count(row?.totalSent ?? 0), value: row?.totalSent ?? 0 },
          { text: fmt.count(row?.delivered ?? 0), value: row?.delivered ?? 0 },
          { text: row ? fmt.percent(row.deliveryRate) : '—', value: row?.deliveryRate ?? null }]), { 'data-table': `${id}-counts` })));
    }
  },
};
