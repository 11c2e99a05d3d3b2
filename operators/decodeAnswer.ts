/**
 * Decoding: an agent generates text from its prompt with the previous agent's latents spliced
 * in (`generate` with `inputsEmbeds`), batched over requests. The final round's last agent does
 * this to answer (paper §3.2); the Recursive-TextMAS baseline does it at every agent (textTurn).
 */
import * as tf from '@tensorflow/tfjs';
import type { OperatorFunction } from 'rxjs';
import type { Agent, SamplingOptions } from '../models/types.ts';
import {
  type AnswerMessage,
  type Batch,
  disposeTurn,
  type ErrorRecord,
  isErrorRecord,
  type TurnRequest,
} from './messages.ts';
import { padLeftEmbeds } from './prompt/splice.ts';
import { type PreparedTurn, prepareTurns } from './prompt/turnInputs.ts';
import { batchOperator, elapsedMs } from './runBatch.ts';
import { decodeFlops } from './usage/flops.ts';
import { sumUsage, type UsageEntry, type UsagePhase } from './usage/ledger.ts';

export interface GeneratedTurn {
  request: TurnRequest;
  /** Generated ids, without the prompt, cut after the first stop token. */
  ids: number[];
  text: string;
  entry: UsageEntry;
}

/**
 * Generates text for each turn request, in one batched `generate` call over left-padded
 * prompt embeddings. Borrows the requests (their latents are not disposed).
 *
 * @example const [out] = generateForTurns(solver, [turn], { maxNewTokens: 64 }, 'decode');
 */
export function generateForTurns(
  agent: Agent,
  requests: readonly TurnRequest[],
  sampling: SamplingOptions,
  phase: UsagePhase,
): Array<GeneratedTurn | ErrorRecord> {
  const start = performance.now();
  const prepared = prepareTurns(agent, requests);
  const ok = prepared.filter((p): p is PreparedTurn => !isErrorRecord(p));
  if (ok.length === 0) return prepared as ErrorRecord[];
  let generated: number[][];
  try {
    const padded = padLeftEmbeds(ok.map((p) => p.embeds));
    try {
      generated = agent.model.generate(
        { inputsEmbeds: padded.inputsEmbeds, attentionMask: padded.attentionMask },
        sampling,
      );
    } finally {
      tf.dispose([padded.inputsEmbeds, padded.attentionMask]);
    }
  } finally {
    for (const p of ok) p.embeds.dispose();
  }
  const share = elapsedMs(start) / ok.length;
  let next = 0;
  return prepared.map((p) => {
    if (isErrorRecord(p)) return p;
    const ids = generated[next++]!;
    const promptLength = p.textTokens + p.latentInputs;
    return {
      request: p.request,
      ids,
      text: agent.tokenizer.decode(ids, { skipSpecialTokens: true }),
      entry: {
        requestId: p.request.requestId,
        agent: agent.name,
        round: p.request.round,
        phase,
        promptTokens: p.textTokens,
        latentInputs: p.latentInputs,
        generatedTokens: ids.length,
        latentSteps: 0,
        flops: decodeFlops(agent.model.config, promptLength, ids.length),
        wallTimeMs: share,
      },
    };
  });
}

/**
 * The answer operator: each batch of turn requests becomes a batch of `AnswerMessage`s, each
 * carrying the request's whole usage and its totals. Consumes the requests (disposes their
 * latents); answers hold no tensors.
 *
 * @example solverTurns$.pipe(decodeAnswer(solver, { maxNewTokens: 512, temperature: 0.6, topP: 0.95 }))
 */
export function decodeAnswer(
  agent: Agent,
  sampling: SamplingOptions,
): OperatorFunction<Batch<TurnRequest>, Batch<AnswerMessage>> {
  return batchOperator(
    agent.name,
    (items) =>
      generateForTurns(agent, items, sampling, 'decode').map((g) => {
        if (isErrorRecord(g)) return g;
        const usage = [...g.request.usage, g.entry];
        return {
          kind: 'answer',
          requestId: g.request.requestId,
          round: g.request.round,
          agent: agent.name,
          text: g.text,
          ids: g.ids,
          usage,
          totals: sumUsage(usage),
        } satisfies AnswerMessage;
      }),
    disposeTurn,
  );
}
