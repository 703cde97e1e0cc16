// The chat admin API: messages sent and dialogs created, totals and per UTC day. The
// per-day endpoints list only days with a count (paged); the chart fills the other days
// of the range with zeros.
import { getJson } from '../api.js';
import { chart, clear } from '../charts.js';
import { cards, dayLabel, errorBox, h, isoDate, metric } from '../dom.js';

const DAY_MS = 86_400_000;
const PAGE = 1000;
const DIALOG_TYPES = [1, 2, 3, 4];

/** Every page of a per-day endpoint, merged. */
async function perDay(path, query) {
  const days = {};
  for (let offset = 0; ; offset += PAGE) {
    const page = await getJson(`${path}?${query}&limit=${PAGE}&offset=${offset}`);
    Object.assign(days, page);
    if (Object.keys(page).length < PAGE) return days;
  }
}

export const chat = {
  mount(panel, reload) {
    this.errorBox = errorBox();
    this.results = h('div');
    const today = new Date();
    const input = (id, label, value) => h('label', {}, label, h('input', { id: `chat-${id}`, name: id, type: 'date', value, required: true }));
    this.form = h('form', { class: 'controls', method: 'post', onsubmit: (event) => { event.preventDefault(); reload(); } },
      input('start', 'From (UTC day)', isoDate(new Date(today.getTime() - 29 * DAY_MS))),
      input('end', 'To (UTC day, included)', isoDate(today)),
      h('fieldset', {}, h('legend', {}, 'Dialog types'),
        DIALOG_TYPES.map((type) => h('label', { class: 'inline' },
          h('input', { type: 'checkbox', name: 'types', value: type, checked: true, onchange: reload }), `type ${type}`))),
      h('button', { type: 'submit', class: 'primary' }, 'Show'));
    panel.append(h('h2', {}, 'Chat'), this.form, this.errorBox, this.results);
  },

  async load(current) {
    const start = this.form.elements.start.value;
    const end = this.form.elements.end.value;
    const from = Date.parse(`${start}T00:00:00Z`);
    const to = Date.parse(`${end}T00:00:00Z`) + DAY_MS;
    const range = `start_date=${from / 1000}&end_date=${to / 1000}`;
    const types = [...this.form.querySelectorAll('input[name="types"]:checked')].map((box) => `types[]=${box.value}`).join('&');
    const dialogs = types ? `${range}&${types}` : range;
    const [sent, created, sentDays, createdDays] = await Promise.all([
      getJson(`admin/stats/messages/sent-total?${range}`),
      getJson(`admin/stats/dialogs/created-total?${dialogs}`),
      perDay('admin/stats/messages/sent-per-day', range),
      perDay('admin/stats/dialogs/created-per-day', dialogs),
    ]);
    if (!current()) return;
    clear(this.results);
    this.results.append(cards(
      metric('chat.sent_total', 'Chat messages', sent.total),
      metric('chat.dialogs_total', 'Dialogs created', created.total),
    ));
    const days = [];
    for (let day = from; day < to; day += DAY_MS) days.push(isoDate(new Date(day)));
    const labels = days.map(dayLabel);
    const grid = h('div', { class: 'grid' });
    this.results.append(grid);
    chart(grid, { id: 'chat-sent', title: 'Chat messages per UTC day', labels, series: [{ label: 'Messages', values: days.map((day) => sentDays[day] ?? 0) }] });
    chart(grid, { id: 'chat-dialogs', title: 'Dialogs created per UTC day', labels, series: [{ label: 'Dialogs', values: days.map((day) => createdDays[day] ?? 0) }] });
  },
};
