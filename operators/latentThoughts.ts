/**
 * In-distribution latent thoughts (paper §3.2): the agent reads its prompt, and its last-layer
 * state h is fed back as the next input embedding R_in(h), m times, without ever projecting to
 * the vocabulary. The m states H = [h_t, h_{t+1}, …, h_{t+m−1}] are what the official rollout
 * (`autoregressive_latent_rollout`) returns and what the transfer maps to the next agent.
 *
 * The reference code re-runs the whole prefix at every step (use_cache=False); `latentRollout`
 * keeps a KV cache, so step s costs one position instead of t + s. `latentRolloutUncached` is
 * the reference's method, kept as the check and as the differentiable path (the KV cache frees
 * superseded tensors, so gradients cannot flow through a cached rollout).
 */
import * as tf from '@tensorflow/tfjs';
import type { OperatorFunction } from 'rxjs';
import type { Agent, CausalLM } from '../models/types.ts';
import { OperatorError } from './errors.ts';
import { isStop, type LatentStop } from './latentStop.ts';
import { applyLink, type RecursiveLink } from './links/recursiveLink.ts';
import {
  type Batch,
  disposeTurn,
  type ErrorRecord,
  isErrorRecord,
  type LatentMessage,
  type TurnRequest,
} from './messages.ts';
import { padLeftEmbeds } from './prompt/splice.ts';
import { type PreparedTurn, prepareTurns } from './prompt/turnInputs.ts';
import { batchOperator, elapsedMs } from './runBatch.ts';
import { latentRolloutFlops } from './usage/flops.ts';
import type { UsageEntry } from './usage/ledger.ts';

export interface RolloutInput {
  /** [batch, t, d] prompt embeddings (left-padded). */
  inputsEmbeds: tf.Tensor3D;
  /** [batch, t], 1 real / 0 padding. Omitted: all real. */
  attentionMask?: tf.Tensor2D;
}

function checkRollout(
  model: CausalLM,
  innerLink: RecursiveLink,
  input: RolloutInput,
  steps: number,
) {
  const d = model.config.hiddenSize;
  if (innerLink.kind !== 'inner' || innerLink.inDim !== d) {
    throw new OperatorError(
      'LINK_SHAPE_MISMATCH',
      `latent rollout needs an inner link of dim ${d}, got ${innerLink.kind} ${innerLink.inDim}->${innerLink.outDim}`,
    );
  }
  if (!Number.isInteger(steps) || steps < 0) {
    throw new OperatorError(
      'INVALID_ARGUMENT',
      `latent steps must be an integer >= 0, got ${steps}`,
    );
  }
  const [batch, t] = input.inputsEmbeds.shape;
  if (t === 0)
    throw new OperatorError('INVALID_ARGUMENT', 'latent rollout needs a non-empty prompt');
  return { batch, t, d };
}

function maskRows(input: RolloutInput, batch: number, t: number): number[][] {
  if (input.attentionMask === undefined)
    return Array.from({ length: batch }, () => new Array(t).fill(1));
  return input.attentionMask.arraySync().map((row) => row.map((v) => (v > 0 ? 1 : 0)));
}

/**
 * m latent thoughts per row, with a KV cache, batched over requests. Returns H [batch, m, d]
 * (caller owns); the inputs are borrowed. Inference only (see the file comment). With `stop`,
 * the rollout ends early once every row has reached a stop thought (latentStop.ts), so H may
 * hold fewer than m states; `thoughtLengths` says how many each row hands on.
 *
 * @example
 * const h = latentRollout(agent.model, inner, { inputsEmbeds, attentionMask }, 32); // [b, 32, d]
 */
export function latentRollout(
  model: CausalLM,
  innerLink: RecursiveLink,
  input: RolloutInput,
  steps: number,
  stop?: LatentStop,
): tf.Tensor3D {
  const { batch, t, d } = checkRollout(model, innerLink, input, steps);
  if (steps === 0) return tf.zeros([batch, 0, d]);
  const rows = maskRows(input, batch, t);
  const stopped = new Array<boolean>(batch).fill(false);
  const cache = model.newKVCache(batch);
  const states: tf.Tensor2D[] = [];
  let mask = tf.tensor2d(rows, [batch, t]);
  try {
    let h = tf.tidy(() => {
      const { hidden } = model.forward({
        inputsEmbeds: input.inputsEmbeds,
        attentionMask: mask,
        kvCache: cache,
      });
      return hidden.slice([0, t - 1, 0], [batch, 1, d]).reshape([batch, d]) as tf.Tensor2D; // h_t
    });
    states.push(h);
    for (let s = 1; s < steps; s++) {
      const grown = tf.tidy(() => tf.concat([mask, tf.ones([batch, 1])], 1) as tf.Tensor2D);
      mask.dispose();
      mask = grown;
      const next = tf.tidy(() => applyLink(innerLink, h)); // R_in(h): [batch, d]
      if (stop !== undefined) {
        isStop(next, stop).forEach((atStop, row) => {
          stopped[row] ||= atStop;
        });
        if (stopped.every(Boolean)) {
          next.dispose();
          break;
        }
      }
      h = tf.tidy(() => {
        const { hidden } = model.forward({
          inputsEmbeds: next.reshape([batch, 1, d]) as tf.Tensor3D,
          attentionMask: mask,
          kvCache: cache,
        });
        return hidden.reshape([batch, d]) as tf.Tensor2D;
      });
      next.dispose();
      states.push(h);
    }
    return tf.stack(states, 1) as tf.Tensor3D;
  } finally {
    mask.dispose();
    tf.dispose(states);
    cache.dispose();
  }
}

/**
 * The reference code's rollout: every step re-runs the whole prefix (prompt and the latent
 * inputs so far) with no cache. Same result as `latentRollout`, O(m·(t + m)) positions instead of
 * O(t + m); differentiable w.r.t. the inner link (call it inside tf.grad / variableGrads).
 *
 * @example const h = latentRolloutUncached(model, inner, { inputsEmbeds }, 8);
 */
export function latentRolloutUncached(
  model: CausalLM,
  innerLink: RecursiveLink,
  input: RolloutInput,
  steps: number,
): tf.Tensor3D {
  const { batch, t, d } = checkRollout(model, innerLink, input, steps);
  if (steps === 0) return tf.zeros([batch, 0, d]);
  const rows = maskRows(input, batch, t);
  return tf.tidy(() => {
    let embeds = input.inputsEmbeds;
    const states: tf.Tensor2D[] = [];
    for (let s = 0; s < steps; s++) {
      if (s > 0) {
        const next = applyLink(innerLink, states[s - 1]!).reshape([batch, 1, d]);
        embeds = tf.concat([embeds, next], 1) as tf.Tensor3D;
      }
      const length = t + s;
      const mask = tf.tensor2d(
        rows.map((r) => [...r, ...new Array(s).fill(1)]),
        [batch, length],
      );
      const { hidden } = model.forward({ inputsEmbeds: embeds, attentionMask: mask });
      states.push(
        hidden.slice([0, length - 1, 0], [batch, 1, d]).reshape([batch, d]) as tf.Tensor2D,
      );
    }
    return tf.stack(states, 1) as tf.Tensor3D;
  });
}

export interface LatentThoughtsOptions {
  /** m, the number of latent thoughts (the release's default is 32). */
  steps: number;
  /** Use the reference's re-run-the-prefix rollout instead of the KV cache (for comparisons). */
  uncached?: boolean;
}

function rolloutBatch(
  agent: Agent,
  innerLink: RecursiveLink,
  options: LatentThoughtsOptions,
  requests: TurnRequest[],
): Array<LatentMessage | ErrorRecord> {
  const start = performance.now();
  const prepared = prepareTurns(agent, requests);
  const ok = prepared.filter((p): p is PreparedTurn => !isErrorRecord(p));
  try {
    if (ok.length === 0) return prepared as ErrorRecord[];
    const padded = padLeftEmbeds(ok.map((p) => p.embeds));
    const rollout = options.uncached ? latentRolloutUncached : latentRollout;
    let states: tf.Tensor2D[];
    try {
      const h = rollout(agent.model, innerLink, padded, options.steps);
      states = tf.unstack(h) as tf.Tensor2D[]; // per request [m, d]
      h.dispose();
    } finally {
      padded.inputsEmbeds.dispose();
      padded.attentionMask.dispose();
    }
    const share = elapsedMs(start) / ok.length;
    let next = 0;
    return prepared.map((p) => {
      if (isErrorRecord(p)) return p;
      const entry: UsageEntry = {
        requestId: p.request.requestId,
        agent: agent.name,
        round: p.request.round,
        phase: 'latent',
        promptTokens: p.textTokens,
        latentInputs: p.latentInputs,
        generatedTokens: 0,
        latentSteps: options.steps,
        flops: latentRolloutFlops(agent.model.config, innerLink, p.embeds.shape[0], options.steps),
        wallTimeMs: share,
      };
      return {
        kind: 'latent',
        requestId: p.request.requestId,
        round: p.request.round,
        from: agent.name,
        space: 'hidden',
        states: states[next++]!,
        usage: [...p.request.usage, entry],
      } satisfies LatentMessage;
    });
  } finally {
    for (const p of ok) p.embeds.dispose();
  }
}

/**
 * The latent-thoughts operator: each batch of turn requests (prompts with their slots filled)
 * becomes a batch of `LatentMessage`s in the agent's hidden space ([m, d]), in one batched,
 * KV-cached rollout. Emits one batch per input batch; completes when the source completes.
 * Consumes the requests (disposes their latents); the subscriber owns the emitted states.
 *
 * @example
 * turns$.pipe(latentThoughts(planner, plannerInner, { steps: 32 }), latentTransfer(...))
 */
export function latentThoughts(
  agent: Agent,
  innerLink: RecursiveLink,
  options: LatentThoughtsOptions,
): OperatorFunction<Batch<TurnRequest>, Batch<LatentMessage>> {
  return batchOperator(
    agent.name,
    (items) => rolloutBatch(agent, innerLink, options, items),
    disposeTurn,
  );
}
