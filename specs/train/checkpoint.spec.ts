import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { applyLink, createRecursiveLink } from '../../operators/links/recursiveLink.ts';
import { saveLossCurveSvg } from '../../train/plots.ts';
import { Trainer } from '../../train/trainer.ts';
import { useWasmAndCheckLeaks } from './wasm.ts';

useWasmAndCheckLeaks();

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'rmas-ckpt-'));
  dirs.push(d);
  return d;
}

/** A regression task for a small link: 24 random (x, y) pairs, y = tanh(x·A). */
function regressionData(seed: number) {
  return tf.tidy(() => {
    const x = tf.randomNormal([24, 8], 0, 1, 'float32', seed);
    const a = tf.randomNormal([8, 8], 0, 0.5, 'float32', seed + 1);
    const y = tf.tanh(tf.matMul(x, a));
    const xs = x.arraySync() as number[][];
    const ys = y.arraySync() as number[][];
    return xs.map((xi, i) => ({ x: xi, y: ys[i]! }));
  });
}

type Example = ReturnType<typeof regressionData>[number];

/** A fresh link (same seed, same init) and a trainer over it: everything a new process would build. */
function setup(data: Example[], steps: number) {
  const link = createRecursiveLink({ kind: 'inner', variant: 'res_adapter', inDim: 8, seed: 3 });
  const trainer = new Trainer<Example>({
    params: link.namedParameters(),
    data,
    config: {
      steps,
      batchSize: 5,
      gradAccumulation: 2,
      seed: 11,
      lr: 1e-2,
      warmupSteps: 3,
      weightDecay: 0.01,
    },
    loss: (batch) =>
      tf.tidy(() => {
        const x = tf.tensor2d(batch.map((e) => e.x));
        const y = tf.tensor2d(batch.map((e) => e.y));
        return tf.losses.meanSquaredError(y, applyLink(link, x)) as tf.Scalar;
      }),
    progress: false,
  });
  return { link, trainer };
}

describe('checkpoint and resume', () => {
  it('k steps + checkpoint + fresh objects + k steps gives the same losses as 2k steps (1e-5)', async () => {
    const seed = 21;
    console.log(`data seed ${seed}`);
    const data = regressionData(seed);
    const k = 7; // 24 examples, 10 per step: the resume point falls inside the second epoch
    const straight = setup(data, 2 * k);
    straight.trainer.run();
    const uninterrupted = [...straight.trainer.history];

    const first = setup(data, 2 * k);
    first.trainer.run(k);
    const dir = await tempDir();
    await first.trainer.save(dir, { note: 'half way' });
    first.trainer.dispose();
    first.link.dispose();

    const second = setup(data, 2 * k);
    const state = await second.trainer.resume(dir);
    expect(state.step).toBe(k);
    expect(state.extra).toEqual({ note: 'half way' });
    second.trainer.run();
    const resumed = second.trainer.history;
    expect(resumed).toHaveLength(2 * k);
    for (let i = 0; i < 2 * k; i++)
      expect(Math.abs(resumed[i]! - uninterrupted[i]!)).toBeLessThan(1e-5);
    // The losses really moved (the comparison is not between constants).
    expect(uninterrupted[2 * k - 1]!).toBeLessThan(uninterrupted[0]! * 0.9);
    // And the weights agree at the end.
    for (const [name, v] of straight.link.namedParameters()) {
      const other = second.link.namedParameters().get(name)!;
      const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(v, other))).dataSync()[0]!);
      expect(diff, name).toBeLessThan(1e-6);
    }
    for (const s of [straight, second]) {
      s.trainer.dispose();
      s.link.dispose();
    }
  });

  it('writes the state a run needs in the JSON: step, config, schedule, data position, RNG, history', async () => {
    const data = regressionData(4);
    const { link, trainer } = setup(data, 10);
    trainer.run(3);
    const dir = await tempDir();
    await trainer.save(dir);
    const json = JSON.parse(await readFile(join(dir, 'checkpoint.json'), 'utf8'));
    expect(json).toMatchObject({
      format: 'rmas.train-checkpoint',
      step: 3,
      config: { batchSize: 5, gradAccumulation: 2, seed: 11 },
      schedule: { kind: 'cosine-warmup', baseLr: 1e-2, warmupSteps: 3, totalSteps: 10 },
      optimizer: { kind: 'adamw', step: 3, betas: [0.9, 0.95] },
      // 3 steps x 10 examples = 30 = one epoch of 24 + 6
      data: { seed: 11, size: 24, epoch: 1, index: 6 },
    });
    expect(json.lossHistory).toHaveLength(3);
    expect(json.params).toEqual([...link.namedParameters().keys()]);
    trainer.dispose();
    link.dispose();
  });

  it('refuses a checkpoint from a different config or parameter set', async () => {
    const data = regressionData(4);
    const { link, trainer } = setup(data, 10);
    trainer.run(1);
    const dir = await tempDir();
    await trainer.save(dir);
    const other = setup(data, 12); // different total steps: a different schedule
    await expect(other.trainer.resume(dir)).rejects.toMatchObject({ code: 'CHECKPOINT_INVALID' });
    const json = JSON.parse(await readFile(join(dir, 'checkpoint.json'), 'utf8'));
    json.params = ['proj1.weight'];
    await writeFile(join(dir, 'checkpoint.json'), JSON.stringify(json));
    const third = setup(data, 10);
    await expect(third.trainer.resume(dir)).rejects.toMatchObject({ code: 'PARAM_MISMATCH' });
    for (const s of [{ link, trainer }, other, third]) {
      s.trainer.dispose();
      s.link.dispose();
    }
  });

  it('saves loss curves as SVG', async () => {
    const file = join(await tempDir(), 'curves', 'loss.svg');
    await saveLossCurveSvg(file, { links: [2, 1.5, 1.2, 1], lora: [2, 1.8, 1.7, 1.65] });
    const svg = await readFile(file, 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('links');
    expect(svg).toContain('lora');
    expect(svg.match(/<path/g)?.length ?? 0).toBeGreaterThanOrEqual(2);
  });
});
