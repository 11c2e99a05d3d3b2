import * as tf from '@tensorflow/tfjs';
import { DecoderLM, randomDecoderWeights } from '../models/index.ts';
import type { DecoderConfig } from '../models/types.ts';
import {
  applyLink,
  createRecursiveLink,
  decodingVsLatentStepFlops,
  latentRollout,
  latentRolloutFlops,
  latentRolloutUncached,
  uncachedLatentRolloutFlops,
} from '../operators/index.ts';
import { initBackend } from '../runtime/backend/index.ts';
import { interleave, median, type TargetInput, writeBenchReport } from './lib/index.ts';

// 1. Latent rollout, m = 32 after a 64-token prompt, batch 8: the KV-cached rollout against the
//    reference code's method (re-run the whole prefix at every step), interleaved in one process.
//    Targets: >= 5x faster, same states (max abs diff <= 1e-4).
// 2. One latent step against one text decoding step on the same agent (batch 8, KV cache at the
//    prompt): what Prop. 3.1's m·|V|·d vs m·d² terms cost here. Reported, no target.
// The agent: a random-init Llama-family decoder with d = 256 and |V| = 32768 (a realistic vocab /
// hidden ratio for the second part; the vocabulary plays no role in the first).

const SEED = 20260428;
const BATCH = 8;
const PROMPT = 64;
const STEPS = 32;
const ROLLOUT_REPS = 5;
const STEP_REPS = 41;

const backend = await initBackend({ backend: 'wasm', strict: true });
console.log(`seed=${SEED}`);

const config: DecoderConfig = {
  architecture: 'qwen2',
  vocabSize: 32768,
  hiddenSize: 256,
  intermediateSize: 688,
  numHiddenLayers: 4,
  numAttentionHeads: 4,
  numKeyValueHeads: 2,
  headDim: 64,
  rmsNormEps: 1e-6,
  ropeTheta: 1_000_000,
  maxPositionEmbeddings: 4096,
  attentionBias: true,
  qkNorm: false,
  tieWordEmbeddings: false,
  eosTokenIds: [0],
  initializerRange: 0.02,
};
const model = new DecoderLM(config, randomDecoderWeights(config, SEED));
const inner = createRecursiveLink({ kind: 'inner', inDim: config.hiddenSize, seed: SEED });

const ids = tf.randomUniform([BATCH, PROMPT], 0, config.vocabSize, 'int32', SEED) as tf.Tensor2D;
const prompt = model.embed(ids); // [8, 64, 256]

// --- 1. cached vs re-run rollout -------------------------------------------------------------
const cachedStates = latentRollout(model, inner, { inputsEmbeds: prompt }, STEPS);
const rerunStates = latentRolloutUncached(model, inner, { inputsEmbeds: prompt }, STEPS);
const maxAbsDiff = tf.tidy(() => tf.max(tf.abs(tf.sub(cachedStates, rerunStates))).dataSync()[0]!);
tf.dispose([cachedStates, rerunStates]);

const rollout = await interleave(
  {
    cached: () =>
      tf.tidy(() => latentRollout(model, inner, { inputsEmbeds: prompt }, STEPS).dataSync()),
    rerun: () =>
      tf.tidy(() =>
        latentRolloutUncached(model, inner, { inputsEmbeds: prompt }, STEPS).dataSync(),
      ),
  },
  ROLLOUT_REPS,
);
const cachedMs = median(rollout.cached);
const rerunMs = median(rollout.rerun);
const flopsCached = BATCH * latentRolloutFlops(config, inner, PROMPT, STEPS);
const flopsRerun = BATCH * uncachedLatentRolloutFlops(config, inner, PROMPT, STEPS);

// --- 2. one latent step vs one text decoding step ---------------------------------------------
/** A KV cache holding the prompt, and the last states [8, d]. */
function prefilled() {
  const cache = model.newKVCache(BATCH);
  const h = tf.tidy(() => {
    const { hidden } = model.forward({ inputsEmbeds: prompt, kvCache: cache });
    return hidden
      .slice([0, PROMPT - 1, 0], [BATCH, 1, config.hiddenSize])
      .reshape([BATCH, config.hiddenSize]);
  }) as tf.Tensor2D;
  return { cache, h };
}
const latentSide = prefilled();
const textSide = prefilled();
const d = config.hiddenSize;

/** Latent step: e = R_in(h), one cached position, the new last-layer state. */
function latentStep() {
  const next = tf.tidy(() => {
    const e = applyLink(inner, latentSide.h).reshape([BATCH, 1, d]) as tf.Tensor3D;
    return model.forward({ inputsEmbeds: e, kvCache: latentSide.cache }).hidden.reshape([BATCH, d]);
  }) as tf.Tensor2D;
  next.dataSync();
  latentSide.h.dispose();
  latentSide.h = next;
}

/** Text step: logits = LM head(h), greedy token, its embedding, one cached position. */
function textStep() {
  const next = tf.tidy(() => {
    const logits = model.lmHead(textSide.h); // [8, |V|]
    const token = tf.argMax(logits, 1).reshape([BATCH, 1]).toInt() as tf.Tensor2D;
    token.dataSync(); // the sampled ids go back to the host, as in generate()
    const e = model.embed(token);
    return model.forward({ inputsEmbeds: e, kvCache: textSide.cache }).hidden.reshape([BATCH, d]);
  }) as tf.Tensor2D;
  next.dataSync();
  textSide.h.dispose();
  textSide.h = next;
}

// The isolated terms of Prop. 3.1 on the same [8, d] states.
const probe = tf.randomNormal([BATCH, d], 0, 1, 'float32', SEED) as tf.Tensor2D;
const steps = await interleave(
  {
    latentStep,
    textStep,
    innerLink: () => tf.tidy(() => applyLink(inner, probe).dataSync()),
    vocabProjection: () => tf.tidy(() => tf.argMax(model.lmHead(probe), 1).dataSync()),
  },
  STEP_REPS,
  { warmup: 3 },
);
const perStep = decodingVsLatentStepFlops(config, inner);
const latentStepMs = median(steps.latentStep);
const textStepMs = median(steps.textStep);
const linkMs = median(steps.innerLink);
const vocabMs = median(steps.vocabProjection);

tf.dispose([latentSide.h, textSide.h, probe, prompt, ids]);
latentSide.cache.dispose();
textSide.cache.dispose();
inner.dispose();
model.dispose();

const speedup = rerunMs / cachedMs;
const targets: TargetInput[] = [
  {
    name: 'rollout speedup, KV cache vs re-run prefix (m=32, t=64, batch 8)',
    value: speedup,
    op: '>=',
    target: 5,
  },
  { name: 'max |cached − re-run| over the 32 states', value: maxAbsDiff, op: '<=', target: 1e-4 },
];

writeBenchReport({
  benchmark: 'latent',
  command: 'npm run bench latent',
  backend,
  results: {
    seed: SEED,
    agent: {
      hiddenSize: d,
      vocabSize: config.vocabSize,
      layers: config.numHiddenLayers,
      heads: config.numAttentionHeads,
      kvHeads: config.numKeyValueHeads,
      intermediateSize: config.intermediateSize,
      innerLink: inner.variant,
    },
    rollout: {
      batch: BATCH,
      promptTokens: PROMPT,
      latentSteps: STEPS,
      reps: ROLLOUT_REPS,
      cachedMedianMs: cachedMs,
      rerunMedianMs: rerunMs,
      cachedMs: rollout.cached,
      rerunMs: rollout.rerun,
      speedup,
      maxAbsDiff,
      estimatedGflopsCached: flopsCached / 1e9,
      estimatedGflopsRerun: flopsRerun / 1e9,
      flopRatio: flopsRerun / flopsCached,
    },
    step: {
      batch: BATCH,
      cachePositions: PROMPT,
      reps: STEP_REPS,
      latentStepMedianMs: latentStepMs,
      textStepMedianMs: textStepMs,
      textOverLatentStep: textStepMs / latentStepMs,
      innerLinkMedianMs: linkMs,
      vocabProjectionMedianMs: vocabMs,
      vocabProjectionOverInnerLink: vocabMs / linkMs,
      flopsPerVectorInnerLink: perStep.innerLink,
      flopsPerVectorVocabProjection: perStep.vocabProjection,
      flopRatioVocabOverLink: perStep.ratio,
    },
  },
  targets,
  table: {
    headers: ['measurement', 'median ms', 'note'],
    rows: [
      ['rollout, KV cache', cachedMs, `${STEPS} steps, batch ${BATCH}, ${PROMPT}-token prompt`],
      [
        'rollout, re-run prefix (reference)',
        rerunMs,
        `${(flopsRerun / flopsCached).toFixed(1)}x the FLOPs`,
      ],
      ['one latent step (R_in + 1 cached position)', latentStepMs, 'no vocabulary projection'],
      [
        'one text step (LM head + argmax + embed + 1 position)',
        textStepMs,
        `${(textStepMs / latentStepMs).toFixed(2)}x a latent step`,
      ],
      ['inner link alone, [8, d]', linkMs, `${perStep.innerLink} FLOPs/vector (≈ 4·d²)`],
      [
        'vocabulary projection + argmax, [8, d]',
        vocabMs,
        `${perStep.vocabProjection} FLOPs/vector (2·d·|V|), ${perStep.ratio}x the link`,
      ],
    ],
  },
  notes: [
    `Agent: random-init Qwen2-style decoder, d = ${d}, |V| = ${config.vocabSize}, ${config.numHiddenLayers} layers, GQA ${config.numAttentionHeads}/${config.numKeyValueHeads} heads; inner link ${inner.variant}.`,
    'Rollout: both sides produce the same 32 states per row (the official rollout returns h_t … h_{t+m−1}); the reference re-runs all t + s positions at step s, the cached one runs one.',
    "Step costs: Prop. 3.1's per-token difference between text and latent collaboration is the vocabulary projection (2·d·|V|) that a latent step replaces by the inner link (≈ 4·d²); both steps share the transformer pass over one position.",
  ],
});
