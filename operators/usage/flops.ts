/**
 * The FLOP model behind the usage ledger (estimates, counted as 2 FLOPs per multiply-add).
 *
 * Per new position and per decoder layer, for a model with hidden d, H query heads and H_kv
 * key/value heads of size h, MLP width I (gated, three matrices), attending to c positions:
 *   projections  2·(d·H·h + 2·d·H_kv·h + H·h·d)      q, k, v, o
 *   MLP          2·3·d·I                              gate, up, down
 *   attention    4·H·h·c                              Q·Kᵀ and A·V
 * The vocabulary projection, 2·d·|V|, is counted only for positions whose logits are computed:
 * text tokens (prefill of the last position and every decoded token), never latent steps — the
 * m·|V|·d term of Prop. 3.1. A latent step adds the inner link instead (`linkFlops`).
 * Norms, rotary embeddings, softmax and the embedding lookup are lower order and not counted.
 */
import type { DecoderConfig } from '../../models/types.ts';
import { type LinkSpec, linkStructure } from '../links/recursiveLink.ts';

/** Linear-layer FLOPs per position for the whole decoder stack (no attention, no LM head). */
export function denseFlopsPerPosition(config: DecoderConfig): number {
  const { hiddenSize: d, numAttentionHeads: heads, numKeyValueHeads: kvHeads, headDim: h } = config;
  const projections = d * heads * h + 2 * d * kvHeads * h + heads * h * d;
  const mlp = 3 * d * config.intermediateSize;
  return 2 * (projections + mlp) * config.numHiddenLayers;
}

/** FLOPs of attending from one position to `contextLength` positions, whole stack. */
export function attentionFlops(config: DecoderConfig, contextLength: number): number {
  return 4 * config.numAttentionHeads * config.headDim * contextLength * config.numHiddenLayers;
}

/** The vocabulary projection for one position. */
export function lmHeadFlops(config: DecoderConfig): number {
  return 2 * config.hiddenSize * config.vocabSize;
}

export interface ForwardShape {
  /** Positions already in the KV cache. */
  pastLength: number;
  /** New positions computed in this call. */
  newPositions: number;
  /** Positions whose logits are computed. */
  logitPositions: number;
}

/**
 * FLOPs of one forward call over `newPositions` positions on top of a `pastLength` cache: each
 * new position i (0-based, absolute) attends to i + 1 positions.
 *
 * @example forwardFlops(config, { pastLength: 0, newPositions: 64, logitPositions: 1 })
 */
export function forwardFlops(config: DecoderConfig, shape: ForwardShape): number {
  const { pastLength: p, newPositions: n } = shape;
  // Σ_{i=p}^{p+n-1} (i + 1) = n·p + n·(n + 1)/2
  const contextSum = n * p + (n * (n + 1)) / 2;
  return (
    n * denseFlopsPerPosition(config) +
    attentionFlops(config, contextSum) +
    shape.logitPositions * lmHeadFlops(config)
  );
}

/**
 * FLOPs of applying a link to one vector: 2·(in·hidden + hidden·out) for the 2-layer MLP,
 * 2·in·out for a one-layer link, plus 2·in·out for an outer projected residual.
 */
export function linkFlops(spec: LinkSpec): number {
  const { linear, projectedResidual } = linkStructure(spec.variant);
  const mlp = linear
    ? spec.inDim * spec.outDim
    : spec.inDim * spec.hiddenDim + spec.hiddenDim * spec.outDim;
  return 2 * (mlp + (projectedResidual ? spec.inDim * spec.outDim : 0));
}

/**
 * Prop. 3.1's per-step comparison for one agent: what a text decoding step pays for the
 * vocabulary (2·d·|V|) against what a latent step pays for the inner link (≈ 4·d²).
 *
 * @example decodingVsLatentStepFlops(config, innerSpec).ratio
 */
export function decodingVsLatentStepFlops(
  config: DecoderConfig,
  innerLink: LinkSpec,
): { vocabProjection: number; innerLink: number; ratio: number } {
  const vocabProjection = lmHeadFlops(config);
  const inner = linkFlops(innerLink);
  return { vocabProjection, innerLink: inner, ratio: vocabProjection / inner };
}

/**
 * A KV-cached latent rollout of m steps after a t-position prompt: the prompt pass (no logits),
 * then m − 1 one-position passes, each fed R_in of the previous state (m − 1 inner-link calls).
 *
 * @example latentRolloutFlops(config, innerSpec, 64, 32)
 */
export function latentRolloutFlops(
  config: DecoderConfig,
  innerLink: LinkSpec,
  promptLength: number,
  steps: number,
): number {
  if (steps <= 0) return 0;
  let flops = forwardFlops(config, {
    pastLength: 0,
    newPositions: promptLength,
    logitPositions: 0,
  });
  for (let s = 1; s < steps; s++) {
    flops += forwardFlops(config, {
      pastLength: promptLength + s - 1,
      newPositions: 1,
      logitPositions: 0,
    });
  }
  return flops + (steps - 1) * linkFlops(innerLink);
}

/**
 * The same rollout done as the reference code does it, re-running the whole prefix at every
 * step (no KV cache): step s recomputes all t + s positions.
 */
export function uncachedLatentRolloutFlops(
  config: DecoderConfig,
  innerLink: LinkSpec,
  promptLength: number,
  steps: number,
): number {
  let flops = 0;
  for (let s = 0; s < steps; s++) {
    flops += forwardFlops(config, {
      pastLength: 0,
      newPositions: promptLength + s,
      logitPositions: 0,
    });
  }
  return flops + Math.max(0, steps - 1) * linkFlops(innerLink);
}

/**
 * Decoding n tokens after a t-position prompt: the prompt pass with one logit row, then n − 1
 * one-position passes with logits (the last token is never fed back).
 *
 * @example decodeFlops(config, 80, 200)
 */
export function decodeFlops(
  config: DecoderConfig,
  promptLength: number,
  generated: number,
): number {
  if (generated <= 0) return 0;
  let flops = forwardFlops(config, {
    pastLength: 0,
    newPositions: promptLength,
    logitPositions: 1,
  });
  for (let i = 1; i < generated; i++) {
    flops += forwardFlops(config, {
      pastLength: promptLength + i - 1,
      newPositions: 1,
      logitPositions: 1,
    });
  }
  return flops;
}
