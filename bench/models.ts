import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { DecoderLM } from '../models/decoder.ts';
import { randomDecoderWeights } from '../models/init.ts';
import type { DecoderKVCache } from '../models/kvCache.ts';
import type { DecoderConfig } from '../models/types.ts';
import { initBackend } from '../runtime/backend/index.ts';
import { gflops, median, type TargetInput, writeBenchReport } from './lib/index.ts';

// The agents' network on the default backend (wasm here), three targets from issue 3:
// 1. prefill of 8 x 128 tokens on a d=256, 4-layer decoder reaches >= 0.4 of the GFLOP/s a plain
//    matMul reaches in the same run (interleaved);
// 2. a KV-cached decode step at prefix 512 costs <= 2x the step at prefix 16 (full recomputation of
//    the same step shown beside it);
// 3. tf.memory().numTensors is the same before and after 1,000 decode steps.

const REPS = 11;
const backend = await initBackend();
const loadAtStart = os.loadavg()[0]!;

const config: DecoderConfig = {
  architecture: 'llama',
  vocabSize: 2048,
  hiddenSize: 256,
  intermediateSize: 768,
  numHiddenLayers: 4,
  numAttentionHeads: 4,
  numKeyValueHeads: 2,
  headDim: 64,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  maxPositionEmbeddings: 4096,
  attentionBias: false,
  qkNorm: false,
  tieWordEmbeddings: true,
  eosTokenIds: [],
  initializerRange: 0.02,
};
const model = new DecoderLM(config, randomDecoderWeights(config, 1));
const parameterCount = [...model.weights.values()].reduce((n, w) => n + w.size, 0);
const randomIds = (batch: number, seq: number, seed: number) =>
  tf.randomUniform([batch, seq], 0, config.vocabSize, 'int32', seed) as tf.Tensor2D;

// --- 1. prefill throughput vs a plain matMul -------------------------------------------------------
const [BATCH, SEQ] = [8, 128];
const tokens = BATCH * SEQ;
const {
  hiddenSize: d,
  intermediateSize: ff,
  numAttentionHeads: h,
  numKeyValueHeads: kv,
  headDim: hd,
} = config;
// Multiply-adds the forward pass really performs, per layer: the q/k/v/o and MLP projections, the
// rotary rotate-half products of q and k, and full seq x seq attention scores and context.
const flopsPerLayer =
  2 * tokens * d * (h * hd + 2 * kv * hd) +
  2 * tokens * h * hd * d +
  2 * tokens * d * ff * 3 +
  2 * tokens * (h + kv) * hd * hd +
  2 * BATCH * h * SEQ * SEQ * hd * 2;
const prefillFlops = flopsPerLayer * config.numHiddenLayers;
const prefillIds = randomIds(BATCH, SEQ, 2);
const mmA = tf.randomNormal([tokens, d], 0, 1, 'float32', 3) as tf.Tensor2D;
const mmB = tf.randomNormal([d, ff], 0, 1, 'float32', 4) as tf.Tensor2D;
const matMulFlops = 2 * tokens * d * ff;

const prefillMs: number[] = [];
const matMulMs: number[] = [];
const time = (fn: () => void) => {
  const start = performance.now();
  fn();
  return performance.now() - start;
};
const prefill = () => tf.tidy(() => void model.forward({ inputIds: prefillIds }).hidden.dataSync());
const plainMatMul = () => tf.tidy(() => void tf.matMul(mmA, mmB).dataSync());
prefill();
plainMatMul();
for (let rep = 0; rep < REPS; rep++) {
  prefillMs.push(time(prefill));
  matMulMs.push(time(plainMatMul));
}
const prefillGflops = gflops(prefillFlops, median(prefillMs));
const matMulGflops = gflops(matMulFlops, median(matMulMs));

// --- 2. decode step cost vs prefix length ------------------------------------------------------------
// A step: one new token per row through the cache, then the LM head on it (what generate does).
// The cache is cut back to the prefix after each timed step, so every step sees the same prefix.
interface DecodeCase {
  prefix: number;
  cache: DecoderKVCache;
  fullIds: tf.Tensor2D;
}
const stepIds = tf.tensor2d([[7]], [1, 1], 'int32');
const cases: DecodeCase[] = [16, 512].map((prefix) => {
  const ids = randomIds(1, prefix, prefix);
  const cache = model.newKVCache(1) as DecoderKVCache;
  tf.tidy(() => void model.forward({ inputIds: ids, kvCache: cache }));
  const fullIds = tf.concat([ids, stepIds], 1) as tf.Tensor2D;
  ids.dispose();
  return { prefix, cache, fullIds };
});
const cachedStep = (c: DecodeCase) =>
  tf.tidy(() => {
    const { hidden } = model.forward({ inputIds: stepIds, kvCache: c.cache });
    model.lmHead(hidden).dataSync();
  });
const fullStep = (c: DecodeCase) =>
  tf.tidy(() => {
    const { hidden } = model.forward({ inputIds: c.fullIds });
    model.lmHead(hidden.slice([0, c.prefix, 0], [1, 1, d])).dataSync();
  });
const cachedMs = new Map<number, number[]>(cases.map((c) => [c.prefix, []]));
const fullMs = new Map<number, number[]>(cases.map((c) => [c.prefix, []]));
for (let rep = -1; rep < REPS * 2; rep++) {
  for (const c of cases) {
    const cached = time(() => cachedStep(c));
    c.cache.truncate(c.prefix);
    const full = time(() => fullStep(c));
    if (rep >= 0) {
      cachedMs.get(c.prefix)!.push(cached);
      fullMs.get(c.prefix)!.push(full);
    }
  }
}
for (const c of cases) {
  c.cache.dispose();
  c.fullIds.dispose();
}
const cached16 = median(cachedMs.get(16)!);
const cached512 = median(cachedMs.get(512)!);
const full16 = median(fullMs.get(16)!);
const full512 = median(fullMs.get(512)!);

// --- 3. no tensors left behind by 1,000 decode steps ---------------------------------------------------
const STEPS = 1000;
const before = tf.memory().numTensors;
const decodeStart = performance.now();
const [generated] = model.generate(
  { inputIds: stepIds },
  { maxNewTokens: STEPS, stopTokenIds: [] },
);
const decodeMs = performance.now() - decodeStart;
const after = tf.memory().numTensors;
// And while a cache is alive, its tensor count does not grow with the steps taken.
const cache = model.newKVCache(1);
const countAt = new Map<number, number>();
for (let step = 1; step <= 100; step++) {
  tf.tidy(
    () => void model.lmHead(model.forward({ inputIds: stepIds, kvCache: cache }).hidden).dataSync(),
  );
  if (step === 10 || step === 100) countAt.set(step, tf.memory().numTensors);
}
cache.dispose();

tf.dispose([prefillIds, mmA, mmB, stepIds]);
model.dispose();

const prefillFraction = prefillGflops / matMulGflops;
const stepRatio = cached512 / cached16;
const targets: TargetInput[] = [
  { name: 'prefill GFLOP/s / plain matMul GFLOP/s', value: prefillFraction, op: '>=', target: 0.4 },
  { name: 'cached decode step: prefix 512 / prefix 16', value: stepRatio, op: '<=', target: 2 },
  {
    name: `|tensors after ${STEPS} decode steps - before|`,
    value: Math.abs(after - before),
    op: '<=',
    target: 0,
  },
];

writeBenchReport({
  benchmark: 'models',
  command: 'npm run bench models',
  backend,
  results: {
    model: { ...config, parameters: parameterCount },
    prefill: {
      batch: BATCH,
      seq: SEQ,
      flops: prefillFlops,
      medianMs: median(prefillMs),
      gflops: prefillGflops,
      plainMatMul: {
        shape: `[${tokens},${d}]x[${d},${ff}]`,
        flops: matMulFlops,
        medianMs: median(matMulMs),
        gflops: matMulGflops,
      },
      fractionOfMatMul: prefillFraction,
    },
    decodeStep: {
      batch: 1,
      cachedMs: { prefix16: cached16, prefix512: cached512 },
      fullRecomputationMs: { prefix16: full16, prefix512: full512 },
      cachedRatio512over16: stepRatio,
      fullOverCachedAt512: full512 / cached512,
    },
    leak: {
      steps: STEPS,
      tensorsBefore: before,
      tensorsAfter: after,
      generatedTokens: generated!.length,
      msPerStep: decodeMs / STEPS,
      liveCacheTensorsAtStep10: countAt.get(10),
      liveCacheTensorsAtStep100: countAt.get(100),
    },
    reps: REPS,
    loadAverage: { start: loadAtStart, end: os.loadavg()[0] },
  },
  targets,
  table: {
    headers: ['measure', 'value'],
    rows: [
      ['prefill 8x128, median ms', median(prefillMs)],
      ['prefill GFLOP/s', prefillGflops],
      [`plain matMul [${tokens},${d}]x[${d},${ff}] GFLOP/s`, matMulGflops],
      ['prefill / matMul throughput', prefillFraction],
      ['cached step, prefix 16, ms', cached16],
      ['cached step, prefix 512, ms', cached512],
      ['full recomputation, prefix 16, ms', full16],
      ['full recomputation, prefix 512, ms', full512],
      ['cached step 512 / 16', stepRatio],
      [`generate ${STEPS} tokens, ms per step`, decodeMs / STEPS],
      ['tensors before / after 1,000 steps', `${before} / ${after}`],
    ],
  },
  notes: [
    'Decoder: Llama-style, d=256, 4 layers, 4 query heads / 2 kv heads of 64, SwiGLU 768, vocab 2048 (tied), random init.',
    'Prefill FLOPs count the projections, the rotary rotate-half products and the full seq x seq attention products the forward computes (no LM head). The plain matMul has the MLP projection shape of the same 1,024 tokens; the two alternate in one process and medians are reported.',
    'A decode step is one token through the KV cache plus the LM head, batch 1; the cache is cut back to the prefix after each timed step. Full recomputation runs the whole prefix + 1 tokens without a cache.',
    `Machine load average at start: ${loadAtStart.toFixed(2)} (2 cores shared with other work).`,
  ],
});
