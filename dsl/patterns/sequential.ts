import { topology } from '../builder.ts';
import type { Topology } from '../topology.ts';
import type { PatternOptions, PromptCheck, RoleConfig } from './role.ts';

/** Default role prompts (after the release's `prompts.py`, reworded). */
export const SEQUENTIAL_PROMPTS = {
  planner:
    'You are the Planner. Break the problem into a clear, step-by-step plan; do not solve it.\n\n' +
    'Question: {{question}}\n\nFeedback from the previous solver round: {{feedback}}',
  critic:
    'You are the Critic. Check the initial plan for mistakes and gaps, and give a refined plan.\n\n' +
    'Question: {{question}}\n\nInitial plan: {{latent:planner}}',
  solver:
    'You are the Solver. Follow the refined plan, solve the problem and end with the final answer.\n\n' +
    'Question: {{question}}\n\nRefined plan: {{latent:critic}}',
} as const;

export interface SequentialConfig<PP extends string, PC extends string, PS extends string>
  extends PatternOptions {
  planner: RoleConfig<PP> & { prompt?: PP & PromptCheck<PP, 'feedback'> };
  critic: RoleConfig<PC> & { prompt?: PC & PromptCheck<PC, 'latent:planner'> };
  solver: RoleConfig<PS> & { prompt?: PS & PromptCheck<PS, 'latent:critic'> };
}

/**
 * The sequential pattern (chain of agents): planner -> critic -> solver within a round, and the
 * solver's latents fed back to the planner for the next round. The solver decodes.
 * @example
 * const t = sequential({
 *   planner: { model: 'tiny-96', hiddenSize: 96 },
 *   critic: { model: 'tiny-128', hiddenSize: 128 },
 *   solver: { model: 'tiny-192', hiddenSize: 192 },
 *   rounds: { max: 3, latentSteps: 16 },
 * });
 */
export function sequential<
  const PP extends string = string,
  const PC extends string = string,
  const PS extends string = string,
>(config: SequentialConfig<PP, PC, PS>): Topology<'planner' | 'critic' | 'solver', 'solver'> {
  const { planner, critic, solver } = config;
  const link = { outerLink: config.outerLink };
  return topology(config.name ?? 'sequential')
    .agent('planner', { ...planner, prompt: planner.prompt ?? SEQUENTIAL_PROMPTS.planner })
    .agent('critic', { ...critic, prompt: critic.prompt ?? SEQUENTIAL_PROMPTS.critic })
    .agent('solver', { ...solver, prompt: solver.prompt ?? SEQUENTIAL_PROMPTS.solver })
    .edge('planner', 'critic', link)
    .edge('critic', 'solver', link)
    .feedback('solver', 'planner', link)
    .rounds(config.rounds ?? {})
    .decode('solver', config.decode)
    .build();
}
