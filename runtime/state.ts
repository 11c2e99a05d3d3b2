/**
 * What a request carries between stages: its round, the latent thoughts (or texts) of the agents
 * that have run in this round, and what the feedback sources produced in the previous round.
 * States are immutable; a stage returns a new one. Tensors are [m, d] per agent, in the agent's
 * own hidden space (transfers happen at the receiving agent).
 */
import type * as tf from '@tensorflow/tfjs';
import type { UsageEntry } from '../operators/usage/ledger.ts';
import type { Request } from './messages.ts';

export interface RequestState {
  readonly request: Request;
  /** 1-based. */
  readonly round: number;
  /** Latent mode: this round's thoughts H per agent that has run, [m, d_agent]. */
  readonly thoughts: Readonly<Record<string, tf.Tensor2D>>;
  /** Latent mode: the previous round's thoughts of the feedback sources (what `{{feedback}}` reads). */
  readonly fedBack: Readonly<Record<string, tf.Tensor2D>>;
  /** Text mode: this round's texts per agent that has run. */
  readonly texts: Readonly<Record<string, string>>;
  /** Text mode: the previous round's texts of the feedback sources. */
  readonly fedBackTexts: Readonly<Record<string, string>>;
  /** The decoder's text, once it has decoded. */
  readonly answer: string;
  readonly usage: readonly UsageEntry[];
}

/**
 * The state of a request entering round 1.
 * @example initialState({ requestId: 'q1', input: 'What is 2 + 2?' })
 */
export function initialState(request: Request): RequestState {
  return {
    request,
    round: 1,
    thoughts: {},
    fedBack: {},
    texts: {},
    fedBackTexts: {},
    answer: '',
    usage: [],
  };
}

/** Every tensor a state holds. */
export function stateTensors(state: RequestState): tf.Tensor[] {
  return [...Object.values(state.thoughts), ...Object.values(state.fedBack)];
}
