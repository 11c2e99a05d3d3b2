/**
 * `rmas inspect <config>`: checks a topology without loading any model. Prints what is wrong
 * (with the path of each field), the topology as Mermaid text, writes it as an SVG (Graphviz), and
 * says whether gradients flow end to end and which links they reach.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, resolve } from 'node:path';
import type { DifferentiabilityReport } from '../../dsl/index.ts';
import { differentiability, formatPath, toMermaid } from '../../dsl/index.ts';
import { loadConfig } from '../config.ts';
import { dotToSvg, toDot } from '../graphviz.ts';
import type { Output } from '../output.ts';

export interface InspectOptions {
  /** Where to write the SVG; false: no SVG. Default `<config name>.svg` in the current folder. */
  svg: string | false | undefined;
  /** Also write the Graphviz source next to the SVG. */
  dot?: boolean;
  /** Mode of the differentiability report; default the config's, else latent. */
  mode?: 'latent' | 'text';
}

/**
 * @example await inspect('cli/examples/sequential.yaml', { svg: 'sequential.svg' }, out);
 */
export async function inspect(
  configFile: string,
  options: InspectOptions,
  out: Output,
): Promise<void> {
  const config = await loadConfig(configFile);
  const { ir } = config;
  const mode = options.mode ?? config.run.mode ?? 'latent';
  const mermaid = toMermaid(ir);
  const report = differentiability(ir, mode);

  let svgFile: string | undefined;
  if (options.svg !== false) {
    const stem = basename(configFile, extname(configFile));
    svgFile = resolve(options.svg ?? `${stem}.svg`);
    const dot = toDot(ir);
    await mkdir(dirname(svgFile), { recursive: true });
    await writeFile(svgFile, await dotToSvg(dot));
    if (options.dot) await writeFile(svgFile.replace(/\.svg$/i, '') + '.dot', dot);
  }

  if (out.json) {
    out.emit({
      file: config.file,
      valid: true,
      issues: [],
      name: ir.name,
      agents: ir.agents.map((a) => a.name),
      edges: ir.edges.length,
      rounds: ir.rounds,
      decoder: ir.decode.agent,
      mermaid,
      svg: svgFile ?? null,
      differentiability: report,
    });
    return;
  }
  out.print(
    `${configFile}: valid topology "${ir.name}": ${ir.agents.length} agents, ${ir.edges.length} edges, ` +
      `up to ${ir.rounds.max} round(s); ${ir.decode.agent} decodes the answer.\n`,
  );
  out.print('Mermaid (paste into a ```mermaid block, or https://mermaid.live):\n');
  out.print(mermaid);
  if (svgFile !== undefined) out.print(`SVG written to ${svgFile}\n`);
  out.print(formatDifferentiability(report));
}

/**
 * The differentiability report as text.
 * @example formatDifferentiability(differentiability(ir, 'latent'))
 */
export function formatDifferentiability(report: DifferentiabilityReport): string {
  const lines = [
    report.differentiable
      ? `Differentiability (${report.mode} mode): end to end — no hand-off crosses a discrete step.`
      : `Differentiability (${report.mode} mode): NOT end to end.`,
  ];
  for (const reason of report.reasons) {
    lines.push(`  ✗ ${formatPath(reason.path)}: ${reason.message}`);
  }
  const width = Math.max(0, ...report.links.map((l) => l.link.length));
  lines.push('  links and the rounds through which the loss reaches them:');
  for (const link of report.links) {
    const rounds = link.receivesGradient
      ? `rounds ${link.rounds.join(', ')}`
      : 'no gradient (frozen in effect)';
    lines.push(`    ${link.link.padEnd(width)}  ${rounds}`);
  }
  return `${lines.join('\n')}\n`;
}
