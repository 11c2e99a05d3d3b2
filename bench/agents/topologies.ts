/**
 * The benchmark's two systems over the three preset networks. The planner's network (96 wide,
 * spbpe tokenizer) also plays the `left` specialist, the critic's (128, bytebpe) the `right`
 * specialist, the solver's (192, bytebpe) the summarizer: one network per seat, trained on the
 * role texts of both patterns. Prompts are short on purpose (tiny models, short contexts).
 */

import type { TopologyIR } from '../../dsl/ir.ts';
import { mixture } from '../../dsl/patterns/mixture.ts';
import { sequential } from '../../dsl/patterns/sequential.ts';

/** The preset network behind each seat. */
export const NETWORKS = {
  planner: { preset: 'tiny-planner-96', hiddenSize: 96 },
  critic: { preset: 'tiny-critic-128', hiddenSize: 128 },
  solver: { preset: 'tiny-solver-192', hiddenSize: 192 },
} as const;
export type NetworkName = keyof typeof NETWORKS;

export const SEQUENTIAL_BENCH_PROMPTS = {
  planner: 'plan {{question}} feedback {{feedback}}',
  critic: 'check {{question}} plan {{latent:planner}}',
  solver: 'solve {{question}} refined {{latent:critic}}',
} as const;

export const MIXTURE_BENCH_PROMPTS = {
  left: 'left {{question}} feedback {{feedback}}',
  right: 'right {{question}} feedback {{feedback}}',
  summarizer: 'sum {{question}} left {{latent:left}} right {{latent:right}}',
} as const;

/** Which network plays each role of each pattern. */
export const ROLE_NETWORK: Record<string, NetworkName> = {
  planner: 'planner',
  critic: 'critic',
  solver: 'solver',
  left: 'planner',
  right: 'critic',
  summarizer: 'solver',
};

/**
 * Latent steps m per role. A tiny agent thinks one token per step, so the steps that hand
 * something on cover its role text (planner texts are at most 19 tokens, critic texts 26); the
 * solver's and summarizer's latents only go back as feedback, which the role texts never need.
 */
export const BENCH_LATENT_STEPS: Readonly<Record<string, number>> = {
  planner: 20,
  critic: 24,
  solver: 4,
  left: 20,
  right: 24,
  summarizer: 4,
};
/** The longest answer or hand-off text, in tokens. */
export const BENCH_MAX_NEW_TOKENS = 32;

/**
 * Thoughts end where the agent would have stopped writing (operators/latentStop.ts): a tiny
 * agent's rollout past its end-of-text token is noise the next agent would read as words.
 */
export const BENCH_LATENT_STOP = { minCosine: 0.6 } as const;

/** Links start from their closed-form ridge fits (before the inner and outer loops train them). */
const RIDGE = { variant: 'official', init: 'ridge' } as const;

const agent = (role: string, prompt: string, latentSteps?: number) => ({
  model: NETWORKS[ROLE_NETWORK[role]!].preset,
  hiddenSize: NETWORKS[ROLE_NETWORK[role]!].hiddenSize,
  prompt,
  innerLink: RIDGE,
  latentSteps: latentSteps ?? BENCH_LATENT_STEPS[role]!,
  latentStop: BENCH_LATENT_STOP,
});

/**
 * The sequential system (planner -> critic -> solver, solver -> planner feedback), greedy decoding.
 *
 * @example const ir = sequentialBenchIR({ rounds: 3 });
 */
export function sequentialBenchIR(
  /** `latentSteps`: the same m for every agent (default BENCH_LATENT_STEPS per role). */
  options: { rounds?: number; latentSteps?: number } = {},
): TopologyIR {
  return sequential({
    name: 'bench-sequential',
    planner: agent('planner', SEQUENTIAL_BENCH_PROMPTS.planner, options.latentSteps),
    critic: agent('critic', SEQUENTIAL_BENCH_PROMPTS.critic, options.latentSteps),
    solver: agent('solver', SEQUENTIAL_BENCH_PROMPTS.solver, options.latentSteps),
    rounds: { max: options.rounds ?? 3 },
    decode: { maxNewTokens: BENCH_MAX_NEW_TOKENS, temperature: 0, topP: 1 },
    outerLink: RIDGE,
  }).ir;
}

/**
 * The mixture system (left and right specialists -> summarizer, summarizer -> each specialist).
 *
 * @example const ir = mixtureBenchIR({ rounds: 1 });
 */
export function mixtureBenchIR(
  /** `latentSteps`: the same m for every agent (default BENCH_LATENT_STEPS per role). */
  options: { rounds?: number; latentSteps?: number } = {},
): TopologyIR {
  return mixture({
    name: 'bench-mixture',
    specialists: {
      left: agent('left', MIXTURE_BENCH_PROMPTS.left, options.latentSteps),
      right: agent('right', MIXTURE_BENCH_PROMPTS.right, options.latentSteps),
    },
    summarizer: agent('summarizer', MIXTURE_BENCH_PROMPTS.summarizer, options.latentSteps),
    rounds: { max: options.rounds ?? 3 },
    decode: { maxNewTokens: BENCH_MAX_NEW_TOKENS, temperature: 0, topP: 1 },
    outerLink: RIDGE,
  }).ir;
}
