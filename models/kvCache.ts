/**
 * The decoder's key/value cache: per layer, keys stored pre-transposed [batch, kvHeads, headDim, past]
 * (so attention scores are a plain matMul, fast on wasm) and values [batch, kvHeads, past, headDim].
 * It also remembers the attention mask of the cached positions, so a caller may omit the mask on
 * later steps. It grows by one segment per forward call and owns its tensors.
 */
import * as tf from '@tensorflow/tfjs';
import type { KVCache } from './types.ts';

export class DecoderKVCache implements KVCache {
  /** Per layer: [batch, kvHeads, headDim, length], or null before the first call. */
  readonly keys: (tf.Tensor4D | null)[];
  /** Per layer: [batch, kvHeads, length, headDim]. */
  readonly values: (tf.Tensor4D | null)[];
  /** [batch][length]: 1 for real cached positions, 0 for padding. */
  mask: number[][];
  private disposed = false;

  constructor(
    readonly batchSize: number,
    numLayers: number,
  ) {
    this.keys = new Array(numLayers).fill(null);
    this.values = new Array(numLayers).fill(null);
    this.mask = Array.from({ length: batchSize }, () => []);
  }

  get length(): number {
    return this.mask[0]?.length ?? 0;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /**
   * Appends one layer's new keys and values and returns the full ones. The returned tensors
   * belong to the cache (kept out of any enclosing tf.tidy); the previous ones are disposed.
   */
  append(
    layer: number,
    keysT: tf.Tensor4D,
    values: tf.Tensor4D,
  ): { keysT: tf.Tensor4D; values: tf.Tensor4D } {
    const oldKeys = this.keys[layer] ?? null;
    const oldValues = this.values[layer] ?? null;
    const newKeys = tf.keep(oldKeys === null ? keysT.clone() : tf.concat([oldKeys, keysT], 3));
    const newValues = tf.keep(
      oldValues === null ? values.clone() : tf.concat([oldValues, values], 2),
    );
    oldKeys?.dispose();
    oldValues?.dispose();
    this.keys[layer] = newKeys;
    this.values[layer] = newValues;
    return { keysT: newKeys, values: newValues };
  }

  /**
   * Drops cached positions after the first `length` (e.g. to roll back speculative steps).
   *
   * @example
   * cache.truncate(cache.length - 1); // forget the last step
   */
  truncate(length: number): void {
    if (!Number.isInteger(length) || length < 0 || length > this.length) {
      throw new RangeError(`cannot truncate a cache of length ${this.length} to ${length}`);
    }
    if (length === this.length) return;
    for (let layer = 0; layer < this.keys.length; layer++) {
      const keys = this.keys[layer];
      const values = this.values[layer];
      if (keys == null || values == null) continue;
      this.keys[layer] =
        length === 0 ? null : tf.keep(keys.slice([0, 0, 0, 0], [-1, -1, -1, length]));
      this.values[layer] =
        length === 0 ? null : tf.keep(values.slice([0, 0, 0, 0], [-1, -1, length, -1]));
      keys.dispose();
      values.dispose();
    }
    this.mask = this.mask.map((row) => row.slice(0, length));
  }

  dispose(): void {
    tf.dispose([...this.keys, ...this.values].filter((t): t is tf.Tensor4D => t !== null));
    this.keys.fill(null);
    this.values.fill(null);
    this.disposed = true;
  }
}
