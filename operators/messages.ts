/**
 * The typed messages the operators exchange, one per request, in batches.
 *
 * Streams carry `Batch<T>`: an array of messages processed together (one batched forward pass),
 * where some entries may be `ErrorRecord`s. Every operator passes error records through untouched
 * and turns a request's bad input into an error record, so the stream goes on.
 *
 * Tensor ownership along a stream: a message owns its tensors. An operator that consumes a
 * message disposes the message's tensors once it has used them; the subscriber owns the tensors
 * of the messages it receives. Pure functions (latentRollout, transferLatents, ...) only borrow.
 */
import type * as tf from '@tensorflow/tfjs';
import type { ChatMessage } from '../models/types.ts';
import { OperatorError } from './errors.ts';
import type { UsageEntry, UsageTotals } from './usage/ledger.ts';

/** One agent turn for one request. */
export interface TurnRequest {
  readonly kind: 'turn';
  readonly requestId: string;
  /** Recursion round, from 1. */
  readonly round: number;
  /** The agent's prompt; message contents may hold slot placeholders like `<<LATENT_PLANNER_SLOT>>`. */
  readonly messages: readonly ChatMessage[];
  /** Latents per placeholder, already in this agent's input-embedding space: [m, d]. Owned. */
  readonly latents?: Readonly<Record<string, tf.Tensor2D>>;
  /** Text per placeholder (the Recursive-TextMAS baseline). */
  readonly texts?: Readonly<Record<string, string>>;
  /** Usage of this request so far. */
  readonly usage: readonly UsageEntry[];
}

/** Latent thoughts of one request. */
export interface LatentMessage {
  readonly kind: 'latent';
  readonly requestId: string;
  readonly round: number;
  /** The agent that thought them. */
  readonly from: string;
  /** The receiving agent, once transferred. */
  readonly to?: string;
  /**
   * 'hidden': the sender's last-layer states H = [h_t, …, h_{t+m−1}] ([m, d_sender]).
   * 'embedding': R_out(R_in(H)), in the receiver's input-embedding space ([m, d_receiver]).
   */
  readonly space: 'hidden' | 'embedding';
  /** [m, d]. Owned. */
  readonly states: tf.Tensor2D;
  readonly usage: readonly UsageEntry[];
}

/** Text one agent decoded for one request (the text baseline's hand-off). */
export interface TextMessage {
  readonly kind: 'text';
  readonly requestId: string;
  readonly round: number;
  readonly from: string;
  readonly text: string;
  readonly ids: readonly number[];
  readonly usage: readonly UsageEntry[];
}

/** The final answer of one request, with everything it cost. */
export interface AnswerMessage {
  readonly kind: 'answer';
  readonly requestId: string;
  readonly round: number;
  readonly agent: string;
  readonly text: string;
  readonly ids: readonly number[];
  readonly usage: readonly UsageEntry[];
  readonly totals: UsageTotals;
}

/** A request that failed at some operator; it travels on in place of the message. */
export interface ErrorRecord {
  readonly kind: 'error';
  readonly requestId: string;
  readonly round: number;
  /** The agent (or operator) where it failed. */
  readonly agent: string;
  readonly code: string;
  readonly message: string;
  readonly usage: readonly UsageEntry[];
}

export type Batch<T> = ReadonlyArray<T | ErrorRecord>;

/**
 * An error record for a request, from any thrown value.
 *
 * @example errorRecord(turn, 'critic', new OperatorError('SLOT_UNFILLED', '...'))
 */
export function errorRecord(
  request: { requestId: string; round: number; usage: readonly UsageEntry[] },
  agent: string,
  error: unknown,
): ErrorRecord {
  const code =
    error instanceof OperatorError
      ? error.code
      : typeof (error as { code?: unknown })?.code === 'string'
        ? (error as { code: string }).code
        : 'INTERNAL';
  return {
    kind: 'error',
    requestId: request.requestId,
    round: request.round,
    agent,
    code,
    message: error instanceof Error ? error.message : String(error),
    usage: request.usage,
  };
}

export function isErrorRecord<T>(item: T | ErrorRecord): item is ErrorRecord {
  return (item as { kind?: string }).kind === 'error';
}

/**
 * A turn request, with defaults for what a first turn lacks.
 *
 * @example turnRequest({ requestId: 'q1', round: 1, messages: [{ role: 'user', content: q }] })
 */
export function turnRequest(
  fields: Omit<TurnRequest, 'kind' | 'usage'> & { usage?: readonly UsageEntry[] },
): TurnRequest {
  return { kind: 'turn', usage: [], ...fields };
}

/**
 * The next agent's turn for the same request, with a transferred latent message in a slot; the
 * turn takes ownership of the message's states (and of latents already in `turn`).
 *
 * @example const critic = withLatents(criticTurn, PLANNER_SLOT, transferred);
 */
export function withLatents(turn: TurnRequest, slot: string, message: LatentMessage): TurnRequest {
  if (message.space !== 'embedding') {
    throw new OperatorError(
      'INVALID_ARGUMENT',
      `withLatents: request ${message.requestId} has '${message.space}' states; transfer them first`,
    );
  }
  return {
    ...turn,
    latents: { ...turn.latents, [slot]: message.states },
    usage: mergeUsage(turn.usage, message.usage),
  };
}

/**
 * The next agent's turn with a text message in a slot (text baseline).
 *
 * @example const critic = withText(criticTurn, PLANNER_SLOT, plannerText);
 */
export function withText(turn: TurnRequest, slot: string, message: TextMessage): TurnRequest {
  return {
    ...turn,
    texts: { ...turn.texts, [slot]: message.text },
    usage: mergeUsage(turn.usage, message.usage),
  };
}

/**
 * Entries of `a`, then those of `b` not already in `a`: two messages of one request share their
 * history. Entries compare by value, so this also holds for messages that were serialised.
 */
export function mergeUsage(
  a: readonly UsageEntry[],
  b: readonly UsageEntry[],
): readonly UsageEntry[] {
  const seen = new Set(a.map((e) => JSON.stringify(e)));
  return [...a, ...b.filter((e) => !seen.has(JSON.stringify(e)))];
}

/** Disposes the tensors a turn owns. */
export function disposeTurn(turn: TurnRequest): void {
  for (const t of Object.values(turn.latents ?? {})) t.dispose();
}
