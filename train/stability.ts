/**
 * Theorem 4.1 (gradient stability), measured. Through the recursion, gradients pass either a
 * latent link or a text hand-off between rounds:
 * - an inner link R(h) = h + W2·σ(W1·h) at Kaiming init has ‖J‖₂ ≥ Ω(1 − √(ln(1/δ)/d)) with
 *   probability ≥ 1 − δ: the gradient neither vanishes nor blows up;
 * - a text hand-off R_text(h) = W_in·softmax(W_out·h) has ‖J‖₂ ≤ ‖W_in‖₂·‖W_out‖₂·(1 − ‖p‖²),
 *   and 1 − ‖p‖² ≤ H(p) ≤ ε on confident tokens: the gradient vanishes as O(ε).
 * The norms come from operators/jacobian.ts (exact Jacobians, power iteration in float64).
 */
import * as tf from '@tensorflow/tfjs';
import type { Agent } from '../models/types.ts';
import {
  innerLinkJacobianNorm,
  jacobianSpectralNorm,
  modelTextHandoff,
  spectralNorm,
} from '../operators/jacobian.ts';
import { createRecursiveLink, type InnerLinkVariant } from '../operators/links/recursiveLink.ts';

export interface InnerLinkStability {
  agent: string;
  variant: InnerLinkVariant;
  hiddenSize: number;
  /** ‖∂R_in/∂h‖₂ per (init seed, hidden state). */
  norms: number[];
  min: number;
  median: number;
  max: number;
  /** The theorem's lower bound 1 − √(ln(1/δ)/d) at δ = 0.05. */
  lowerBound: number;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The agent's last-layer states over a text: [n, d] rows as 1-D tensors (caller owns). */
function hiddenStates(agent: Agent, text: string, count: number): tf.Tensor1D[] {
  const d = agent.model.config.hiddenSize;
  const ids = agent.tokenizer.encode(text, { addSpecialTokens: false }).slice(0, count);
  return tf.tidy(() => {
    const { hidden } = agent.model.forward({
      inputIds: tf.tensor2d([ids], [1, ids.length], 'int32'),
    });
    return tf.unstack(hidden.reshape([ids.length, d])) as tf.Tensor1D[];
  });
}

/**
 * ‖J‖₂ of freshly initialised (Kaiming) inner links at the agent's own hidden states.
 *
 * @example innerLinkStability(planner, { variant: 'res_adapter' }).median // ≈ 4.3 for d = 96
 */
export function innerLinkStability(
  agent: Agent,
  options: { variant?: InnerLinkVariant; seeds?: number; points?: number; text?: string } = {},
): InnerLinkStability {
  const variant = options.variant ?? 'res_adapter';
  const d = agent.model.config.hiddenSize;
  const states = hiddenStates(
    agent,
    options.text ?? 'Ann: 7 7 7 7. The plan is to add the numbers first.',
    options.points ?? 4,
  );
  const norms: number[] = [];
  try {
    for (let s = 0; s < (options.seeds ?? 3); s++) {
      const link = createRecursiveLink({ kind: 'inner', variant, inDim: d, seed: 1000 + s });
      try {
        for (const h of states) norms.push(innerLinkJacobianNorm(link, h));
      } finally {
        link.dispose();
      }
    }
  } finally {
    tf.dispose(states);
  }
  return {
    agent: agent.name,
    variant,
    hiddenSize: d,
    norms,
    min: Math.min(...norms),
    median: median(norms),
    max: Math.max(...norms),
    lowerBound: 1 - Math.sqrt(Math.log(1 / 0.05) / d),
  };
}

export interface TextHandoffPoint {
  /** Length of h = scale · (unit LM-head row of the token). */
  scale: number;
  /** Entropy H(p) of the next-token distribution at h (nats). */
  entropy: number;
  /** 1 − ‖p‖². */
  collision: number;
  /** ‖∂R_text/∂h‖₂. */
  norm: number;
  /** ‖W_in‖₂·‖W_out‖₂·(1 − ‖p‖²): the theorem's bound. */
  bound: number;
}

export interface TextHandoffStability {
  agent: string;
  /** The token whose LM-head row the points lie along. */
  token: number;
  /** ‖W_in‖₂ (embedding table) and ‖W_out‖₂ (LM head). */
  embeddingNorm: number;
  headNorm: number;
  /** The agent's own (unconfident, for a random-weight model) states, for contrast. */
  natural: TextHandoffPoint[];
  /** Points made confident by scaling along the token's LM-head row. */
  confident: TextHandoffPoint[];
}

/**
 * ‖J‖₂ of the text hand-off (softmax, then embedding lookup as the expected embedding) with the
 * agent's own LM head and embedding table. Random-weight presets are never confident on their own
 * states, so confident points are made along one token's LM-head row, at growing length.
 *
 * @example textHandoffStability(planner).confident.map((p) => [p.entropy, p.norm])
 */
export function textHandoffStability(
  agent: Agent,
  options: { token?: number; scales?: number[]; text?: string } = {},
): TextHandoffStability {
  const model = agent.model;
  const d = model.config.hiddenSize;
  const token = options.token ?? 100;
  const text = modelTextHandoff(model);
  const tables = tf.tidy(() => {
    const vocab = model.config.vocabSize;
    const embed = model.embed(tf.range(0, vocab, 1, 'int32').reshape([1, vocab]) as tf.Tensor2D);
    const head = tf.transpose(model.lmHead(tf.eye(d))); // [V, d]: row v is W_out[v]
    return { embed: embed.reshape([vocab, d]) as tf.Tensor2D, head: head as tf.Tensor2D };
  });
  const matrixNorm = (m: tf.Tensor2D) =>
    spectralNorm(Float64Array.from(m.dataSync()), m.shape[0], m.shape[1]);
  const embeddingNorm = matrixNorm(tables.embed);
  const headNorm = matrixNorm(tables.head);
  const point = (h: tf.Tensor1D, scale: number): TextHandoffPoint => {
    // Softmax in float64: float32 rounds 1 − ‖p‖² to 0 long before the Jacobian is 0.
    const logits = tf.tidy(() => Array.from(model.lmHead(h.reshape([1, d])).dataSync()));
    const max = Math.max(...logits);
    const exps = logits.map((l) => Math.exp(l - max));
    const total = exps.reduce((a, b) => a + b, 0);
    const p = exps.map((e) => e / total);
    const entropy = -p.reduce(
      (s, pi, i) => (pi > 0 ? s + pi * (logits[i]! - max - Math.log(total)) : s),
      0,
    );
    // 1 − ‖p‖² = Σ_v p_v(1 − p_v); for the top token 1 − p_top is the mass of the others.
    const top = logits.indexOf(max);
    const others = p.reduce((s, pi, i) => (i === top ? s : s + pi), 0);
    const c = p.reduce((s, pi, i) => s + pi * (i === top ? others : 1 - pi), 0);
    return {
      scale,
      entropy: Math.max(entropy, 0),
      collision: c,
      norm: jacobianSpectralNorm(text.map, h),
      bound: embeddingNorm * headNorm * c,
    };
  };
  try {
    const states = hiddenStates(agent, options.text ?? 'Ann: 7 7 7 7.', 3);
    const natural = states.map((h) =>
      point(
        h,
        tf.tidy(() => h.norm().dataSync()[0]!),
      ),
    );
    tf.dispose(states);
    const confident = (options.scales ?? [50, 100, 200, 400]).map((scale) => {
      const h = tf.tidy(() => {
        const row = tables.head.slice([token, 0], [1, d]).reshape([d]);
        return tf.mul(tf.div(row, tf.norm(row)), scale) as tf.Tensor1D;
      });
      try {
        return point(h, scale);
      } finally {
        h.dispose();
      }
    });
    return { agent: agent.name, token, embeddingNorm, headNorm, natural, confident };
  } finally {
    tf.dispose([tables.embed, tables.head]);
    text.dispose();
  }
}
