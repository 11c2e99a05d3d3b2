/**
 * Cross-agent latent transfer (paper §3.2, as the release code does it): the sender's m states
 * go through its own inner link, then the outer link into the receiver's input-embedding space,
 * R_out(R_in(H)). The receiver then splices them into its prompt at a slot (see `withLatents`
 * and prompt/splice.ts). The same operator closes the recursion loop (last agent -> first).
 */
import * as tf from '@tensorflow/tfjs';
import type { OperatorFunction } from 'rxjs';
import { OperatorError } from './errors.ts';
import { applyLink, type RecursiveLink } from './links/recursiveLink.ts';
import type { Batch, ErrorRecord, LatentMessage } from './messages.ts';
import { batchOperator, elapsedMs } from './runBatch.ts';
import { linkFlops } from './usage/flops.ts';
import type { UsageEntry } from './usage/ledger.ts';

/**
 * R_out(R_in(H)): [..., m, d_sender] -> [..., m, d_receiver], row-wise and differentiable w.r.t.
 * both links. Borrows H; the caller owns the result.
 *
 * @example const e = transferLatents(inner1, outer12, h); // [m, 96] -> [m, 192]
 */
export function transferLatents<T extends tf.Tensor>(
  innerLink: RecursiveLink,
  outerLink: RecursiveLink,
  states: T,
): T {
  if (
    innerLink.kind !== 'inner' ||
    outerLink.kind !== 'outer' ||
    outerLink.inDim !== innerLink.outDim
  ) {
    throw new OperatorError(
      'LINK_SHAPE_MISMATCH',
      `transfer needs an inner link d->d and an outer link d->d', got inner ${innerLink.inDim}->${innerLink.outDim}, outer ${outerLink.inDim}->${outerLink.outDim}`,
    );
  }
  return tf.tidy(() => applyLink(outerLink, applyLink(innerLink, states)));
}

export interface LatentTransferOptions {
  /** The receiving agent's name (recorded on the message and in the ledger). */
  to: string;
}

function transferBatch(
  innerLink: RecursiveLink,
  outerLink: RecursiveLink,
  options: LatentTransferOptions,
  messages: LatentMessage[],
): Array<LatentMessage | ErrorRecord> {
  const start = performance.now();
  for (const m of messages) {
    if (m.space !== 'hidden') {
      throw new OperatorError(
        'INVALID_ARGUMENT',
        `request ${m.requestId}: latents from ${m.from} were already transferred to ${m.to}`,
      );
    }
  }
  // One batched pass over every request's states: [Σm, d] -> [Σm, d'].
  const counts = messages.map((m) => m.states.shape[0]);
  const mapped = tf.tidy(() => {
    const all = transferLatents(
      innerLink,
      outerLink,
      tf.concat(
        messages.map((m) => m.states),
        0,
      ),
    );
    return tf.split(all, counts, 0) as tf.Tensor2D[];
  });
  const share = elapsedMs(start) / messages.length;
  const perVector = linkFlops(innerLink) + linkFlops(outerLink);
  return messages.map((m, i) => {
    const entry: UsageEntry = {
      requestId: m.requestId,
      agent: m.from,
      round: m.round,
      phase: 'transfer',
      promptTokens: 0,
      latentInputs: 0,
      generatedTokens: 0,
      latentSteps: 0,
      flops: counts[i]! * perVector,
      wallTimeMs: share,
    };
    return {
      ...m,
      to: options.to,
      space: 'embedding',
      states: mapped[i]!,
      usage: [...m.usage, entry],
    };
  });
}

/**
 * The transfer operator: each batch of the sender's `LatentMessage`s (space 'hidden') becomes a
 * batch of messages in the receiver's input-embedding space (space 'embedding', `to` set), in
 * one batched pass. Consumes the input states (disposes them); the subscriber owns the output.
 *
 * @example latents$.pipe(latentTransfer(inner1, outer12, { to: 'critic' }))
 */
export function latentTransfer(
  innerLink: RecursiveLink,
  outerLink: RecursiveLink,
  options: LatentTransferOptions,
): OperatorFunction<Batch<LatentMessage>, Batch<LatentMessage>> {
  return batchOperator(
    `transfer->${options.to}`,
    (items) => transferBatch(innerLink, outerLink, options, items),
    (m) => m.states.dispose(),
  );
}
