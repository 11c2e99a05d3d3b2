import * as tf from '@tensorflow/tfjs';
import { expect, it } from 'vitest';
import { loadCausalLM } from '../../models/load.ts';
import { describeEachBackend } from '../harness/backends.ts';
import { modelDir } from './fixtureModels.ts';

// Links are trained through the frozen network: the gradient of a loss on the last-layer states
// with respect to the input embeddings must exist on every backend and agree with finite
// differences (central, in float64 arithmetic over float32 forward passes).
describeEachBackend('gradient through the network to inputsEmbeds', () => {
  it('matches central finite differences', async () => {
    const model = await loadCausalLM(modelDir('tiny-qwen2'));
    const seed = 12;
    console.log('gradient test seed', seed);
    const embeds = tf.tidy(() => model.embed(tf.tensor2d([[5, 77, 300, 12]], undefined, 'int32')));
    const direction = tf.randomNormal([1, 4, 64], 0, 1, 'float32', seed) as tf.Tensor3D;
    // loss(e) = sum(hidden(e) * w) for a fixed random w over the hidden states.
    const w = tf.randomNormal([1, 4, 64], 0, 1, 'float32', seed + 1);
    const loss = (e: tf.Tensor) =>
      model
        .forward({ inputsEmbeds: e as tf.Tensor3D })
        .hidden.mul(w)
        .sum() as tf.Scalar;
    const grad = tf.grad(loss)(embeds);
    const analytic = tf.tidy(() => grad.mul(direction).sum().dataSync()[0]!);
    const eps = 1e-3;
    const at = (sign: number) =>
      tf.tidy(() => loss(embeds.add(direction.mul(sign * eps)) as tf.Tensor3D).dataSync()[0]!);
    const numeric = (at(1) - at(-1)) / (2 * eps);
    expect(Math.abs(analytic - numeric) / Math.abs(numeric)).toBeLessThan(2e-3);
    tf.dispose([embeds, direction, w, grad]);
    model.dispose();
  });
});
