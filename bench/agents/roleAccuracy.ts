/**
 * How well a network plays its roles given gold inputs: greedy-decode each role prompt and
 * compare with the gold role text, exactly (the text hand-off's ceiling, per role and family).
 */
import * as tf from '@tensorflow/tfjs';
import type { Agent, CausalLM } from '../../models/types.ts';
import { padLeftIds } from '../../operators/prompt/splice.ts';
import { encodeTaggedText, type TaggedRoleText } from './roleTexts.ts';

/**
 * Exact-match rate of greedy role texts, per `role/family`.
 *
 * @example roleAccuracy(agent, model, texts.slice(0, 64)) // { 'critic/arith': 0.97, ... }
 */
export function roleAccuracy(
  agent: Agent,
  model: CausalLM,
  texts: readonly TaggedRoleText[],
  options: { batchSize?: number; maxNewTokens?: number } = {},
): Record<string, number> {
  const batchSize = options.batchSize ?? 32;
  const hits = new Map<string, [number, number]>();
  for (let start = 0; start < texts.length; start += batchSize) {
    const chunk = texts.slice(start, start + batchSize);
    const prompts = chunk.map((t) => {
      const { ids, targetStart } = encodeTaggedText(agent.tokenizer, t);
      return ids.slice(0, targetStart);
    });
    const { inputIds, attentionMask } = padLeftIds(prompts, agent.tokenizer.padTokenId);
    let generated: number[][];
    try {
      generated = model.generate(
        { inputIds, attentionMask },
        { maxNewTokens: options.maxNewTokens ?? 40 },
      );
    } finally {
      tf.dispose([inputIds, attentionMask]);
    }
    chunk.forEach((t, i) => {
      const text = agent.tokenizer.decode(generated[i]!, { skipSpecialTokens: true }).trim();
      const key = `${t.role}/${t.family}`;
      const [ok, all] = hits.get(key) ?? [0, 0];
      hits.set(key, [ok + (text === t.target.trim() ? 1 : 0), all + 1]);
    });
  }
  return Object.fromEntries([...hits].map(([key, [ok, all]]) => [key, ok / all]));
}
