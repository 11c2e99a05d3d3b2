/**
 * Line and bar charts as SVG for benchmark results (vega + vega-lite, rendered server-side). The
 * renderer lives in train/plots.ts, which training runs use for their loss curves; this is the
 * benchmarks' door to it.
 *
 * @example
 * import { barChartSvg, lineChartSvg } from './lib/chart.ts';
 * writeFileSync('bench/results/x.svg', await barChartSvg([{ label: 'links', value: 12 }], { yTitle: 'ms' }));
 */
export {
  type Bar,
  barChartSvg,
  type LineChartOptions,
  type LinePoint,
  lineChartSvg,
  renderVegaLiteSvg,
} from '../../train/plots.ts';
