/**
 * The smallest real agents for distributed-mode tests: one-layer decoders (widths 16, 8 and 24,
 * two heads) on the presets' 2k tokenizer with a one-line chat template, written to folders so
 * that worker processes load them by path from the IR, as a deployment would. With one latent
 * step, two rounds and two answer tokens, 10,000 requests take seconds of compute per agent.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { looseTopology, type TopologyIR } from '../../../dsl/index.ts';
import {
  DecoderLM,
  presetConfig,
  presetTokenizer,
  randomDecoderWeights,
  saveAgent,
} from '../../../models/index.ts';

/** Writes the tiny agents under `dir` (call after initBackend); returns their folders by width. */
export function writeTinyAgents(dir: string): Record<8 | 16 | 24, string> {
  const base = presetConfig('tiny-planner-96');
  const folders = { 8: path.join(dir, 'w8'), 16: path.join(dir, 'w16'), 24: path.join(dir, 'w24') };
  for (const [width, folder] of Object.entries(folders)) {
    const d = Number(width);
    const config = {
      ...base,
      hiddenSize: d,
      intermediateSize: 2 * d,
      numHiddenLayers: 1,
      numAttentionHeads: 2,
      numKeyValueHeads: 1,
      headDim: d / 2,
      // Wider than the presets' 0.02, so greedy text depends on the prompt and the latents.
      initializerRange: 1 / Math.sqrt(d),
    };
    const model = new DecoderLM(config, randomDecoderWeights(config, d));
    fs.mkdirSync(folder, { recursive: true });
    saveAgent({ name: `w${d}`, model, tokenizer: presetTokenizer('spbpe-2k') }, folder);
    model.dispose();
    fs.writeFileSync(path.join(folder, 'chat_template.jinja'), '{{ messages[0].content }}');
  }
  return folders;
}

/**
 * The mixture pattern on the tiny agents: two specialists (math, code) whose latents the
 * summarizer joins, and the summarizer's latents fed back to both: a fan-in and a topic cycle.
 */
export function tinyMixture(name: string, folders: Record<8 | 16 | 24, string>): TopologyIR {
  return looseTopology(name)
    .agent('math', {
      model: { path: folders[16] },
      hiddenSize: 16,
      prompt: 'math: {{question}} {{feedback}}',
      latentSteps: 1,
    })
    .agent('code', {
      model: { path: folders[8] },
      hiddenSize: 8,
      prompt: 'code: {{question}} {{feedback}}',
      latentSteps: 1,
    })
    .agent('summarizer', {
      model: { path: folders[24] },
      hiddenSize: 24,
      prompt: 'sum: {{question}} {{latent:math}} {{latent:code}}',
      latentSteps: 1,
    })
    .edge('math', 'summarizer')
    .edge('code', 'summarizer')
    .feedback('summarizer', 'math')
    .feedback('summarizer', 'code')
    .rounds({ max: 2 })
    .decode('summarizer', { maxNewTokens: 2 })
    .toIR();
}

/** Questions whose answers differ (numbers, so the token counts vary too). */
export function tinyQuestions(
  count: number,
  prefix: string,
): { requestId: string; input: string }[] {
  return Array.from({ length: count }, (_, i) => ({
    requestId: `${prefix}${i}`,
    input: `${(i * 7919) % 1000} + ${i % 37}?`,
  }));
}
