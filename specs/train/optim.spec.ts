import { Writable } from 'node:stream';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { AdamW } from '../../train/optim/adamw.ts';
import { clipByGlobalNorm, globalNorm } from '../../train/optim/clip.ts';
import { cosineWithWarmup } from '../../train/optim/schedule.ts';
import { progressBar } from '../../train/progress.ts';
import { epochOrder, SeededRandom } from '../../train/rng.ts';
import { Trainer } from '../../train/trainer.ts';
import { useWasmAndCheckLeaks } from './wasm.ts';

useWasmAndCheckLeaks();

/** A 1-D variable without leaking the tensor it is made from. */
function variable1d(values: number[], trainable = true): tf.Variable {
  return tf.tidy(() => tf.variable(tf.tensor1d(values), trainable));
}

/** torch.optim.AdamW's update written out in float64, one parameter vector. */
function handAdamW(
  p: number[],
  grads: number[][],
  lrs: number[],
  [b1, b2]: [number, number],
  eps: number,
  wd: number,
): number[] {
  let m = p.map(() => 0);
  let v = p.map(() => 0);
  let x = [...p];
  grads.forEach((g, i) => {
    const t = i + 1;
    const lr = lrs[i]!;
    x = x.map((xi) => xi * (1 - lr * wd));
    m = m.map((mi, j) => b1 * mi + (1 - b1) * g[j]!);
    v = v.map((vi, j) => b2 * vi + (1 - b2) * g[j]! ** 2);
    const bc1 = 1 - b1 ** t;
    const bc2 = Math.sqrt(1 - b2 ** t);
    x = x.map((xi, j) => xi - (lr / bc1) * (m[j]! / (Math.sqrt(v[j]!) / bc2 + eps)));
  });
  return x;
}

describe('AdamW', () => {
  it('one step equals the torch update computed by hand', () => {
    // By hand, β=(0.9,0.95), λ=0.1, lr=0.01, p=1, g=0.5: p ← 1·(1−0.001) − 0.01·(0.05/0.1)/(√0.0125/√0.05 + 1e-8)
    //   m = 0.05, v = 0.0125, m̂ = 0.5, v̂ = 0.25 → p = 0.999 − 0.01·0.5/0.5 = 0.989
    const p = variable1d([1, -2, 0.25]);
    const opt = new AdamW(new Map([['p', p]]), { betas: [0.9, 0.95], weightDecay: 0.1 });
    const g = tf.tensor1d([0.5, 0.25, -3]);
    opt.step(new Map([['p', g]]), 0.01);
    const got = Array.from(p.dataSync());
    expect(got[0]).toBeCloseTo(0.989, 6);
    const want = handAdamW([1, -2, 0.25], [[0.5, 0.25, -3]], [0.01], [0.9, 0.95], 1e-8, 0.1);
    got.forEach((x, j) => {
      expect(x).toBeCloseTo(want[j]!, 6);
    });
    g.dispose();
    p.dispose();
    opt.dispose();
  });

  it('five steps with changing gradients and learning rates follow the float64 reference', () => {
    const init = [0.3, -0.7, 1.1, 0];
    const grads = [
      [0.1, -0.2, 0.3, 0],
      [-0.5, 0.05, 0.3, 1e-3],
      [2, -2, 0.001, -0.4],
      [0.2, 0.2, -0.9, 0.1],
      [-0.05, 1.5, 0.7, 0.3],
    ];
    const lrs = [0.1, 0.05, 0.02, 0.2, 0.01];
    const p = variable1d(init);
    const opt = new AdamW(new Map([['p', p]]));
    for (let i = 0; i < grads.length; i++) {
      const g = tf.tensor1d(grads[i]!);
      opt.step(new Map([['p', g]]), lrs[i]!);
      g.dispose();
    }
    const want = handAdamW(init, grads, lrs, [0.9, 0.999], 1e-8, 0.01);
    Array.from(p.dataSync()).forEach((x, j) => {
      expect(x).toBeCloseTo(want[j]!, 5);
    });
    expect(opt.stepsTaken).toBe(5);
    p.dispose();
    opt.dispose();
  });

  it('leaves a parameter without a gradient untouched', () => {
    const a = variable1d([1]);
    const b = variable1d([2]);
    const opt = new AdamW(
      new Map([
        ['a', a],
        ['b', b],
      ]),
    );
    const g = tf.tensor1d([1]);
    opt.step(new Map([['a', g]]), 0.1);
    expect(b.dataSync()[0]).toBe(2);
    expect(a.dataSync()[0]).not.toBe(1);
    tf.dispose([a, b, g]);
    opt.dispose();
  });

  it('rejects a gradient of the wrong shape with PARAM_MISMATCH', () => {
    const a = variable1d([1, 2]);
    const opt = new AdamW(new Map([['a', a]]));
    const g = tf.tensor1d([1]);
    expect(() => opt.step(new Map([['a', g]]), 0.1)).toThrow(
      expect.objectContaining({ code: 'PARAM_MISMATCH' }),
    );
    tf.dispose([a, g]);
    opt.dispose();
  });
});

describe('cosine schedule with warmup', () => {
  it('matches transformers get_cosine_schedule_with_warmup by hand', () => {
    const lr = cosineWithWarmup({ baseLr: 1, warmupSteps: 2, totalSteps: 6 });
    // warmup: 0/2, 1/2; then ½(1 + cos(π·progress)), progress = (s − 2)/4
    expect(lr(0)).toBe(0);
    expect(lr(1)).toBe(0.5);
    expect(lr(2)).toBeCloseTo(1, 12);
    expect(lr(3)).toBeCloseTo(0.5 * (1 + Math.cos(Math.PI / 4)), 12);
    expect(lr(4)).toBeCloseTo(0.5, 12);
    expect(lr(6)).toBeCloseTo(0, 12);
    expect(lr(7)).toBeGreaterThanOrEqual(0);
  });

  it('rejects a non-integer length with INVALID_CONFIG', () => {
    expect(() => cosineWithWarmup({ baseLr: 1, warmupSteps: 0, totalSteps: 2.5 })).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG' }),
    );
  });
});

describe('global-norm clipping', () => {
  it('scales [3, 4] and [12] (norm 13) to norm 1, and leaves small gradients alone', () => {
    const a = tf.tensor1d([3, 4]);
    const b = tf.tensor1d([12]);
    const grads = new Map([
      ['a', a],
      ['b', b],
    ]);
    expect(globalNorm(grads)).toBeCloseTo(13, 5);
    const { grads: clipped, norm } = clipByGlobalNorm(grads, 1);
    expect(norm).toBeCloseTo(13, 5);
    const scale = 1 / (13 + 1e-6);
    expect(Array.from(clipped.get('a')!.dataSync())).toEqual([
      expect.closeTo(3 * scale, 6),
      expect.closeTo(4 * scale, 6),
    ]);
    expect(clipped.get('b')!.dataSync()[0]).toBeCloseTo(12 * scale, 6);
    const { grads: same } = clipByGlobalNorm(grads, 100);
    expect(Array.from(same.get('a')!.dataSync())).toEqual([3, 4]);
    tf.dispose([a, b, ...clipped.values(), ...same.values()]);
  });
});

describe('seeded data order', () => {
  it('is a permutation, the same for the same (seed, epoch), different across epochs', () => {
    const seed = 1234;
    console.log(`seed ${seed}`);
    const e0 = epochOrder(20, seed, 0);
    expect([...e0].sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(epochOrder(20, seed, 0)).toEqual(e0);
    expect(epochOrder(20, seed, 1)).not.toEqual(e0);
    expect(epochOrder(20, seed + 1, 0)).not.toEqual(e0);
  });

  it('SeededRandom resumes from its state', () => {
    const a = new SeededRandom(7);
    a.next();
    a.next();
    const b = new SeededRandom(0, a.state);
    expect([b.next(), b.next()]).toEqual([a.next(), a.next()]);
  });
});

describe('Trainer: accumulation and clipping', () => {
  // Loss of a batch: mean over examples of (w·x − y)². Gradient by hand: mean of 2(w·x − y)·x.
  const data = [
    { x: [1, 0], y: 1 },
    { x: [0, 2], y: -1 },
    { x: [1, 1], y: 0.5 },
    { x: [2, -1], y: 0 },
  ];
  const lossOf = (w: tf.Variable) => (batch: typeof data) =>
    tf.tidy(() => {
      const x = tf.tensor2d(batch.map((e) => e.x));
      const y = tf.tensor1d(batch.map((e) => e.y));
      return tf.mean(
        tf.square(tf.sub(tf.matMul(x, w.reshape([2, 1])).reshape([-1]), y)),
      ) as tf.Scalar;
    });
  const handGradNorm = (w: number[], batch: typeof data) => {
    const g = [0, 0];
    for (const { x, y } of batch) {
      const r = w[0]! * x[0]! + w[1]! * x[1]! - y;
      g[0]! += (2 * r * x[0]!) / batch.length;
      g[1]! += (2 * r * x[1]!) / batch.length;
    }
    return Math.hypot(g[0]!, g[1]!);
  };

  it('two micro-batches of 2 give the gradient of the batch of 4 (norm checked by hand)', () => {
    const w = variable1d([0.5, -0.25]);
    const seed = 99;
    const trainer = new Trainer({
      params: new Map([['w', w]]),
      data,
      loss: lossOf(w),
      config: { steps: 1, batchSize: 2, gradAccumulation: 2, seed, maxGradNorm: null },
      progress: false,
    });
    const order = epochOrder(4, seed, 0).map((i) => data[i]!);
    const report = trainer.trainStep();
    // Mean of two micro-batch means of equal size = mean over all four.
    expect(report.gradNorm).toBeCloseTo(handGradNorm([0.5, -0.25], order), 5);
    expect(report.samples).toBe(4);
    expect(report.lr).toBe(0); // warmup's first step, as in transformers
    trainer.dispose();
    w.dispose();
  });

  it('reports the norm before clipping and the mean micro-batch loss', () => {
    const w = variable1d([3, 3]);
    const seed = 5;
    const trainer = new Trainer({
      params: new Map([['w', w]]),
      data,
      loss: lossOf(w),
      config: { steps: 3, batchSize: 4, seed, warmupSteps: 0, lr: 0.1 },
      progress: false,
    });
    const report = trainer.trainStep();
    expect(report.gradNorm).toBeCloseTo(handGradNorm([3, 3], data), 4);
    const handLoss =
      data.reduce((s, { x, y }) => s + (3 * x[0]! + 3 * x[1]! - y) ** 2, 0) / data.length;
    expect(report.loss).toBeCloseTo(handLoss, 4);
    // First AdamW step moves each coordinate by lr·sign(g) (|m̂/√v̂| = 1), independent of clipping.
    expect(Array.from(w.dataSync())).toEqual([expect.closeTo(2.9, 5), expect.closeTo(2.9, 5)]);
    trainer.dispose();
    w.dispose();
  });

  it('rejects an empty dataset and non-trainable parameters', () => {
    const w = variable1d([0, 0], false);
    expect(
      () =>
        new Trainer({
          params: new Map([['w', w]]),
          data: [],
          loss: lossOf(w),
          config: { steps: 1, batchSize: 1, seed: 0 },
        }),
    ).toThrow(expect.objectContaining({ code: 'EMPTY_DATASET' }));
    expect(
      () =>
        new Trainer({
          params: new Map([['w', w]]),
          data,
          loss: lossOf(w),
          config: { steps: 1, batchSize: 1, seed: 0 },
        }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    w.dispose();
  });
});

describe('progress bar', () => {
  class Sink extends Writable {
    text = '';
    constructor(readonly isTTY: boolean) {
      super();
    }
    columns = 160;
    cursorTo() {
      return true;
    }
    clearLine() {
      return true;
    }
    moveCursor() {
      return true;
    }
    override _write(chunk: Buffer, _encoding: string, callback: () => void) {
      this.text += chunk.toString();
      callback();
    }
  }

  it('draws loss, samples/s and ETA on a terminal', () => {
    const sink = new Sink(true);
    const bar = progressBar(10, { stream: sink as unknown as NodeJS.WriteStream, label: 'outer' });
    bar.update(3, { loss: 0.12345, samplesPerSecond: 42 });
    bar.stop();
    expect(bar.visible).toBe(true);
    expect(sink.text).toContain('loss 0.1235');
    expect(sink.text).toContain('42.0 samples/s');
    expect(sink.text).toContain('ETA');
  });

  it('is silent when the stream is not a terminal, or when quiet', () => {
    for (const [tty, quiet] of [
      [false, false],
      [true, true],
    ] as const) {
      const sink = new Sink(tty);
      const bar = progressBar(10, { stream: sink as unknown as NodeJS.WriteStream, quiet });
      bar.update(3, { loss: 1, samplesPerSecond: 1 });
      bar.stop();
      expect(bar.visible).toBe(false);
      expect(sink.text).toBe('');
    }
  });
});
