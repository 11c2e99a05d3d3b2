/**
 * A topology drawn with Graphviz: DOT text from the IR, rendered to SVG by @viz-js/viz (Graphviz
 * compiled to WebAssembly, no system install). The same picture as `toMermaid`: solid arrows run
 * inside a round, dashed ones carry latents into the next round, the decoder has a double border.
 */
import type { ModelRef, TopologyIR } from '../dsl/ir.ts';

/**
 * The DOT source of a topology.
 * @example toDot(ir) // 'digraph "sequential" {\n  rankdir=LR; ...'
 */
export function toDot(ir: TopologyIR): string {
  const id = (name: string) => dotString(`agent_${name}`);
  const lines = [
    `digraph ${dotString(ir.name)} {`,
    '  rankdir=LR;',
    '  node [fontname="Helvetica", fontsize=11];',
    '  edge [fontname="Helvetica", fontsize=9];',
    `  label=${dotString(`${ir.name} · up to ${ir.rounds.max} round(s) · epsilon ${ir.rounds.epsilon}`)};`,
    '  labelloc=t;',
    '  question [shape=oval, label="question"];',
    '  answer [shape=oval, label="answer"];',
  ];
  for (const agent of ir.agents) {
    const decodes = agent.name === ir.decode.agent;
    const tools = agent.tools.length > 0 ? `\ntools: ${agent.tools.join(', ')}` : '';
    const label =
      `${agent.name}${decodes ? ' (decodes)' : ''}\n` +
      `${modelName(agent.model)} · d=${agent.hiddenSize} · m=${agent.latentSteps}${tools}`;
    lines.push(
      `  ${id(agent.name)} [shape=box, style="rounded${decodes ? ',bold' : ''}", peripheries=${decodes ? 2 : 1}, label=${dotString(label)}];`,
    );
    if (/\{\{question\}\}/.test(agent.prompt)) lines.push(`  question -> ${id(agent.name)};`);
  }
  for (const edge of ir.edges) {
    const parts = [
      edge.kind === 'feedback' ? 'feedback' : '',
      edge.outerLink === null ? 'identity' : edge.outerLink.variant,
      edge.transport === 'text' ? 'text (discrete)' : '',
    ].filter((part) => part !== '');
    const style = edge.kind === 'feedback' ? ', style=dashed, constraint=false' : '';
    lines.push(
      `  ${id(edge.from)} -> ${id(edge.to)} [label=${dotString(parts.join(' · '))}${style}];`,
    );
  }
  if (ir.agents.some((agent) => agent.name === ir.decode.agent)) {
    lines.push(`  ${id(ir.decode.agent)} -> answer [penwidth=2];`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

/**
 * Renders DOT to an SVG document.
 * @example const svg = await dotToSvg(toDot(ir)); // '<?xml ...><svg ...'
 */
export async function dotToSvg(dot: string): Promise<string> {
  const { instance } = await import('@viz-js/viz');
  const viz = await instance();
  return viz.renderString(dot, { format: 'svg' });
}

function modelName(model: ModelRef): string {
  return 'preset' in model ? model.preset : model.path;
}

/** A DOT double-quoted string (a newline becomes a centred line break). */
function dotString(text: string): string {
  const escaped = text.replaceAll('\\', '\\\\').replaceAll('"', '\\"');
  return `"${escaped.replaceAll('\n', '\\n')}"`;
}
