import { graphOf, stepsAcross } from './graph.ts';
import type { ModelRef, TopologyIR } from './ir.ts';

/**
 * Draws a topology as a Mermaid flowchart (what `rmas inspect` prints). Solid arrows run inside a
 * round, dotted ones carry latents into the next round; the decoder is a double-bordered box;
 * a hand-off that crosses a discrete step is labelled with it.
 * @example
 * toMermaid(toIR(sequential(config)))
 * // flowchart LR
 * //   question(["question"])
 * //   agent_planner["planner<br/>tiny-96 · d=96 · m=32"] ...
 */
export function toMermaid(ir: TopologyIR): string {
  const graph = graphOf(ir, 'latent');
  const id = (name: string): string => `agent_${name}`;
  const lines = [
    'flowchart LR',
    `  %% ${quote(ir.name)} · up to ${ir.rounds.max} round(s) · epsilon ${ir.rounds.epsilon}`,
    '  question(["question"])',
  ];
  for (const agent of graph.agents.values()) {
    const { def } = agent;
    const role = def.name === ir.decode.agent ? `${def.name} (decodes)` : def.name;
    const tools = def.tools.length > 0 ? `<br/>tools: ${def.tools.join(', ')}` : '';
    const label = `${quote(role)}<br/>${quote(modelName(def.model))} · d=${def.hiddenSize} · m=${def.latentSteps}${quote(tools)}`;
    lines.push(
      agent.capabilities.decodesText
        ? `  ${id(def.name)}[["${label}"]]`
        : `  ${id(def.name)}["${label}"]`,
    );
  }
  lines.push('  answer(["answer"])');
  for (const agent of graph.agents.values()) {
    if (agent.slots.includes('question')) lines.push(`  question --> ${id(agent.id)}`);
  }
  for (const handoff of graph.handoffs) {
    const link = handoff.def.outerLink === null ? 'identity' : handoff.def.outerLink.variant;
    const steps = stepsAcross(graph, handoff);
    const label = [
      handoff.capabilities.closesLoop ? 'feedback' : '',
      link,
      steps.length > 0 ? `✗ ${steps.join(' + ')}` : '',
    ]
      .filter((part) => part !== '')
      .join(' · ');
    const arrow = handoff.capabilities.closesLoop ? '-.->' : '-->';
    lines.push(`  ${id(handoff.source)} ${arrow}|"${quote(label)}"| ${id(handoff.target)}`);
  }
  if (graph.agents.has(ir.decode.agent)) lines.push(`  ${id(ir.decode.agent)} ==> answer`);
  return `${lines.join('\n')}\n`;
}

function modelName(model: ModelRef): string {
  return 'preset' in model ? model.preset : model.path;
}

/** Mermaid reads `"` and `#` specially inside quoted labels. */
function quote(text: string): string {
  return text.replaceAll('#', '#35;').replaceAll('"', '#quot;');
}
