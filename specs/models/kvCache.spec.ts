import * as tf from '@tensorflow/tfjs';
import { expect, it } from 'vitest';
import { ModelError } from '../../models/errors.ts';
import type { DecoderKVCache } from '../../models/kvCache.ts';
import { loadCausalLM } from '../../models/load.ts';
import { describeEachBackend } from '../harness/backends.ts';
import { maxAbsDiff, modelDir } from './fixtureModels.ts';

describeEachBackend('KV cache', () => {
  it('truncate rolls back steps: a step after rollback equals full recomputation', async () => {
    const model = await loadCausalLM(modelDir('tiny-qwen3'));
    const prefix = [5, 17, 42, 99, 3];
    const cache = model.newKVCache(1) as DecoderKVCache;
    const ids = (row: number[]) => tf.tensor2d([row], undefined, 'int32');
    tf.tidy(() => void model.forward({ inputIds: ids(prefix), kvCache: cache }));
    const countWithCache = tf.memory().numTensors;
    tf.tidy(() => void model.forward({ inputIds: ids([250]), kvCache: cache })); // a step to undo
    cache.truncate(prefix.length);
    expect(cache.length).toBe(prefix.length);
    expect(tf.memory().numTensors).toBe(countWithCache);
    const stepped = tf.tidy(() =>
      model.forward({ inputIds: ids([77]), kvCache: cache }).hidden.dataSync(),
    );
    const full = tf.tidy(() => {
      const { hidden } = model.forward({ inputIds: ids([...prefix, 77]) });
      return hidden.slice([0, prefix.length, 0], [1, 1, -1]).dataSync();
    });
    expect(maxAbsDiff(stepped, full)).toBeLessThanOrEqual(1e-4);
    expect(() => cache.truncate(99)).toThrowError(RangeError);
    cache.dispose();
    const one = ids([1]);
    expect(() => model.forward({ inputIds: one, kvCache: cache })).toThrowError(ModelError);
    one.dispose();
    model.dispose();
  });

  it('rejects a mask of the wrong length and a second input', async () => {
    const model = await loadCausalLM(modelDir('tiny-llama'));
    const cache = model.newKVCache(1);
    const inputIds = tf.tensor2d([[1, 2, 3]], undefined, 'int32');
    tf.tidy(() => void model.forward({ inputIds, kvCache: cache }));
    const shortMask = tf.ones([1, 3], 'int32') as tf.Tensor2D; // needs 3 cached + 3 new
    expect(() =>
      model.forward({ inputIds, attentionMask: shortMask, kvCache: cache }),
    ).toThrowError(expect.objectContaining({ code: 'INVALID_INPUT', field: 'attentionMask' }));
    const embeds = tf.zeros([1, 3, 64]) as tf.Tensor3D;
    expect(() => model.forward({ inputIds, inputsEmbeds: embeds })).toThrowError(
      expect.objectContaining({ code: 'INVALID_INPUT' }),
    );
    const wrongWidth = tf.zeros([1, 3, 32]) as tf.Tensor3D;
    expect(() => model.forward({ inputsEmbeds: wrongWidth })).toThrowError(
      /inputsEmbeds must be \[batch, seq, 64\]/,
    );
    tf.dispose([inputIds, shortMask, embeds, wrongWidth]);
    cache.dispose();
    model.dispose();
  });
});
