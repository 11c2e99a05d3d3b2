/**
 * Charts as SVG, rendered server-side by vega + vega-lite (no browser, no canvas): loss curves of
 * training runs, and the line/bar charts benchmarks draw (bench/lib/chart.ts re-exports these).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as vega from 'vega';
import type { TopLevelSpec } from 'vega-lite';
import * as vl from 'vega-lite';

/**
 * Renders a vega-lite spec to an SVG string.
 *
 * @example
 * const svg = await renderVegaLiteSvg({ data: { values }, mark: 'line', encoding: { ... } });
 */
export async function renderVegaLiteSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** One point of a line chart; `series` names the line it belongs to. */
export interface LinePoint {
  x: number;
  y: number;
  series: string;
}

export interface LineChartOptions {
  title?: string;
  xTitle?: string;
  yTitle?: string;
  /** Logarithmic y axis (e.g. losses spanning decades). */
  logY?: boolean;
  width?: number;
  height?: number;
}

/**
 * Lines (one per `series`) as SVG.
 *
 * @example
 * const svg = await lineChartSvg([{ x: 0, y: 2.3, series: 'links' }, { x: 1, y: 1.9, series: 'links' }], { yTitle: 'loss' });
 */
export function lineChartSvg(points: LinePoint[], options: LineChartOptions = {}): Promise<string> {
  return renderVegaLiteSvg({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(options.title !== undefined ? { title: options.title } : {}),
    width: options.width ?? 480,
    height: options.height ?? 240,
    data: { values: points },
    mark: { type: 'line', interpolate: 'linear' },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: options.xTitle ?? 'x' },
      y: {
        field: 'y',
        type: 'quantitative',
        title: options.yTitle ?? 'y',
        scale: options.logY ? { type: 'log' } : { zero: false },
      },
      color: { field: 'series', type: 'nominal', title: null },
    },
  });
}

/** One bar; bars sharing a `group` are drawn side by side. */
export interface Bar {
  label: string;
  value: number;
  group?: string;
}

/**
 * Bars as SVG (grouped when the bars carry a `group`).
 *
 * @example
 * const svg = await barChartSvg([{ label: 'links', value: 12 }, { label: 'LoRA', value: 30 }], { yTitle: 'ms / step' });
 */
export function barChartSvg(
  bars: Bar[],
  options: Omit<LineChartOptions, 'logY' | 'xTitle'> & { logY?: boolean } = {},
): Promise<string> {
  const grouped = bars.some((b) => b.group !== undefined);
  return renderVegaLiteSvg({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(options.title !== undefined ? { title: options.title } : {}),
    width: options.width ?? 360,
    height: options.height ?? 240,
    data: { values: bars.map((b) => ({ ...b, group: b.group ?? '' })) },
    mark: 'bar',
    encoding: {
      x: { field: grouped ? 'group' : 'label', type: 'nominal', title: null, sort: null },
      ...(grouped ? { xOffset: { field: 'label', type: 'nominal', sort: null } } : {}),
      y: {
        field: 'value',
        type: 'quantitative',
        title: options.yTitle ?? 'value',
        ...(options.logY ? { scale: { type: 'log' } } : {}),
      },
      color: { field: 'label', type: 'nominal', title: null, sort: null },
    },
  });
}

/**
 * Loss curves (one line per run) written to an SVG file; creates the folder.
 *
 * @example
 * await saveLossCurveSvg('runs/outer/loss.svg', { outer: trainer.history });
 */
export async function saveLossCurveSvg(
  file: string,
  curves: Record<string, readonly number[]>,
  options: LineChartOptions = {},
): Promise<void> {
  const points: LinePoint[] = [];
  for (const [series, losses] of Object.entries(curves)) {
    losses.forEach((y, step) => {
      if (Number.isFinite(y)) points.push({ x: step + 1, y, series });
    });
  }
  const svg = await lineChartSvg(points, { xTitle: 'step', yTitle: 'loss', ...options });
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, svg);
}
