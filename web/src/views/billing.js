// GET /api/billing/status and GET /api/credits/balance.
import { getJson } from '../api.js';
import { chart, clear } from '../charts.js';
import { cards, errorBox, fmt, h, metric, table } from '../dom.js';

const HEALTH = { active: 'good', overage_warning: 'warn', past_due: 'bad', suspended: 'bad', archived: 'bad' };

export const billing = {
  mount(panel) {
    this.errorBox = errorBox();
    this.results = h('div');
    panel.append(h('h2', {}, 'Billing'), this.errorBox, this.results);
  },

  async load(current) {
    const [status, balance] = await Promise.all([getJson('api/billing/status'), getJson('api/credits/balance')]);
    if (!current()) return;
    clear(this.results);
    const state = status.billing_status ?? 'unknown';
    this.results.append(
      h('p', {}, 'Billing status ',
        h('span', { class: `badge ${HEALTH[state] ?? ''}`, 'data-metric': 'billing_status', 'data-value': state }, state.replaceAll('_', ' ')),
        ' · pricing model ', h('strong', { 'data-metric': 'pricing_model', 'data-value': status.pricing_model ?? '' }, status.pricing_model ?? 'not set')),
      cards(
        metric('balance', 'Credit balance', balance.balance),
        metric('credits.available', 'Available credits', status.credits.available),
        metric('credits.included', 'Included this period', status.credits.included),
        metric('credits.total', 'Total credits', status.credits.total),
      ));
    chart(this.results, {
      id: 'billing-credits',
      title: 'Credits',
      labels: ['Available', 'Included', 'Total'],
      series: [{ label: 'Credits', values: [status.credits.available, status.credits.included, status.credits.total] }],
      totals: false,
    });
    const subscription = status.subscription;
    this.results.append(h('section', { class: 'chart' }, h('h3', {}, 'Subscription'),
      subscription
        ? table(null, ['Field', 'Value'], Object.entries(subscription).map(([field, value]) => [field.replaceAll('_', ' '), value ?? '—']), { 'data-table': 'subscription' })
        : h('p', {}, 'No subscription: the account is on a credit-only plan.')));
    const products = status.available_credit_products ?? [];
    if (products.length) {
      this.results.append(h('section', { class: 'chart' }, h('h3', {}, 'Credit products'),
        table(null, ['Product', 'Credits', 'Price'], products.map((product) => [product.name,
          { text: fmt.count(product.credits_amount), value: product.credits_amount },
          { text: fmt.money(product.price_cents / 100, status.currency ?? 'EUR'), value: product.price_cents }]), { 'data-table': 'credit-products' })));
    }
  },
};
