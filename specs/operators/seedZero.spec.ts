/**
 * Seed 0 is a real seed: tfjs treats a seed of 0 as "no seed" and draws from Math.random, so
 * links and decoder weights made with seed 0 must still come out the same every time.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { presetConfig } from '../../models/index.ts';
import { randomDecoderWeights } from '../../models/init.ts';
import { createRecursiveLink } from '../../operators/index.ts';

const values = (tensors: readonly tf.Tensor[]) => tensors.map((t) => Array.from(t.dataSync()));

describe('seed 0', () => {
  it('gives the same RecursiveLink weights twice', () => {
    const make = () => createRecursiveLink({ kind: 'outer', inDim: 8, outDim: 12, seed: 0 });
    const a = make();
    const b = make();
    expect(values(a.variables)).toEqual(values(b.variables));
    a.dispose();
    b.dispose();
  });

  it('gives the same decoder weights twice', () => {
    const config = presetConfig('tiny-planner-96');
    const a = randomDecoderWeights(config, 0);
    const b = randomDecoderWeights(config, 0);
    for (const [name, tensor] of a) {
      expect(Array.from(tensor.dataSync()), name).toEqual(Array.from(b.get(name)!.dataSync()));
    }
    tf.dispose([...a.values(), ...b.values()]);
  });
});
