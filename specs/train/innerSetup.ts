/**
 * The inner-loop run the resume tests repeat in this process and in a fresh one (innerResumeWorker.ts):
 * everything is rebuilt from seeds, so two calls construct identical objects.
 */
import { createPresetAgent } from '../../models/presets.ts';
import type { Agent } from '../../models/types.ts';
import { createRecursiveLink, type RecursiveLink } from '../../operators/links/recursiveLink.ts';
import {
  type EncodedRoleText,
  type FrozenRoleTextPass,
  innerLoopTrainer,
  type RoleText,
} from '../../train/inner.ts';
import type { Trainer } from '../../train/trainer.ts';

export const INNER_SEED = 17;

export const ROLE_TEXTS: RoleText[] = Array.from({ length: 12 }, (_, i) => ({
  prompt: `Question ${i}: what is ${i} + ${i + 1}?`,
  target: `Add ${i} and ${i + 1}: the answer is ${2 * i + 1}.`,
}));

export interface InnerRun {
  agent: Agent;
  link: RecursiveLink;
  trainer: Trainer<EncodedRoleText, FrozenRoleTextPass>;
  dispose(): void;
}

/** A fresh agent, link and trainer, identical on every call. */
export async function innerRun(totalSteps: number): Promise<InnerRun> {
  const agent = await createPresetAgent('tiny-planner-96', { seed: INNER_SEED, random: true });
  const link = createRecursiveLink({ kind: 'inner', inDim: 96, seed: INNER_SEED + 1 });
  const trainer = innerLoopTrainer(agent, link, ROLE_TEXTS, {
    config: {
      steps: totalSteps,
      batchSize: 3,
      gradAccumulation: 2,
      seed: INNER_SEED,
      lr: 5e-3,
      warmupSteps: 2,
    },
    weights: { cos: 1, mse: 0.1 },
    progress: false,
  });
  return {
    agent,
    link,
    trainer,
    dispose() {
      trainer.dispose();
      link.dispose();
      agent.model.dispose();
    },
  };
}
