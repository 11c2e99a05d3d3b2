/**
 * The contract between the agents' neural networks and everything built on them (operators,
 * runtime, training). RecursiveMAS reads an agent's last-layer states and writes its input
 * embeddings, so the API exposes exactly those two ends of the network.
 *
 * Tensor ownership: every tensor a method returns is owned by the caller (dispose it, or create
 * it inside `tf.tidy`). Tensors passed in are borrowed: methods never dispose their arguments.
 * A KVCache owns its tensors; `dispose()` frees them.
 */
import type * as tf from '@tensorflow/tfjs';

/** The fields of a Hugging Face decoder-only config that the Llama family needs. */
export interface DecoderConfig {
  architecture: 'llama' | 'qwen2' | 'qwen3';
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  numKeyValueHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  /** Llama-3 style rope scaling, when the config has `rope_scaling.rope_type == "llama3"`. */
  ropeScaling?: {
    type: 'llama3';
    factor: number;
    lowFreqFactor: number;
    highFreqFactor: number;
    originalMaxPositionEmbeddings: number;
  };
  maxPositionEmbeddings: number;
  /** q_proj, k_proj and v_proj carry a bias (Qwen2 always; Llama and Qwen3 when `attention_bias`). */
  attentionBias: boolean;
  /** o_proj carries a bias (Llama and Qwen3 when `attention_bias`; never Qwen2). Omitted: false. */
  outputBias?: boolean;
  /** Qwen3: RMSNorm on queries and keys per head, before rotary embedding. */
  qkNorm: boolean;
  tieWordEmbeddings: boolean;
  bosTokenId?: number;
  eosTokenIds: number[];
  padTokenId?: number;
  /** Standard deviation of the random normal init (HF `initializer_range`), used by presets. */
  initializerRange?: number;
}

/** Grows by one segment per forward call; one cache per batch of sequences. */
export interface KVCache {
  /** Number of positions already cached (the same for every row of the batch). */
  readonly length: number;
  readonly batchSize: number;
  dispose(): void;
}

export interface ForwardInput {
  /** [batch, seq] int32 token ids; exactly one of inputIds and inputsEmbeds. */
  inputIds?: tf.Tensor2D;
  /** [batch, seq, hidden] input embeddings (what RecursiveLinks write). */
  inputsEmbeds?: tf.Tensor3D;
  /**
   * [batch, pastLength + seq] with 1 for real positions and 0 for padding (left padding is the
   * convention for batched generation). Omitted: every position is real.
   */
  attentionMask?: tf.Tensor2D;
  /** When given, attends to the cached positions and appends this call's keys and values. */
  kvCache?: KVCache;
  /** Also project to the vocabulary. Latent steps skip this (the |V|·d term of Prop. 3.1). */
  returnLogits?: boolean;
}

export interface ForwardOutput {
  /** [batch, seq, hidden]: last-layer states after the final norm (HF `hidden_states[-1]`). */
  hidden: tf.Tensor3D;
  /** [batch, seq, vocab], only when `returnLogits` was set. */
  logits?: tf.Tensor3D;
}

export interface SamplingOptions {
  maxNewTokens: number;
  /** 0 means greedy. */
  temperature?: number;
  topP?: number;
  stopTokenIds?: number[];
  /** Seed for sampling; decoding with temperature > 0 is reproducible for a fixed seed. */
  seed?: number;
}

/** A frozen decoder-only language model: an agent's network. */
export interface CausalLM {
  readonly config: DecoderConfig;
  /** [batch, seq] int32 -> [batch, seq, hidden] input embeddings. */
  embed(ids: tf.Tensor2D): tf.Tensor3D;
  forward(input: ForwardInput): ForwardOutput;
  /** [.., hidden] -> [.., vocab]. */
  lmHead(hidden: tf.Tensor): tf.Tensor;
  newKVCache(batchSize: number): KVCache;
  /**
   * Autoregressive decoding from input embeddings (a prompt with latents spliced in) or ids.
   * Returns the generated ids per row, without the prompt, cut after the first stop token.
   */
  generate(
    input: Omit<ForwardInput, 'kvCache' | 'returnLogits'>,
    options: SamplingOptions,
  ): number[][];
  /**
   * Named weights in Hugging Face naming (`model.layers.0.self_attn.q_proj.weight`, ...). Linear
   * projection weights (`*_proj.weight`, `lm_head.weight`) are held transposed, [in, out], so the
   * forward pass uses plain matMul; every other tensor has its Hugging Face shape.
   */
  readonly weights: ReadonlyMap<string, tf.Variable | tf.Tensor>;
  dispose(): void;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface Tokenizer {
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  decode(ids: number[], options?: { skipSpecialTokens?: boolean }): string;
  /** Renders the model's chat template (Jinja) to text, with the generation prompt appended. */
  applyChatTemplate(messages: ChatMessage[], options?: { addGenerationPrompt?: boolean }): string;
  readonly vocabSize: number;
  readonly eosTokenIds: number[];
  readonly padTokenId: number;
}

/** A loaded agent: its network and its tokenizer. */
export interface Agent {
  readonly name: string;
  readonly model: CausalLM;
  readonly tokenizer: Tokenizer;
}
