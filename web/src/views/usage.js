// GET /v1/stats/messages: API usage event counts in the seed's three windows.
import { getJson } from '../api.js';
import { chart, clear } from '../charts.js';
import { errorBox, h } from '../dom.js';

const WINDOWS = [['last_24_hours', 'Last 24 hours'], ['last_1_hours', 'Last hour'], ['today_so_far', 'Today so far (UTC)']];

export const usage = {
  mount(panel) {
    this.errorBox = errorBox();
    this.results = h('div');
    panel.append(h('h2', {}, 'API usage events'), this.errorBox, this.results);
  },

  async load(current) {
    const body = await getJson('v1/stats/messages');
    if (!current()) return;
    clear(this.results);
    const windows = body.aggregated_api_usage_events;
    const names = Object.keys(windows.last_24_hours);
    chart(this.results, {
      id: 'usage-events',
      title: 'Usage events per window',
      labels: names.map((name) => name.replaceAll('_', ' ')),
      series: WINDOWS.map(([key, label]) => ({ label, values: names.map((name) => windows[key][name] ?? 0) })),
      totals: false,
      slanted: true,
    });
  },
};
