/**
 * What one step costs each agent, latent against text, at the benchmark's batch size: a latent
 * step is R_in(h) fed back through the decoder (with the KV cache); a text step is the vocabulary
 * projection, argmax, the token's embedding and the same decoder step. Paper Prop. 3.1: the
 * latent step wins by skipping the d·|V| projection, which only pays when |V| dwarfs the link's
 * ~4d² (here |V| = 2048 and d ≤ 192, and on wasm each small kernel has a fixed cost).
 */
import * as tf from '@tensorflow/tfjs';
import type { Agent } from '../models/types.ts';
import { applyLink, type RecursiveLink } from '../operators/links/recursiveLink.ts';
import { interleave, median } from './lib/index.ts';

export interface StepCost {
  agent: string;
  hiddenSize: number;
  vocabSize: number;
  latentStepMs: number;
  textStepMs: number;
  /** latent / text. */
  ratio: number;
}

const PROMPT = 32;
const STEPS = 16;

/**
 * Medians of interleaved runs of `STEPS` steps after a 32-token prompt, per step.
 * @example await stepCost('planner', agent, inner, 8) // { latentStepMs: 1.9, textStepMs: 1.4, ... }
 */
export async function stepCost(
  name: string,
  agent: Agent,
  inner: RecursiveLink,
  batch: number,
  reps = 7,
): Promise<StepCost> {
  const { model } = agent;
  const d = model.config.hiddenSize;
  const run = (kind: 'latent' | 'text' | 'prompt') => () => {
    const cache = model.newKVCache(batch);
    let mask = tf.ones([batch, PROMPT]) as tf.Tensor2D;
    let h = tf.tidy(() => {
      const ids = tf.fill([batch, PROMPT], 5, 'int32') as tf.Tensor2D;
      const { hidden } = model.forward({
        inputsEmbeds: model.embed(ids),
        attentionMask: mask,
        kvCache: cache,
      });
      return hidden.slice([0, PROMPT - 1, 0], [batch, 1, d]).reshape([batch, d]) as tf.Tensor2D;
    });
    for (let s = 0; s < (kind === 'prompt' ? 0 : STEPS); s++) {
      const grown = tf.tidy(() => tf.concat([mask, tf.ones([batch, 1])], 1) as tf.Tensor2D);
      mask.dispose();
      mask = grown;
      const next = tf.tidy(() => {
        const input =
          kind === 'latent'
            ? applyLink(inner, h)
            : (model
                .embed(model.lmHead(h).argMax(-1).reshape([batch, 1]) as tf.Tensor2D)
                .reshape([batch, d]) as tf.Tensor2D);
        const { hidden } = model.forward({
          inputsEmbeds: input.reshape([batch, 1, d]) as tf.Tensor3D,
          attentionMask: mask,
          kvCache: cache,
        });
        return hidden.reshape([batch, d]) as tf.Tensor2D;
      });
      next.dataSync(); // both sides end each step on the host (the stop check; the next token id)
      h.dispose();
      h = next;
    }
    tf.dispose([h, mask]);
    cache.dispose();
  };
  // The prompt pass alone is timed too and taken off both sides.
  const ms = await interleave(
    { latent: run('latent'), text: run('text'), prompt: run('prompt') },
    reps,
  );
  const latentStepMs = (median(ms.latent) - median(ms.prompt)) / STEPS;
  const textStepMs = (median(ms.text) - median(ms.prompt)) / STEPS;
  return {
    agent: name,
    hiddenSize: d,
    vocabSize: model.config.vocabSize,
    latentStepMs,
    textStepMs,
    ratio: latentStepMs / textStepMs,
  };
}
