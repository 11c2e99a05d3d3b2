/**
 * Real tiny agents for the runtime's end-to-end tests: the models' presets (three architectures,
 * widths 96 / 128 / 192, two tokenizers), with a wider random init than the presets' 0.02 so that
 * greedy text depends on the prompt and the latents (near-uniform logits would make every answer
 * the same token, and "compiled equals interpreted" trivially true). Each preset is built once per
 * test file and shared, like a registry would.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import {
  DecoderLM,
  PRESETS,
  presetConfig,
  presetTokenizer,
  randomDecoderWeights as randomWeights,
} from '../../models/index.ts';
import type { Agent } from '../../models/types.ts';
import { initBackend } from '../../runtime/backend/index.ts';

export const TINY = {
  96: 'tiny-planner-96',
  128: 'tiny-critic-128',
  192: 'tiny-solver-192',
} as const;

export type TinyWidth = keyof typeof TINY;

const built = new Map<string, Agent>();

/** The tiny agent of a preset (built once, seeded). */
export function tinyAgent(preset: string): Agent {
  let agent = built.get(preset);
  if (agent === undefined) {
    const base = presetConfig(preset);
    const config = { ...base, initializerRange: 1 / Math.sqrt(base.hiddenSize) };
    const definition = PRESETS.find((p) => p.name === preset)!;
    const seed = 1 + PRESETS.indexOf(definition);
    agent = {
      name: preset,
      model: new DecoderLM(config, randomWeights(config, seed)),
      tokenizer: presetTokenizer(definition.tokenizer),
    };
    built.set(preset, agent);
  }
  return agent;
}

/** The agents of an IR whose models are presets, by IR name. */
export function tinyAgentsFor(ir: {
  agents: { name: string; model: { preset: string } | { path: string } }[];
}): Record<string, Agent> {
  return Object.fromEntries(
    ir.agents.map((a) => {
      if (!('preset' in a.model)) throw new Error(`agent ${a.name}: tests use presets only`);
      return [a.name, tinyAgent(a.model.preset)];
    }),
  );
}

/** Frees every tiny agent built so far. */
export function disposeTinyAgents(): void {
  for (const agent of built.values()) agent.model.dispose();
  built.clear();
}

/**
 * Runs the file on wasm with the tiny agents built up front (freed after the file), and checks
 * that every test leaves `tf.memory().numTensors` where it found it.
 */
export function useTinyAgents(): void {
  let baseline = 0;
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', strict: true, log: false });
    for (const preset of Object.values(TINY)) tinyAgent(preset);
  });
  afterAll(() => disposeTinyAgents());
  beforeEach(() => {
    baseline = tf.memory().numTensors;
  });
  afterEach(() => {
    expect(tf.memory().numTensors, 'tensors leaked by this test').toBe(baseline);
  });
}
