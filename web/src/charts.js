// Bar and line charts over categories (the API's own buckets), drawn by uPlot, each with
// its text alternatives: a one-line summary (also the canvas's accessible name), a
// keyboard-driven readout, and the full data as a table.
import uPlot from 'uplot';
import { fmt, h, table } from './dom.js';

const HEIGHT = 240;
const COUNT_STEPS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1e3, 2e3, 2.5e3, 5e3, 1e4, 2e4, 5e4,
  1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12];
const LABEL_STEPS = [1, 2, 3, 4, 5, 6, 7, 10, 12, 14, 15, 20, 24, 30, 48, 50, 60, 100, 168, 200, 365, 500, 1000];
const plots = new Map();

function palette() {
  const style = getComputedStyle(document.documentElement);
  const read = (name) => style.getPropertyValue(name).trim();
  return { series: [1, 2, 3, 4, 5, 6].map((i) => read(`--series-${i}`)), text: read('--text'), grid: read('--border') };
}

/** Bars of series `k` of `count`, side by side inside each category (scale units). */
function groupedBars(k, count) {
  const width = 0.8 / count;
  const positions = (u) => u.data[0].map((x) => x - 0.4 + k * width);
  return uPlot.paths.bars({
    disp: {
      x0: { unit: 1, values: positions },
      size: { unit: 1, values: () => [width] },
    },
  });
}

function describe(title, labels, series, format, totals) {
  if (!labels.length) return `${title}: no buckets.`;
  const parts = series.map(({ label, values }) => {
    const known = values.map((value, i) => [value, i]).filter(([value]) => value !== null);
    if (!known.length) return `${label}: no value in any bucket`;
    if (!known.some(([value]) => value !== 0)) return `${label}: 0 in every bucket`;
    const [high, highAt] = known.reduce((best, pair) => (pair[0] > best[0] ? pair : best));
    const [low, lowAt] = known.reduce((best, pair) => (pair[0] < best[0] ? pair : best));
    const total = known.reduce((sum, [value]) => sum + value, 0);
    const extremes = `highest ${format(high)} (${labels[highAt]}), lowest ${format(low)} (${labels[lowAt]})`;
    const missing = known.length < values.length ? `, no value in ${values.length - known.length}` : '';
    return `${totals ? `${label}: total ${format(total)}, ` : `${label}: `}${extremes}${missing}`;
  });
  return `${title}, ${labels[0]} to ${labels[labels.length - 1]} (${labels.length} buckets). ${parts.join('; ')}.`;
}

/**
 * A chart of `series` ([{label, values}]) over category `labels`, appended to `parent`; a
 * null value is a bucket without one (no bar, "—" in the table), not a zero.
 * `kind` is "bars" or "lines"; `format` renders a value; `integer` keeps axis ticks whole;
 * `totals` adds a total row (counts, not rates); `slanted` tilts long category labels.
 */
export function chart(parent, {
  id, title, labels, series, kind = 'bars', format = fmt.count, integer = true, totals = true, slanted = false,
}) {
  const colours = palette();
  const summaryId = `${id}-summary`;
  const summary = describe(title, labels, series, format, totals);
  const readout = h('p', { class: 'readout', 'aria-live': 'polite' });
  const plot = h('div', {
    class: 'plot', role: 'img', tabindex: 0, 'aria-label': summary,
    'aria-describedby': `${id}-hint`, 'data-chart': id,
  });
  const show = (value) => (value === null ? '—' : format(value));
  const rows = labels.map((label, i) => [label, ...series.map(({ values }) => ({ text: show(values[i]), value: values[i] }))]);
  if (totals && series.length && labels.length > 1) {
    rows.push(['Total', ...series.map(({ values }) => {
      const sum = values.reduce((a, b) => a + b, 0);
      return { text: format(sum), value: sum };
    })]);
  }
  const figure = h('figure', { class: 'chart', id },
    h('figcaption', {}, h('h3', {}, title), h('p', { class: 'summary', id: summaryId }, summary)),
    plot,
    h('p', { class: 'visually-hidden', id: `${id}-hint` }, 'Use the arrow keys to read each bucket.'),
    readout,
    h('details', {}, h('summary', {}, 'Data table'),
      table(title, ['Bucket', ...series.map((s) => s.label)], rows, { 'data-table': id })));
  parent.append(figure);

  const n = labels.length;
  const xs = labels.map((_, i) => i);
  const many = series.length > 1;
  const options = {
    width: Math.max(plot.clientWidth, 280),
    height: HEIGHT,
    scales: {
      x: { time: false, range: () => [-0.5, Math.max(n, 1) - 0.5] },
      y: { range: (u, min, max) => [Math.min(0, min ?? 0), max > 0 ? max * 1.08 : 1] },
    },
    axes: [
      {
        stroke: colours.text, grid: { show: false }, ticks: { stroke: colours.grid },
        incrs: LABEL_STEPS, space: 56, rotate: slanted ? -30 : 0, size: slanted ? 110 : 50,
        values: (u, splits) => splits.map((v) => (Number.isInteger(v) && v >= 0 && v < n ? labels[v] : '')),
      },
      {
        stroke: colours.text, grid: { stroke: colours.grid, width: 1 }, ticks: { stroke: colours.grid },
        incrs: integer ? COUNT_STEPS : undefined, size: 64,
        values: (u, splits) => splits.map((v) => format(v)),
      },
    ],
    series: [
      { label: 'Bucket', value: (u, v) => (v === null || v === undefined ? '' : labels[v] ?? '') },
      ...series.map((s, k) => ({
        label: s.label,
        stroke: colours.series[k % colours.series.length],
        fill: kind === 'bars' ? colours.series[k % colours.series.length] : undefined,
        width: kind === 'bars' ? 0 : 2,
        paths: kind === 'bars' ? (many ? groupedBars(k, series.length) : uPlot.paths.bars({ size: [0.7, 64] })) : undefined,
        points: { show: kind === 'lines' && n <= 62 },
        value: (u, v) => (v === null || v === undefined ? '' : format(v)),
      })),
    ],
    legend: { show: many },
    cursor: { drag: { x: false, y: false }, points: { show: kind === 'lines' } },
  };
  const u = new uPlot(options, [xs, ...series.map((s) => s.values)], plot);
  // Follow the figure's width (grid columns settle as the view's other charts arrive).
  const resize = new ResizeObserver(() => {
    const width = Math.max(plot.clientWidth, 280);
    if (width !== u.width) u.setSize({ width, height: HEIGHT });
  });
  resize.observe(plot);
  plots.set(u, resize);

  let index = -1;
  plot.addEventListener('keydown', (event) => {
    const moves = { ArrowRight: 1, ArrowLeft: -1, Home: -Infinity, End: Infinity };
    if (!(event.key in moves) || !n) return;
    event.preventDefault();
    index = Math.min(n - 1, Math.max(0, index + moves[event.key]));
    u.setCursor({ left: u.valToPos(index, 'x'), top: HEIGHT / 3 });
    readout.textContent = `${labels[index]}: ${series.map((s) => `${s.label} ${show(s.values[index])}`).join(', ')}`;
  });
  plot.addEventListener('blur', () => { readout.textContent = ''; });
  return figure;
}

/** Empty `container` for a redraw, releasing the charts in it. */
export function clear(container) {
  for (const [u, resize] of plots) {
    if (container.contains(u.root)) {
      resize.disconnect();
      u.destroy();
      plots.delete(u);
    }
  }
  container.replaceChildren();
}
