/**
 * The reference fixtures written by scripts/fixtures/make_model_fixtures.py with Hugging Face
 * transformers: tiny random-weight Llama / Qwen2 / Qwen3 folders and what transformers computed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors } from '../../models/safetensors.ts';
import type { ChatMessage } from '../../models/types.ts';

export const FIXTURE_ROOT = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../fixtures/models',
);
export const FIXTURE_MODELS = ['tiny-llama', 'tiny-qwen2', 'tiny-qwen3'] as const;
export type FixtureName = (typeof FIXTURE_MODELS)[number];

export interface Reference {
  model: string;
  architecture: string;
  savedDtype: string;
  sharded: boolean;
  batch: { prompts: string[]; rows: number[][]; padTokenId: number };
  greedy: { prompt: number[]; greedy: number[]; minTop2Gap: number }[];
  chats: {
    messages: ChatMessage[];
    withGenerationPrompt?: string;
    withoutGenerationPrompt?: string;
    ids?: number[];
    error?: string;
  }[];
  specialTokens: Record<string, string | null>;
  vocabSize: number;
  tokens: {
    text: string;
    ids: number[];
    idsWithoutSpecial: number[];
    decoded: string;
    decodedSkipSpecial: string;
  }[];
}

export interface ReferenceTensors {
  /** [batch, seq] left-padded prompt ids. */
  inputIds: { shape: [number, number]; data: Int32Array };
  attentionMask: { shape: [number, number]; data: Int32Array };
  /** [batch, seq, hidden] hidden_states[-1]. */
  hidden: { shape: [number, number, number]; data: Float32Array };
  /** [batch, seq, vocab] */
  logits: { shape: [number, number, number]; data: Float32Array };
}

export function modelDir(name: FixtureName): string {
  return path.join(FIXTURE_ROOT, name, 'model');
}

export function readReference(name: FixtureName): Reference {
  return JSON.parse(
    fs.readFileSync(path.join(FIXTURE_ROOT, name, 'reference.json'), 'utf8'),
  ) as Reference;
}

export function readReferenceTensors(name: FixtureName): ReferenceTensors {
  const { tensors } = readSafetensors(
    fs.readFileSync(path.join(FIXTURE_ROOT, name, 'reference.safetensors')),
  );
  const get = (key: string) => {
    const t = tensors.get(key);
    if (t === undefined) throw new Error(`reference.safetensors of ${name} has no ${key}`);
    return t;
  };
  return {
    inputIds: get('input_ids') as unknown as ReferenceTensors['inputIds'],
    attentionMask: get('attention_mask') as unknown as ReferenceTensors['attentionMask'],
    hidden: get('hidden') as unknown as ReferenceTensors['hidden'],
    logits: get('logits') as unknown as ReferenceTensors['logits'],
  };
}

/**
 * Largest |a - b| over the positions where `mask` is 1. a and b are [batch, seq, width] flattened;
 * mask is [batch, seq].
 */
export function maxAbsDiffAtRealPositions(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  mask: ArrayLike<number>,
  width: number,
): number {
  if (a.length !== b.length || a.length !== mask.length * width) {
    throw new Error(`size mismatch: ${a.length} vs ${b.length} (mask ${mask.length} x ${width})`);
  }
  let max = 0;
  for (let p = 0; p < mask.length; p++) {
    if (mask[p] !== 1) continue;
    for (let k = p * width; k < (p + 1) * width; k++) {
      const diff = Math.abs(a[k]! - b[k]!);
      if (!(diff <= max)) max = Number.isNaN(diff) ? Number.POSITIVE_INFINITY : diff;
    }
  }
  return max;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`size mismatch: ${a.length} vs ${b.length}`);
  let max = 0;
  for (let k = 0; k < a.length; k++) {
    const diff = Math.abs(a[k]! - b[k]!);
    if (!(diff <= max)) max = Number.isNaN(diff) ? Number.POSITIVE_INFINITY : diff;
  }
  return max;
}
