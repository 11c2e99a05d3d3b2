import { topology } from '../builder.ts';
import type { Topology } from '../topology.ts';
import type { PatternOptions, PromptCheck, RoleConfig } from './role.ts';

/** Default role prompts. */
export const DISTILLATION_PROMPTS = {
  expert:
    'You are the Expert. Reason carefully about the problem and lay out the key steps for a learner.\n\n' +
    'Question: {{question}}\n\nThe learner’s previous attempt: {{feedback}}',
  learner:
    'You are the Learner. Use the expert’s guidance to solve the problem and end with the final answer.\n\n' +
    'Question: {{question}}\n\nExpert guidance: {{latent:expert}}',
} as const;

export interface DistillationConfig<PE extends string, PL extends string> extends PatternOptions {
  expert: RoleConfig<PE> & { prompt?: PE & PromptCheck<PE, 'feedback'> };
  learner: RoleConfig<PL> & { prompt?: PL & PromptCheck<PL, 'latent:expert'> };
}

/**
 * The distillation pattern: a large expert hands its latents to a smaller learner, the learner's
 * latents go back to the expert for the next round, and the (faster) learner decodes.
 * @example
 * const t = distillation({
 *   expert: { model: 'tiny-192', hiddenSize: 192 },
 *   learner: { model: 'tiny-96', hiddenSize: 96 },
 *   rounds: { max: 2 },
 * });
 */
export function distillation<const PE extends string = string, const PL extends string = string>(
  config: DistillationConfig<PE, PL>,
): Topology<'expert' | 'learner', 'learner'> {
  const { expert, learner } = config;
  const link = { outerLink: config.outerLink };
  return topology(config.name ?? 'distillation')
    .agent('expert', { ...expert, prompt: expert.prompt ?? DISTILLATION_PROMPTS.expert })
    .agent('learner', { ...learner, prompt: learner.prompt ?? DISTILLATION_PROMPTS.learner })
    .edge('expert', 'learner', link)
    .feedback('learner', 'expert', link)
    .rounds(config.rounds ?? {})
    .decode('learner', config.decode)
    .build();
}
