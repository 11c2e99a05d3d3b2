/**
 * The Llama-family decoder forward pass (Llama, Qwen2, Qwen3), following transformers'
 * modeling_llama.py / modeling_qwen2.py / modeling_qwen3.py:
 *
 *   x = embed(ids)                                  // [batch, seq, hidden]
 *   for each layer:
 *     h = RMSNorm(x)
 *     q, k, v = h·Wq (+bq), h·Wk (+bk), h·Wv (+bv)   // heads of headDim; k, v have kvHeads
 *     (Qwen3) q, k = RMSNorm_q(q), RMSNorm_k(k)      // per head
 *     q, k = rope(q), rope(k)                        // positions from the attention mask
 *     x = x + softmax(q·kᵀ/√headDim + mask)·v ·Wo (+bo)
 *     x = x + Wdown(silu(h'·Wgate) * (h'·Wup)),  h' = RMSNorm(x)
 *   hidden = RMSNorm(x); logits = hidden·Wlm
 *
 * Linear weights are held transposed, [in, out], so every projection is a plain matMul (the
 * transposed variants are ~10x slower on wasm). Position ids follow transformers' generate():
 * cumsum(attentionMask) - 1, so a left-padded row computes exactly what it would unpadded.
 */
import * as tf from '@tensorflow/tfjs';
import { ModelError } from './errors.ts';
import { DecoderKVCache } from './kvCache.ts';
import { ropeInverseFrequencies, ropeTables } from './rope.ts';
import { sampleToken, seededRandom } from './sampling.ts';
import type {
  CausalLM,
  DecoderConfig,
  ForwardInput,
  ForwardOutput,
  KVCache,
  SamplingOptions,
} from './types.ts';

/** Added to attention scores at masked positions (finite, so fully masked rows stay finite). */
const MASKED_SCORE = -1e9;

/** One expected weight: its Hugging Face name and shape, and whether it is a linear weight. */
export interface WeightSpec {
  name: string;
  /** Shape as Hugging Face stores it ([out, in] for linear weights). */
  hfShape: number[];
  /** Linear weights are held transposed, [in, out]. */
  linear: boolean;
  /** How a fresh model initialises it. */
  init: 'normal' | 'ones' | 'zeros';
}

/**
 * Every weight a decoder with this config has, in Hugging Face naming and order.
 *
 * @example
 * decoderWeightSpecs(config).map((w) => w.name); // ['model.embed_tokens.weight', 'model.layers.0.input_layernorm.weight', ...]
 */
export function decoderWeightSpecs(config: DecoderConfig): WeightSpec[] {
  const { hiddenSize: d, headDim, numAttentionHeads: heads, numKeyValueHeads: kvHeads } = config;
  const specs: WeightSpec[] = [];
  const add = (name: string, hfShape: number[], linear: boolean, init: WeightSpec['init']) =>
    specs.push({ name, hfShape, linear, init });
  add('model.embed_tokens.weight', [config.vocabSize, d], false, 'normal');
  for (let l = 0; l < config.numHiddenLayers; l++) {
    const p = `model.layers.${l}`;
    add(`${p}.input_layernorm.weight`, [d], false, 'ones');
    add(`${p}.self_attn.q_proj.weight`, [heads * headDim, d], true, 'normal');
    add(`${p}.self_attn.k_proj.weight`, [kvHeads * headDim, d], true, 'normal');
    add(`${p}.self_attn.v_proj.weight`, [kvHeads * headDim, d], true, 'normal');
    if (config.attentionBias) {
      add(`${p}.self_attn.q_proj.bias`, [heads * headDim], false, 'zeros');
      add(`${p}.self_attn.k_proj.bias`, [kvHeads * headDim], false, 'zeros');
      add(`${p}.self_attn.v_proj.bias`, [kvHeads * headDim], false, 'zeros');
    }
    add(`${p}.self_attn.o_proj.weight`, [d, heads * headDim], true, 'normal');
    if (config.outputBias) add(`${p}.self_attn.o_proj.bias`, [d], false, 'zeros');
    if (config.qkNorm) {
      add(`${p}.self_attn.q_norm.weight`, [headDim], false, 'ones');
      add(`${p}.self_attn.k_norm.weight`, [headDim], false, 'ones');
    }
    add(`${p}.post_attention_layernorm.weight`, [d], false, 'ones');
    add(`${p}.mlp.gate_proj.weight`, [config.intermediateSize, d], true, 'normal');
    add(`${p}.mlp.up_proj.weight`, [config.intermediateSize, d], true, 'normal');
    add(`${p}.mlp.down_proj.weight`, [d, config.intermediateSize], true, 'normal');
  }
  add('model.norm.weight', [d], false, 'ones');
  if (!config.tieWordEmbeddings) add('lm_head.weight', [config.vocabSize, d], true, 'normal');
  return specs;
}

interface Layer {
  inputNorm: tf.Tensor1D; // [hidden]
  wq: tf.Tensor2D; // [hidden, heads * headDim]
  wk: tf.Tensor2D; // [hidden, kvHeads * headDim]
  wv: tf.Tensor2D; // [hidden, kvHeads * headDim]
  bq?: tf.Tensor1D;
  bk?: tf.Tensor1D;
  bv?: tf.Tensor1D;
  wo: tf.Tensor2D; // [heads * headDim, hidden]
  bo?: tf.Tensor1D;
  qNorm?: tf.Tensor1D; // [headDim]
  kNorm?: tf.Tensor1D; // [headDim]
  postNorm: tf.Tensor1D; // [hidden]
  wGate: tf.Tensor2D; // [hidden, intermediate]
  wUp: tf.Tensor2D; // [hidden, intermediate]
  wDown: tf.Tensor2D; // [intermediate, hidden]
}

/** RMSNorm over the last axis: x / sqrt(mean(x²) + eps) · weight. */
function rmsNorm(x: tf.Tensor, weight: tf.Tensor1D, eps: number): tf.Tensor {
  return tf.tidy(() => x.mul(x.square().mean(-1, true).add(eps).rsqrt()).mul(weight));
}

function linear(x: tf.Tensor2D, weight: tf.Tensor2D, bias?: tf.Tensor1D): tf.Tensor2D {
  const y = tf.matMul(x, weight) as tf.Tensor2D;
  return bias === undefined ? y : (y.add(bias) as tf.Tensor2D);
}

/**
 * A Llama-family causal LM over weights already in memory. It takes ownership of `weights`
 * (Hugging Face names, linear weights [in, out]) and frees them in `dispose()`.
 *
 * @example
 * const model = new DecoderLM(config, weights);
 * const { hidden, logits } = model.forward({ inputIds: tf.tensor2d([[1, 2, 3]], undefined, 'int32'), returnLogits: true });
 */
export class DecoderLM implements CausalLM {
  readonly weights: ReadonlyMap<string, tf.Tensor>;
  private readonly layers: Layer[];
  private readonly embedTokens: tf.Tensor2D; // [vocab, hidden]
  private readonly finalNorm: tf.Tensor1D; // [hidden]
  private readonly lmHeadWeight: tf.Tensor2D; // [hidden, vocab]
  /** rotate_half as a matrix: x·R = cat(-x[half:], x[:half]). [headDim, headDim] */
  private readonly rotateHalf: tf.Tensor2D;
  private readonly ownedExtras: tf.Tensor[];
  private readonly inverseFrequencies: Float32Array;
  private disposed = false;

  constructor(
    readonly config: DecoderConfig,
    weights: Map<string, tf.Tensor>,
    options: { file?: string } = {},
  ) {
    const specs = decoderWeightSpecs(config);
    for (const spec of specs) {
      const tensor = weights.get(spec.name);
      if (tensor === undefined) {
        throw new ModelError('MISSING_WEIGHT', 'weight is missing', {
          file: options.file,
          field: spec.name,
        });
      }
      const expected = spec.linear ? [spec.hfShape[1]!, spec.hfShape[0]!] : spec.hfShape;
      if (tensor.shape.join(',') !== expected.join(',')) {
        throw new ModelError(
          'SHAPE_MISMATCH',
          `has shape [${tensor.shape}] but the config implies [${expected}]${spec.linear ? ' (held transposed, [in, out])' : ''}`,
          { file: options.file, field: spec.name },
        );
      }
    }
    this.weights = weights;
    const get = <T extends tf.Tensor>(name: string) => weights.get(name) as T;
    const optional = <T extends tf.Tensor>(name: string) => weights.get(name) as T | undefined;
    this.layers = [];
    for (let l = 0; l < config.numHiddenLayers; l++) {
      const p = `model.layers.${l}`;
      const layer: Layer = {
        inputNorm: get<tf.Tensor1D>(`${p}.input_layernorm.weight`),
        wq: get<tf.Tensor2D>(`${p}.self_attn.q_proj.weight`),
        wk: get<tf.Tensor2D>(`${p}.self_attn.k_proj.weight`),
        wv: get<tf.Tensor2D>(`${p}.self_attn.v_proj.weight`),
        wo: get<tf.Tensor2D>(`${p}.self_attn.o_proj.weight`),
        postNorm: get<tf.Tensor1D>(`${p}.post_attention_layernorm.weight`),
        wGate: get<tf.Tensor2D>(`${p}.mlp.gate_proj.weight`),
        wUp: get<tf.Tensor2D>(`${p}.mlp.up_proj.weight`),
        wDown: get<tf.Tensor2D>(`${p}.mlp.down_proj.weight`),
      };
      if (config.attentionBias) {
        layer.bq = get<tf.Tensor1D>(`${p}.self_attn.q_proj.bias`);
        layer.bk = get<tf.Tensor1D>(`${p}.self_attn.k_proj.bias`);
        layer.bv = get<tf.Tensor1D>(`${p}.self_attn.v_proj.bias`);
      }
      if (config.outputBias) layer.bo = optional<tf.Tensor1D>(`${p}.self_attn.o_proj.bias`);
      if (config.qkNorm) {
        layer.qNorm = get<tf.Tensor1D>(`${p}.self_attn.q_norm.weight`);
        layer.kNorm = get<tf.Tensor1D>(`${p}.self_attn.k_norm.weight`);
      }
      this.layers.push(layer);
    }
    this.embedTokens = get<tf.Tensor2D>('model.embed_tokens.weight');
    this.finalNorm = get<tf.Tensor1D>('model.norm.weight');
    this.ownedExtras = [];
    if (config.tieWordEmbeddings) {
      // A transposed copy so the LM head is a plain matMul (costs one more vocab x hidden table).
      this.lmHeadWeight = tf.transpose(this.embedTokens);
      this.ownedExtras.push(this.lmHeadWeight);
    } else {
      this.lmHeadWeight = get<tf.Tensor2D>('lm_head.weight');
    }
    this.rotateHalf = rotateHalfMatrix(config.headDim);
    this.ownedExtras.push(this.rotateHalf);
    this.inverseFrequencies = ropeInverseFrequencies(config);
  }

  /** [batch, seq] int32 -> [batch, seq, hidden]. */
  embed(ids: tf.Tensor2D): tf.Tensor3D {
    this.assertAlive();
    return tf.tidy(
      () =>
        tf.gather(
          this.embedTokens,
          ids.dtype === 'int32' ? ids : ids.toInt(),
        ) as tf.Tensor as tf.Tensor3D,
    );
  }

  /** [.., hidden] -> [.., vocab]. */
  lmHead(hidden: tf.Tensor): tf.Tensor {
    this.assertAlive();
    return tf.tidy(() => {
      const d = this.config.hiddenSize;
      const flat = hidden.reshape([-1, d]) as tf.Tensor2D; // [n, hidden]
      return tf
        .matMul(flat, this.lmHeadWeight)
        .reshape([...hidden.shape.slice(0, -1), this.config.vocabSize]);
    });
  }

  newKVCache(batchSize: number): KVCache {
    return new DecoderKVCache(batchSize, this.config.numHiddenLayers);
  }

  forward(input: ForwardInput): ForwardOutput {
    this.assertAlive();
    const cache = this.checkCache(input.kvCache);
    const { batch, seq } = this.checkInputs(input);
    const past = cache?.length ?? 0;
    const maskRows = this.fullMask(input.attentionMask, cache, batch, past, seq);
    const out = tf.tidy(() => {
      const x0 = input.inputsEmbeds ?? this.embed(input.inputIds!);
      const { cos, sin } = this.rotaryTables(maskRows, past, seq);
      const mask = attentionMaskTensor(maskRows, past, seq); // [batch, 1, 1, seq, past + seq]
      let x = x0 as tf.Tensor3D; // [batch, seq, hidden]
      for (let l = 0; l < this.layers.length; l++) {
        x = this.decoderLayer(l, x, cos, sin, mask, cache);
      }
      const hidden = rmsNorm(x, this.finalNorm, this.config.rmsNormEps) as tf.Tensor3D;
      const result: ForwardOutput = { hidden };
      if (input.returnLogits) result.logits = this.lmHead(hidden) as tf.Tensor3D;
      return result as unknown as tf.TensorContainer;
    }) as unknown as ForwardOutput;
    if (cache !== undefined) cache.mask = maskRows;
    return out;
  }

  /** One pre-norm block: attention then SwiGLU MLP, each with a residual. [batch, seq, hidden] */
  private decoderLayer(
    index: number,
    x: tf.Tensor3D,
    cos: tf.Tensor4D,
    sin: tf.Tensor4D,
    mask: tf.Tensor5D,
    cache: DecoderKVCache | undefined,
  ): tf.Tensor3D {
    const w = this.layers[index]!;
    const c = this.config;
    const [batch, seq] = x.shape;
    const groups = c.numAttentionHeads / c.numKeyValueHeads;

    const h = rmsNorm(x, w.inputNorm, c.rmsNormEps).reshape([
      batch * seq,
      c.hiddenSize,
    ]) as tf.Tensor2D;
    let q: tf.Tensor = linear(h, w.wq, w.bq).reshape([batch, seq, c.numAttentionHeads, c.headDim]);
    let k: tf.Tensor = linear(h, w.wk, w.bk).reshape([batch, seq, c.numKeyValueHeads, c.headDim]);
    const v = linear(h, w.wv, w.bv).reshape([batch, seq, c.numKeyValueHeads, c.headDim]);
    if (w.qNorm && w.kNorm) {
      q = rmsNorm(q, w.qNorm, c.rmsNormEps);
      k = rmsNorm(k, w.kNorm, c.rmsNormEps);
    }
    q = this.rope(q, cos, sin).mul(1 / Math.sqrt(c.headDim));
    k = this.rope(k, cos, sin);

    let keysT = k.transpose([0, 2, 3, 1]) as tf.Tensor4D; // [batch, kvHeads, headDim, seq]
    let values = v.transpose([0, 2, 1, 3]) as tf.Tensor4D; // [batch, kvHeads, seq, headDim]
    if (cache !== undefined) ({ keysT, values } = cache.append(index, keysT, values));
    const total = keysT.shape[3];

    // Grouped-query attention without repeating keys: the query heads sharing a kv head are
    // stacked along the sequence axis. [batch, kvHeads, groups * seq, headDim]
    const queries = q
      .transpose([0, 2, 1, 3])
      .reshape([batch, c.numKeyValueHeads, groups * seq, c.headDim]);
    const scores = tf
      .matMul(queries as tf.Tensor4D, keysT) // [batch, kvHeads, groups * seq, total]
      .reshape([batch, c.numKeyValueHeads, groups, seq, total])
      .add(mask);
    const probs = tf.softmax(scores).reshape([batch, c.numKeyValueHeads, groups * seq, total]);
    const context = tf
      .matMul(probs as tf.Tensor4D, values) // [batch, kvHeads, groups * seq, headDim]
      .reshape([batch, c.numAttentionHeads, seq, c.headDim])
      .transpose([0, 2, 1, 3])
      .reshape([batch * seq, c.numAttentionHeads * c.headDim]) as tf.Tensor2D;
    const attended = x.add(
      linear(context, w.wo, w.bo).reshape([batch, seq, c.hiddenSize]),
    ) as tf.Tensor3D;

    const h2 = rmsNorm(attended, w.postNorm, c.rmsNormEps).reshape([
      batch * seq,
      c.hiddenSize,
    ]) as tf.Tensor2D;
    const gate = tf.matMul(h2, w.wGate);
    const mlp = tf.matMul(
      gate.mul(tf.sigmoid(gate)).mul(tf.matMul(h2, w.wUp)) as tf.Tensor2D,
      w.wDown,
    );
    return attended.add(mlp.reshape([batch, seq, c.hiddenSize]));
  }

  /** x·cos + rotate_half(x)·sin over [batch, seq, heads, headDim]; cos, sin are [batch, seq, 1, headDim]. */
  private rope(x: tf.Tensor, cos: tf.Tensor4D, sin: tf.Tensor4D): tf.Tensor {
    const rotated = tf
      .matMul(x.reshape([-1, this.config.headDim]) as tf.Tensor2D, this.rotateHalf)
      .reshape(x.shape);
    return x.mul(cos).add(rotated.mul(sin));
  }

  /** cos, sin: [batch, seq, 1, headDim] at each row's positions (cumsum of its mask - 1). */
  private rotaryTables(
    maskRows: number[][],
    past: number,
    seq: number,
  ): { cos: tf.Tensor4D; sin: tf.Tensor4D } {
    const positions: number[] = [];
    for (const row of maskRows) {
      let count = 0;
      for (let j = 0; j < past + seq; j++) {
        count += row[j]!;
        // transformers fills padding positions with 1; their outputs are never used.
        if (j >= past) positions.push(row[j] === 1 ? count - 1 : 1);
      }
    }
    const { cos, sin } = ropeTables(this.inverseFrequencies, positions);
    const shape: [number, number, number, number] = [maskRows.length, seq, 1, this.config.headDim];
    return { cos: tf.tensor4d(cos, shape), sin: tf.tensor4d(sin, shape) };
  }

  /** The attention mask of every position, cached and new: [batch][past + seq] of 0/1. */
  private fullMask(
    attentionMask: tf.Tensor2D | undefined,
    cache: DecoderKVCache | undefined,
    batch: number,
    past: number,
    seq: number,
  ): number[][] {
    if (attentionMask === undefined) {
      return Array.from({ length: batch }, (_, r) => [
        ...(cache?.mask[r] ?? []),
        ...new Array<number>(seq).fill(1),
      ]);
    }
    const [rows, columns] = attentionMask.shape;
    if (rows !== batch || columns !== past + seq) {
      throw new ModelError(
        'INVALID_INPUT',
        `attentionMask has shape [${attentionMask.shape}] but expected [${batch}, ${past + seq}] (batch, cached ${past} + new ${seq})`,
        { field: 'attentionMask' },
      );
    }
    const flat = attentionMask.dataSync();
    return Array.from({ length: batch }, (_, r) =>
      Array.from(flat.subarray(r * columns, (r + 1) * columns), (m) => (m > 0 ? 1 : 0)),
    );
  }

  private checkInputs(input: ForwardInput): { batch: number; seq: number } {
    const { inputIds, inputsEmbeds } = input;
    if ((inputIds === undefined) === (inputsEmbeds === undefined)) {
      throw new ModelError('INVALID_INPUT', 'give exactly one of inputIds and inputsEmbeds', {
        field: 'inputIds',
      });
    }
    if (inputIds !== undefined) {
      if (inputIds.rank !== 2) {
        throw new ModelError(
          'INVALID_INPUT',
          `inputIds must be [batch, seq], got [${inputIds.shape}]`,
          { field: 'inputIds' },
        );
      }
      return { batch: inputIds.shape[0], seq: inputIds.shape[1] };
    }
    const embeds = inputsEmbeds!;
    if (embeds.rank !== 3 || embeds.shape[2] !== this.config.hiddenSize) {
      throw new ModelError(
        'INVALID_INPUT',
        `inputsEmbeds must be [batch, seq, ${this.config.hiddenSize}], got [${embeds.shape}]`,
        { field: 'inputsEmbeds' },
      );
    }
    return { batch: embeds.shape[0], seq: embeds.shape[1] };
  }

  private checkCache(cache: KVCache | undefined): DecoderKVCache | undefined {
    if (cache === undefined) return undefined;
    if (!(cache instanceof DecoderKVCache) || cache.keys.length !== this.config.numHiddenLayers) {
      throw new ModelError(
        'INVALID_INPUT',
        'kvCache was not made by this model (use model.newKVCache)',
        { field: 'kvCache' },
      );
    }
    if (cache.isDisposed)
      throw new ModelError('INVALID_INPUT', 'kvCache is disposed', { field: 'kvCache' });
    return cache;
  }

  generate(
    input: Omit<ForwardInput, 'kvCache' | 'returnLogits'>,
    options: SamplingOptions,
  ): number[][] {
    const { batch } = this.checkInputs(input);
    const stop = new Set(options.stopTokenIds ?? this.config.eosTokenIds);
    const random = seededRandom(options.seed ?? 0);
    const generated: number[][] = Array.from({ length: batch }, () => []);
    const done = new Array<boolean>(batch).fill(false);
    const cache = this.newKVCache(batch) as DecoderKVCache;
    try {
      let step: Omit<ForwardInput, 'kvCache'> = input;
      for (let t = 0; t < options.maxNewTokens; t++) {
        const logits = tf.tidy(() => {
          const { hidden } = this.forward({ ...step, kvCache: cache });
          const seq = hidden.shape[1];
          const last = hidden.slice([0, seq - 1, 0], [batch, 1, this.config.hiddenSize]); // [batch, 1, hidden]
          return this.lmHead(last.reshape([batch, this.config.hiddenSize]));
        });
        const rows = logits.dataSync();
        logits.dispose();
        const next: number[] = [];
        for (let r = 0; r < batch; r++) {
          const row = rows.subarray(r * this.config.vocabSize, (r + 1) * this.config.vocabSize);
          const token = sampleToken(row, options, random);
          next.push(token);
          if (!done[r]) {
            generated[r]!.push(token);
            if (stop.has(token)) done[r] = true;
          }
        }
        if (done.every(Boolean)) break;
        if (step !== input) step.inputIds?.dispose();
        step = { inputIds: tf.tensor2d(next, [batch, 1], 'int32') };
      }
      if (step !== input) step.inputIds?.dispose();
    } finally {
      cache.dispose();
    }
    return generated;
  }

  dispose(): void {
    if (this.disposed) return;
    tf.dispose([...this.weights.values(), ...this.ownedExtras]);
    this.disposed = true;
  }

  private assertAlive(): void {
    if (this.disposed)
      throw new ModelError('INVALID_INPUT', 'the model has been disposed', { field: 'model' });
  }
}

/** R with x·R = cat(-x[half:], x[:half]) (transformers' rotate_half). [headDim, headDim] */
function rotateHalfMatrix(headDim: number): tf.Tensor2D {
  const half = headDim / 2;
  const r = new Float32Array(headDim * headDim);
  for (let j = 0; j < half; j++) {
    r[(j + half) * headDim + j] = -1; // output j takes -x[j + half]
    r[j * headDim + j + half] = 1; // output j + half takes x[j]
  }
  return tf.tensor2d(r, [headDim, headDim]);
}

/**
 * Additive attention mask [batch, 1, 1, seq, past + seq]: 0 where query i may see key j (causal,
 * and key j is not padding), MASKED_SCORE elsewhere.
 */
function attentionMaskTensor(maskRows: number[][], past: number, seq: number): tf.Tensor5D {
  const total = past + seq;
  const data = new Float32Array(maskRows.length * seq * total);
  maskRows.forEach((row, r) => {
    for (let i = 0; i < seq; i++) {
      const base = (r * seq + i) * total;
      for (let j = 0; j < total; j++) {
        if (j > past + i || row[j] !== 1) data[base + j] = MASKED_SCORE;
      }
    }
  });
  return tf.tensor5d(data, [maskRows.length, 1, 1, seq, total]);
}
