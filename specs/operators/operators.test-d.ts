import type { Observable, OperatorFunction } from 'rxjs';
import { describe, expectTypeOf, it } from 'vitest';
import type { Agent } from '../../models/types.ts';
import {
  type AnswerMessage,
  type Batch,
  decodeAnswer,
  type LatentMessage,
  latentThoughts,
  latentTransfer,
  type RecursiveLink,
  type TextMessage,
  type TurnRequest,
  textTurn,
} from '../../operators/index.ts';

declare const agent: Agent;
declare const link: RecursiveLink;
declare const turns$: Observable<Batch<TurnRequest>>;

describe('operator types', () => {
  it('chain: turns -> latent thoughts -> transfer', () => {
    expectTypeOf(latentThoughts(agent, link, { steps: 8 })).toEqualTypeOf<
      OperatorFunction<Batch<TurnRequest>, Batch<LatentMessage>>
    >();
    expectTypeOf(
      turns$.pipe(
        latentThoughts(agent, link, { steps: 8 }),
        latentTransfer(link, link, { to: 'b' }),
      ),
    ).toEqualTypeOf<Observable<Batch<LatentMessage>>>();
    expectTypeOf(turns$.pipe(decodeAnswer(agent, { maxNewTokens: 4 }))).toEqualTypeOf<
      Observable<Batch<AnswerMessage>>
    >();
    expectTypeOf(turns$.pipe(textTurn(agent, { maxNewTokens: 4 }))).toEqualTypeOf<
      Observable<Batch<TextMessage>>
    >();
  });

  it('a transfer cannot follow a decode', () => {
    // @ts-expect-error answers are not latent messages
    turns$.pipe(decodeAnswer(agent, { maxNewTokens: 4 }), latentTransfer(link, link, { to: 'b' }));
  });
});
