/**
 * The contract between a plan and whatever runs it (the stream engine, the training unroll):
 * stages are pure, batched functions over per-request states. A stage returns new states and never
 * disposes what it was given; whoever runs it releases the tensors an old state held that the new
 * one no longer does (see `Plan.tensors`). Stub plans (plain objects with tiny functions, no
 * tensors) drive the stream-logic tests; `buildPlan` makes the real one.
 */
import type * as tf from '@tensorflow/tfjs';
import type { Mode } from '../dsl/graph.ts';
import type { RoundsIR } from '../dsl/ir.ts';
import type { UsageEntry } from '../operators/usage/ledger.ts';
import type { Request } from './messages.ts';

export interface StageRunOptions {
  /**
   * Keep every op on the gradient tape (the re-run-the-prefix rollout, no KV cache): what
   * `unrollRounds` asks for under tf.variableGrads. Default false (KV-cached inference).
   */
  differentiable?: boolean;
}

/** One agent's step for a batch of requests. */
export interface Stage<S> {
  /** Batching key: requests waiting for the same stage id run together, whatever their round. */
  readonly id: string;
  readonly agent: string;
  /** `latent`: roll out latent thoughts; `text`: decode a hand-off text; `decode`: answer. */
  readonly kind: 'latent' | 'text' | 'decode';
  /**
   * One new state per input state, in order. Throws (or rejects) to fail the batch, having freed
   * what it created. Async only when it must wait (tool calls); other stages run meanwhile.
   */
  run(batch: readonly S[], options?: StageRunOptions): S[] | Promise<S[]>;
}

/** A topology resolved into stages, ready to run rounds over batches of requests. */
export interface Plan<S> {
  readonly name: string;
  readonly mode: Mode;
  readonly rounds: RoundsIR;
  /** A round that is not the last: every agent, in execution order. */
  readonly roundStages: readonly Stage<S>[];
  /** The last round: the agents the decoder depends on within the round, then the decoder decoding. */
  readonly finalStages: readonly Stage<S>[];
  /**
   * The decoder decoding from the round that has just fully run: how a request that stops early
   * (convergence or the user's predicate) is answered.
   */
  readonly earlyStopStage: Stage<S>;
  /** The state of a request entering round 1. Throws on a request it cannot run. */
  start(request: Request): S;
  /**
   * Relative change of the fed-back latents between the round just run and the one before;
   * undefined after round 1.
   */
  change(state: S): number | undefined;
  /** From the end of a round to the start of the next (feedback carried over, the rest dropped). */
  advance(state: S): S;
  /** The decoded answer text (after the decode stage). */
  text(state: S): string;
  usage(state: S): readonly UsageEntry[];
  /** Every tensor a state holds (for release accounting). */
  tensors(state: S): readonly tf.Tensor[];
}

/**
 * The stages of a request at a point of its life.
 * @example stagesFor(plan, false, true) // [plan.earlyStopStage]
 */
export function stagesFor<S>(
  plan: Plan<S>,
  final: boolean,
  stopping: boolean,
): readonly Stage<S>[] {
  if (stopping) return [plan.earlyStopStage];
  return final ? plan.finalStages : plan.roundStages;
}
