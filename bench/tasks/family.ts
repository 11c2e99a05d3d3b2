/**
 * What a task family provides: its compositions (the structural choices a question makes, e.g.
 * which operators), which of them only the test split sees, a sampler of questions with their gold
 * role texts, and the knowledge texts each agent network learns.
 */
import type { SeededRandom } from '../../train/rng.ts';
import type { KnowledgeRecord, PatternName } from './format.ts';
import type { World } from './world.ts';

/** A question of a family, before it gets an id and a split. */
export interface TaskInstance {
  question: string;
  answer: string;
  roles: Partial<Record<PatternName, Record<string, string>>>;
  composition: string;
}

export interface TaskFamily {
  readonly name: string;
  /** Whether each question has a single instance (so train and test must differ by composition). */
  readonly oneInstancePerComposition: boolean;
  /** Every composition, in a fixed order. */
  compositions(world: World): string[];
  /** A question of the given composition. */
  sample(world: World, composition: string, rng: SeededRandom): TaskInstance;
  /** The facts each network must know, as recall texts. */
  knowledge(world: World): KnowledgeRecord[];
}

/** (a op b) mod 10, for op in + - *. */
export function digitOp(op: string, a: number, b: number): number {
  const value = op === '+' ? a + b : op === '-' ? a - b : a * b;
  return ((value % 10) + 10) % 10;
}

export const DIGIT_OPS = ['+', '-', '*'] as const;
