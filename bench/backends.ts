import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { initBackend, setMatMulRouting } from '../runtime/backend/index.ts';
import { gflops, interleave, median, type TargetInput, writeBenchReport } from './lib/index.ts';

// On wasm: matMul / batchMatMul with each transpose combination against the plain product of the
// same shapes, with runtime/backend's routing (patched) and without it (wasm 4.22.0 as shipped),
// all sides interleaved in one process. Then a dense layer's forward+backward, whose weight
// gradients are transposed products. Target: transposed within 1.5x of plain.

const REPS = 15;
const TARGET_RATIO = 1.5;

const backend = await initBackend({ backend: 'wasm', strict: true });
const loadAtStart = os.loadavg()[0]!;

/** Runs `fn` with the routing off: the kernels as tfjs-backend-wasm ships them. */
function unpatched(fn: () => unknown): () => unknown {
  return () => {
    const previous = setMatMulRouting(false);
    try {
      return fn();
    } finally {
      setMatMulRouting(previous);
    }
  };
}

interface Shape {
  label: string;
  batch: number; // 0 = rank 2
  m: number;
  k: number;
  n: number;
}

const shapes: Shape[] = [
  { label: '512x512x512', batch: 0, m: 512, k: 512, n: 512 },
  { label: '[8,128,256]x[8,256,256]', batch: 8, m: 128, k: 256, n: 256 },
  // Attention scores for batch 8 x 4 heads, seq 32, head size 64: many small products.
  { label: '[32,32,64]x[32,64,32]', batch: 32, m: 32, k: 64, n: 32 },
];
const combos = [
  { name: 'transposeA', ta: true, tb: false },
  { name: 'transposeB', ta: false, tb: true },
  { name: 'both', ta: true, tb: true },
] as const;

const rows: (string | number)[][] = [];
const targets: TargetInput[] = [];
const results: Record<string, unknown> = {};

for (const shape of shapes) {
  const { batch, m, k, n } = shape;
  const lead = batch ? [batch] : [];
  const flops = 2 * Math.max(batch, 1) * m * k * n;
  const a = tf.randomNormal([...lead, m, k], 0, 1, 'float32', 1);
  const aT = tf.randomNormal([...lead, k, m], 0, 1, 'float32', 2);
  const b = tf.randomNormal([...lead, k, n], 0, 1, 'float32', 3);
  const bT = tf.randomNormal([...lead, n, k], 0, 1, 'float32', 4);
  // Returns nothing: tf.tidy walks a returned typed array element by element looking for tensors.
  const product = (ta: boolean, tb: boolean) => () =>
    tf.tidy(() => {
      tf.matMul(ta ? aT : a, tb ? bT : b, ta, tb).dataSync();
    });

  const sides: Record<string, () => unknown> = { plain: product(false, false) };
  // Batched plain products are rewritten too (split per matrix), so they have an unpatched side.
  if (batch) sides['plain unpatched'] = unpatched(product(false, false));
  for (const { name, ta, tb } of combos) {
    sides[name] = product(ta, tb);
    sides[`${name} unpatched`] = unpatched(product(ta, tb));
  }
  console.log(`${shape.label}: ${Object.keys(sides).length} sides x ${REPS} reps, interleaved`);
  const timings = await interleave(sides, REPS);
  const medians = Object.fromEntries(
    Object.entries(timings).map(([side, ms]) => [side, median(ms)]),
  );
  const plainMs = medians['plain']!;

  const shapeResults: Record<string, unknown> = { flops, medianMs: medians, ratioToPlain: {} };
  const ratios = shapeResults['ratioToPlain'] as Record<string, number>;
  const row = (side: string, ratioOf: string | undefined) => {
    const ms = medians[side]!;
    const ratio = ms / plainMs;
    ratios[side] = ratio;
    rows.push([shape.label, side, ms, gflops(flops, ms), ratioOf === undefined ? '' : ratio]);
  };
  row('plain', undefined);
  if (batch) row('plain unpatched', 'plain');
  for (const { name } of combos) {
    row(name, 'plain');
    row(`${name} unpatched`, 'plain');
    targets.push({
      name: `${shape.label} ${name} / plain`,
      value: ratios[name]!,
      op: '<=',
      target: TARGET_RATIO,
    });
  }
  if (batch) {
    targets.push({
      name: `${shape.label} plain: unpatched / patched`,
      value: medians['plain unpatched']! / plainMs,
      op: '>=',
      target: 2,
    });
  }
  results[shape.label] = shapeResults;
  tf.dispose([a, aT, b, bT]);
}

// A dense layer y = x W on [256, 512] x [512, 512]: forward + both gradients (x gᵀ-style products).
{
  const x = tf.randomNormal([256, 512], 0, 1, 'float32', 5);
  const w = tf.randomNormal([512, 512], 0, 0.05, 'float32', 6);
  const g = tf.randomNormal([256, 512], 0, 1, 'float32', 7);
  const step = () =>
    tf.tidy(() => {
      const grads = tf.grads((xs: tf.Tensor, ws: tf.Tensor) =>
        tf.sum(tf.mul(tf.matMul(xs, ws), g)),
      )([x, w]);
      for (const grad of grads) grad.dataSync();
    });
  const timings = await interleave({ patched: step, unpatched: unpatched(step) }, REPS);
  const patchedMs = median(timings.patched);
  const unpatchedMs = median(timings.unpatched);
  const flops = 3 * 2 * 256 * 512 * 512; // forward + dX + dW
  rows.push([
    'dense [256,512]x[512,512] fwd+bwd',
    'patched',
    patchedMs,
    gflops(flops, patchedMs),
    '',
  ]);
  rows.push([
    'dense [256,512]x[512,512] fwd+bwd',
    'unpatched',
    unpatchedMs,
    gflops(flops, unpatchedMs),
    unpatchedMs / patchedMs,
  ]);
  results['dense fwd+bwd'] = {
    flops,
    medianMs: { patched: patchedMs, unpatched: unpatchedMs },
    speedup: unpatchedMs / patchedMs,
  };
  tf.dispose([x, w, g]);
}

writeBenchReport({
  benchmark: 'backends',
  command: 'npm run bench backends',
  backend,
  // 1-minute load average of the (shared, 2-core) machine: above 2, every absolute time is inflated.
  results: { reps: REPS, loadAverage: { start: loadAtStart, end: os.loadavg()[0]! }, ...results },
  targets,
  table: {
    headers: [
      'shape',
      'case',
      'median ms',
      'GFLOP/s',
      'ratio to plain (dense: unpatched / patched)',
    ],
    rows,
  },
  notes: [
    'wasm backend, one process, every side interleaved (A, B, C, ... repeated), medians of ' +
      `${REPS} runs after one warm-up. "unpatched" = runtime/backend's matmul routing switched off ` +
      '(setMatMulRouting(false)), i.e. tfjs-backend-wasm 4.22.0 as shipped. The machine is shared ' +
      '(2 cores), so absolute times move between runs; ratios are the point.',
  ],
});
