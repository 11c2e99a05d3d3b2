/**
 * The Recursive-TextMAS baseline's agent turn: the same agents, topology and prompts as the
 * latent path, but every agent decodes text every round and the next agent reads that text as
 * tokens (its own tokenizer), in place of the latent slot (`withText`). The last agent of the
 * last round answers with `decodeAnswer`, as in the latent path.
 */
import type { OperatorFunction } from 'rxjs';
import type { Agent, SamplingOptions } from '../models/types.ts';
import { generateForTurns } from './decodeAnswer.ts';
import {
  type Batch,
  disposeTurn,
  isErrorRecord,
  type TextMessage,
  type TurnRequest,
} from './messages.ts';
import { batchOperator } from './runBatch.ts';

/**
 * Each batch of turn requests becomes a batch of `TextMessage`s (the decoded text and ids), in
 * one batched `generate`. Consumes the requests; text messages hold no tensors.
 *
 * @example plannerTurns$.pipe(textTurn(planner, { maxNewTokens: 256 }))
 */
export function textTurn(
  agent: Agent,
  sampling: SamplingOptions,
): OperatorFunction<Batch<TurnRequest>, Batch<TextMessage>> {
  return batchOperator(
    agent.name,
    (items) =>
      generateForTurns(agent, items, sampling, 'text').map((g) =>
        isErrorRecord(g)
          ? g
          : ({
              kind: 'text',
              requestId: g.request.requestId,
              round: g.request.round,
              from: agent.name,
              text: g.text,
              ids: g.ids,
              usage: [...g.request.usage, g.entry],
            } satisfies TextMessage),
      ),
    disposeTurn,
  );
}
