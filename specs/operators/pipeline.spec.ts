/**
 * The whole method on a heterogeneous chain: planner (d = 96, byte-level BPE, ChatML) -> critic
 * (d = 192, SentencePiece-style BPE, Llama-2 template) -> solver (d = 128, Qwen2), two recursion
 * rounds with the solver -> planner feedback loop, and the Recursive-TextMAS baseline on the same
 * agents, topology and prompts.
 */
import { lastValueFrom, of } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent, ChatMessage } from '../../models/types.ts';
import { decodeAnswer } from '../../operators/decodeAnswer.ts';
import { latentThoughts } from '../../operators/latentThoughts.ts';
import { latentTransfer } from '../../operators/latentTransfer.ts';
import { createRecursiveLink, type RecursiveLink } from '../../operators/links/recursiveLink.ts';
import {
  type AnswerMessage,
  type Batch,
  isErrorRecord,
  type LatentMessage,
  type TextMessage,
  type TurnRequest,
  turnRequest,
  withLatents,
  withText,
} from '../../operators/messages.ts';
import { FEEDBACK_SLOT, PLANNER_SLOT, REFINED_SLOT } from '../../operators/prompt/splice.ts';
import { textTurn } from '../../operators/textTurn.ts';
import { testAgent } from './agents.ts';
import { useWasmAndCheckLeaks } from './wasm.ts';

useWasmAndCheckLeaks();

const M = 4; // latent steps
const ROUNDS = 2;
const sampling = { maxNewTokens: 6, temperature: 0 };
const questions = ['What is 12 * 7?', 'Is 91 prime? Answer yes or no, then explain briefly.'];

let planner: Agent;
let critic: Agent;
let solver: Agent;
let links: Record<string, RecursiveLink>;

beforeAll(async () => {
  planner = await testAgent({ name: 'planner', hidden: 96, tokenizer: 'bytebpe-2k', seed: 1 });
  critic = await testAgent({
    name: 'critic',
    hidden: 192,
    tokenizer: 'spbpe-2k',
    seed: 2,
    heads: 6,
  });
  solver = await testAgent({
    name: 'solver',
    hidden: 128,
    tokenizer: 'bytebpe-2k',
    seed: 3,
    architecture: 'qwen2',
  });
  links = {
    inner1: createRecursiveLink({ kind: 'inner', inDim: 96, seed: 11 }),
    inner2: createRecursiveLink({ kind: 'inner', inDim: 192, seed: 12 }),
    inner3: createRecursiveLink({ kind: 'inner', inDim: 128, seed: 13 }),
    outer12: createRecursiveLink({ kind: 'outer', inDim: 96, outDim: 192, seed: 14 }),
    outer23: createRecursiveLink({ kind: 'outer', inDim: 192, outDim: 128, seed: 15 }),
    outer31: createRecursiveLink({ kind: 'outer', inDim: 128, outDim: 96, seed: 16 }),
  };
});
afterAll(() => {
  for (const a of [planner, critic, solver]) a.model.dispose();
  for (const l of Object.values(links)) l.dispose();
});

const system = (role: string): ChatMessage => ({ role: 'system', content: `You are the ${role}.` });
const plannerPrompt = (q: string, round: number): ChatMessage[] => [
  system('planner'),
  {
    role: 'user',
    content:
      round === 1
        ? `Question: ${q}\nWrite a plan.`
        : `Question: ${q}\nFeedback signal from the previous solver round: ${FEEDBACK_SLOT}\nRevise the plan.`,
  },
];
const criticPrompt = (q: string): ChatMessage[] => [
  system('critic'),
  { role: 'user', content: `Question: ${q}\nInitial Plan: ${PLANNER_SLOT}\nRefine the plan.` },
];
const solverPrompt = (q: string): ChatMessage[] => [
  system('solver'),
  { role: 'user', content: `Question: ${q}\nRefined Plan: ${REFINED_SLOT}\nSolve it.` },
];

/** Pairs each message with the next turn of the same request (order kept by the operators). */
function nextTurns<T extends { requestId: string; kind: string }>(
  batch: Batch<T>,
  build: (item: T, index: number) => TurnRequest,
): Batch<TurnRequest> {
  return batch.map((item, i) => (isErrorRecord(item) ? item : build(item as T, i)));
}

async function runLatent(firstTurns: TurnRequest[]): Promise<Batch<AnswerMessage>> {
  let turns: Batch<TurnRequest> = firstTurns;
  for (let round = 1; round <= ROUNDS; round++) {
    const toCritic = await lastValueFrom(
      of(turns).pipe(
        latentThoughts(planner, links.inner1!, { steps: M }),
        latentTransfer(links.inner1!, links.outer12!, { to: 'critic' }),
      ),
    );
    for (const m of toCritic) if (!isErrorRecord(m)) expect(m.states.shape).toEqual([M, 192]);
    const toSolver = await lastValueFrom(
      of(
        nextTurns(toCritic, (m: LatentMessage, i) =>
          withLatents(
            turnRequest({ requestId: m.requestId, round, messages: criticPrompt(questions[i]!) }),
            PLANNER_SLOT,
            m,
          ),
        ),
      ).pipe(
        latentThoughts(critic, links.inner2!, { steps: M }),
        latentTransfer(links.inner2!, links.outer23!, { to: 'solver' }),
      ),
    );
    for (const m of toSolver) if (!isErrorRecord(m)) expect(m.states.shape).toEqual([M, 128]);
    const solverTurns = nextTurns(toSolver, (m: LatentMessage, i) =>
      withLatents(
        turnRequest({ requestId: m.requestId, round, messages: solverPrompt(questions[i]!) }),
        REFINED_SLOT,
        m,
      ),
    );
    if (round === ROUNDS) {
      return lastValueFrom(of(solverTurns).pipe(decodeAnswer(solver, sampling)));
    }
    const feedback = await lastValueFrom(
      of(solverTurns).pipe(
        latentThoughts(solver, links.inner3!, { steps: M }),
        latentTransfer(links.inner3!, links.outer31!, { to: 'planner' }),
      ),
    );
    for (const m of feedback) if (!isErrorRecord(m)) expect(m.states.shape).toEqual([M, 96]);
    turns = nextTurns(feedback, (m: LatentMessage, i) =>
      withLatents(
        turnRequest({
          requestId: m.requestId,
          round: round + 1,
          messages: plannerPrompt(questions[i]!, round + 1),
        }),
        FEEDBACK_SLOT,
        m,
      ),
    );
  }
  throw new Error('unreachable');
}

async function runText(firstTurns: TurnRequest[]): Promise<Batch<AnswerMessage>> {
  let turns: Batch<TurnRequest> = firstTurns;
  for (let round = 1; round <= ROUNDS; round++) {
    const plans = await lastValueFrom(of(turns).pipe(textTurn(planner, sampling)));
    const refined = await lastValueFrom(
      of(
        nextTurns(plans, (m: TextMessage, i) =>
          withText(
            turnRequest({ requestId: m.requestId, round, messages: criticPrompt(questions[i]!) }),
            PLANNER_SLOT,
            m,
          ),
        ),
      ).pipe(textTurn(critic, sampling)),
    );
    const solverTurns = nextTurns(refined, (m: TextMessage, i) =>
      withText(
        turnRequest({ requestId: m.requestId, round, messages: solverPrompt(questions[i]!) }),
        REFINED_SLOT,
        m,
      ),
    );
    if (round === ROUNDS)
      return lastValueFrom(of(solverTurns).pipe(decodeAnswer(solver, sampling)));
    const feedback = await lastValueFrom(of(solverTurns).pipe(textTurn(solver, sampling)));
    turns = nextTurns(feedback, (m: TextMessage, i) =>
      withText(
        turnRequest({
          requestId: m.requestId,
          round: round + 1,
          messages: plannerPrompt(questions[i]!, round + 1),
        }),
        FEEDBACK_SLOT,
        m,
      ),
    );
  }
  throw new Error('unreachable');
}

const firstTurns = () =>
  questions.map((q, i) =>
    turnRequest({ requestId: `q${i}`, round: 1, messages: plannerPrompt(q, 1) }),
  );

describe('heterogeneous chain 96 -> 192 -> 128, two rounds', () => {
  it('RecursiveMAS: latents all the way, only the last agent of the last round decodes', async () => {
    const answers = await runLatent(firstTurns());
    expect(answers).toHaveLength(2);
    for (const [i, a] of answers.entries()) {
      expect(a.kind).toBe('answer');
      const answer = a as AnswerMessage;
      expect(answer.requestId).toBe(`q${i}`);
      expect(answer.ids.length).toBeGreaterThan(0);
      // Round 1: 3 rollouts + 3 transfers; round 2: 2 rollouts + 2 transfers + the decode.
      expect(answer.usage.map((e) => `${e.round}:${e.agent}:${e.phase}`)).toEqual([
        '1:planner:latent',
        '1:planner:transfer',
        '1:critic:latent',
        '1:critic:transfer',
        '1:solver:latent',
        '1:solver:transfer',
        '2:planner:latent',
        '2:planner:transfer',
        '2:critic:latent',
        '2:critic:transfer',
        '2:solver:decode',
      ]);
      expect(answer.totals.latentSteps).toBe(5 * M);
      expect(answer.totals.generatedTokens).toBe(answer.ids.length);
      expect(answer.usage.filter((e) => e.generatedTokens > 0).map((e) => e.agent)).toEqual([
        'solver',
      ]);
      const criticTurn = answer.usage.find((e) => e.agent === 'critic' && e.phase === 'latent')!;
      expect(criticTurn.latentInputs).toBe(M);
      expect(answer.totals.flops).toBeGreaterThan(0);
      expect(answer.totals.wallTimeMs).toBeGreaterThan(0);
    }
  });

  it('Recursive-TextMAS: the same topology, every agent decodes text every round', async () => {
    const answers = await runText(firstTurns());
    expect(answers).toHaveLength(2);
    for (const a of answers) {
      const answer = a as AnswerMessage;
      expect(answer.kind).toBe('answer');
      expect(answer.usage.map((e) => `${e.round}:${e.agent}:${e.phase}`)).toEqual([
        '1:planner:text',
        '1:critic:text',
        '1:solver:text',
        '2:planner:text',
        '2:critic:text',
        '2:solver:decode',
      ]);
      expect(answer.totals.latentSteps).toBe(0);
      expect(answer.totals.latentInputs).toBe(0);
      for (const e of answer.usage) expect(e.generatedTokens).toBeGreaterThan(0);
    }
  });

  it('a request with an unfilled slot becomes an error record; the rest of the batch goes on', async () => {
    const turns = [
      turnRequest({ requestId: 'bad', round: 1, messages: criticPrompt('x') }), // no latents for its slot
      ...firstTurns(),
    ];
    const out = await lastValueFrom(
      of(turns as Batch<TurnRequest>).pipe(
        latentThoughts(planner, links.inner1!, { steps: M }),
        latentTransfer(links.inner1!, links.outer12!, { to: 'critic' }),
      ),
    );
    expect(out.map((m) => m.kind)).toEqual(['error', 'latent', 'latent']);
    expect(out[0]).toMatchObject({
      kind: 'error',
      requestId: 'bad',
      agent: 'planner',
      code: 'SLOT_UNFILLED',
    });
    for (const m of out) if (!isErrorRecord(m)) m.states.dispose();
  });

  it('a batch whose forward pass fails becomes error records, and the stream goes on', async () => {
    const wrongLink = createRecursiveLink({ kind: 'inner', inDim: 64 });
    const out = await lastValueFrom(
      of(firstTurns() as Batch<TurnRequest>).pipe(latentThoughts(planner, wrongLink, { steps: M })),
    );
    wrongLink.dispose();
    expect(out.map((m) => (isErrorRecord(m) ? m.code : m.kind))).toEqual([
      'LINK_SHAPE_MISMATCH',
      'LINK_SHAPE_MISMATCH',
    ]);
  });
});
