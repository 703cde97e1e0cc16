// GET /v1/stats/{scope}: the dashboard seed's cards, its three series and the operators.
import { getJson } from '../api.js';
import { chart, clear } from '../charts.js';
import { cards, errorBox, fmt, h, metric, table } from '../dom.js';

const SCOPES = [['24h', 'Last 24 hours'], ['1w', 'Last 7 days'], ['1month', 'Last 30 days'], ['1year', 'Last 12 months'], ['all', 'All time']];

export const overview = {
  scope: '1month',

  mount(panel, reload) {
    this.errorBox = errorBox();
    this.results = h('div');
    const choices = SCOPES.map(([value, label]) => h('label', {},
      h('input', {
        type: 'radio', name: 'scope', value, checked: value === this.scope,
        onchange: () => { this.scope = value; reload(); },
      }), label));
    panel.append(
      h('h2', {}, 'Overview'),
      h('div', { class: 'controls' }, h('fieldset', { class: 'segmented' }, h('legend', {}, 'Scope'), choices)),
      this.errorBox,
      this.results);
  },

  async load(current) {
    const body = await getJson(`v1/stats/${this.scope}`);
    if (!current()) return;
    const data = body.data;
    const { charts } = data;
    clear(this.results);
    this.results.append(cards(
      metric('total_messages', 'Messages, all time', data.total_messages),
      metric('scoped_messages', 'Messages in scope', data.scoped_messages),
      metric('scoped_increase_percent', 'Change vs previous window', data.scoped_increase_percent, fmt.signedPercent(data.scoped_increase_percent)),
      metric('success_rate_percent', 'Success rate (sent or delivered)', data.success_rate_percent, fmt.percent(data.success_rate_percent)),
      metric('otp_verification_success_rate_percent', 'OTP verification rate', data.otp_verification_success_rate_percent, fmt.percent(data.otp_verification_success_rate_percent)),
      metric('credit_balance', 'Credit balance', data.credit_balance),
    ));
    const grid = h('div', { class: 'grid' });
    this.results.append(grid);
    const labels = charts.messages.map((bucket) => bucket.label);
    for (const [id, title, series] of [
      ['messages', 'Messages', charts.messages],
      ['otps', 'OTP sessions', charts.otps],
      ['campaigns', 'Campaign (marketing) messages', charts.campaigns],
    ]) {
      chart(grid, { id: `overview-${id}`, title, labels, series: [{ label: title, values: series.map((bucket) => bucket.total) }] });
    }
    chart(grid, {
      id: 'overview-operators',
      title: 'Messages by operator',
      labels: charts.operators.map((row) => row.operator),
      series: [{ label: 'Messages', values: charts.operators.map((row) => row.total) }],
      totals: false,
    });
    const activity = data.recent_activity.map((row) => [row.occurred_at, row.type, row.id, row.status ?? '']);
    this.results.append(h('section', { class: 'chart' },
      h('h3', {}, 'Recent activity'),
      activity.length
        ? table('The newest messages, OTP sessions and campaigns', ['When (UTC)', 'Type', 'Id', 'Status'], activity, { 'data-table': 'recent-activity' })
        : h('p', { class: 'note' }, 'No activity yet.')));
  },
};
