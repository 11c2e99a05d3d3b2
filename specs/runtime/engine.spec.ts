/**
 * The stream engine's logic on stub plans (stages are tiny pure functions, see stubPlan.ts):
 * round tagging and order, micro-batching, termination (max rounds, epsilon, predicate), error
 * isolation, queue policies, and tensors released after runs, errors and cancellation. Marble
 * tests run on the TestScheduler; every expected answer is written out by hand.
 */
import * as tf from '@tensorflow/tfjs';
import { lastValueFrom, map, Subject, tap, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { creditSource } from '../../runtime/credit.ts';
import { type BatchEvent, runPlan } from '../../runtime/engine.ts';
import { RuntimeError } from '../../runtime/errors.ts';
import type { Answer, RoundInfo } from '../../runtime/messages.ts';
import { request, stubPlan } from './stubPlan.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const testScheduler = () =>
  new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

function ok(requestId: string, text: string, rounds: number): Answer {
  return { requestId, topologyId: 'stub', topologyVersion: 0, text, rounds, usage: [] };
}

function failed(requestId: string, rounds: number, code: string, message: string): Answer {
  return {
    requestId,
    topologyId: 'stub',
    topologyVersion: 0,
    text: '',
    rounds,
    usage: [],
    error: { code, message },
  };
}

const R = { a: request('a'), b: request('b'), c: request('c'), d: request('d') };
const THREE_ROUNDS = 'p@1 s@1 p@2 s@2 p@3 s:decode@3';

describe('round tagging and order', () => {
  it('runs every round of every request in order and answers once per request', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const plan = stubPlan({ agents: ['p', 's'], max: 3 });
      const source = cold('-a--b|', R);
      expectObservable(source.pipe(runPlan(plan))).toBe('-a--b|', {
        a: ok('a', THREE_ROUNDS, 3),
        b: ok('b', THREE_ROUNDS, 3),
      });
    });
  });

  it('interleaves requests batch by batch, each request keeping its rounds in order', () => {
    const batches: string[] = [];
    const onBatch = (e: BatchEvent) =>
      batches.push(`${e.stage}[${e.requestIds.join(',')}]r${e.rounds.join(',')}`);
    testScheduler().run(({ cold, expectObservable }) => {
      const plan = stubPlan({ agents: ['p', 's'], max: 2 });
      const source = cold('(abcd|)', R);
      const text = 'p@1 s@1 p@2 s:decode@2';
      expectObservable(source.pipe(runPlan(plan, { batching: { maxBatchSize: 2 }, onBatch }))).toBe(
        '(abcd|)',
        {
          a: ok('a', text, 2),
          b: ok('b', text, 2),
          c: ok('c', text, 2),
          d: ok('d', text, 2),
        },
      );
    });
    // Hand-traced: the queue whose head has waited longest runs next, two requests at a time.
    expect(batches).toEqual([
      'p/latent[a,b]r1,1',
      'p/latent[c,d]r1,1',
      's/latent[a,b]r1,1',
      's/latent[c,d]r1,1',
      'p/latent[a,b]r2,2',
      'p/latent[c,d]r2,2',
      's/decode[a,b]r2,2',
      's/decode[c,d]r2,2',
    ]);
  });

  it('runs only the stages of the final round that the decoder needs', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const plan = stubPlan({ agents: ['p', 'x', 's'], finalAgents: ['p'], max: 2 });
      expectObservable(cold('a|', R).pipe(runPlan(plan))).toBe('a|', {
        a: ok('a', 'p@1 x@1 s@1 p@2 s:decode@2', 2),
      });
    });
  });
});

describe('micro-batching', () => {
  it('lets a new request linger for a partner, and runs a full batch at once', () => {
    const batches: string[][] = [];
    testScheduler().run(({ cold, expectObservable }) => {
      const plan = stubPlan({ agents: ['s'], max: 1 });
      const source = cold('-a-------b-c-', R);
      const answers = source.pipe(
        runPlan(plan, {
          batching: { maxBatchSize: 2, lingerMs: 3 },
          onBatch: (e) => batches.push(e.requestIds),
        }),
      );
      // a waits 3 frames alone; b would wait until 12 but c fills the batch at 11.
      expectObservable(answers).toBe('----a------(bc)', {
        a: ok('a', 's:decode@1', 1),
        b: ok('b', 's:decode@1', 1),
        c: ok('c', 's:decode@1', 1),
      });
    });
    expect(batches).toEqual([['a'], ['b', 'c']]);
  });

  it('batches requests of different rounds at the same stage', async () => {
    const batches: string[] = [];
    const plan = stubPlan({ agents: ['p', 's'], max: 3 });
    const source = new Subject<ReturnType<typeof request>>();
    const onBatch = (e: BatchEvent) => {
      batches.push(`${e.stage}[${e.requestIds.join(',')}]r${e.rounds.join(',')}`);
      // b arrives while a is in its first round's last stage.
      if (batches.length === 2) {
        source.next(request('b'));
        source.complete();
      }
    };
    const done = lastValueFrom(
      source.pipe(runPlan(plan, { batching: { maxBatchSize: 4 }, onBatch }), toArray()),
    );
    source.next(request('a'));
    const answers = await done;
    expect(answers).toEqual([ok('a', THREE_ROUNDS, 3), ok('b', THREE_ROUNDS, 3)]);
    expect(batches).toEqual([
      'p/latent[a]r1',
      's/latent[a]r1',
      'p/latent[b,a]r1,2',
      's/latent[b,a]r1,2',
      'p/latent[b,a]r2,3',
      's/latent[b]r2',
      's/decode[a]r3',
      'p/latent[b]r3',
      's/decode[b]r3',
    ]);
  });
});

describe('asynchronous stages (decoding with tools)', () => {
  it('runs other stages while an async stage is pending, and isolates its failures', async () => {
    const log: string[] = [];
    const plan = stubPlan({
      agents: ['p', 's'],
      max: 1,
      asyncDecodeMs: 10,
      fails: (agent, s) => agent === 's' && s.request.requestId === 'c',
    });
    const source = new Subject<ReturnType<typeof request>>();
    const done = lastValueFrom(
      source.pipe(
        runPlan(plan, {
          batching: { maxBatchSize: 2 },
          onBatch: (e) => {
            log.push(`${e.stage}[${e.requestIds.join(',')}]`);
            // c arrives while a and b are decoding.
            if (e.stage === 's/decode' && e.requestIds[0] === 'a') {
              source.next(request('c'));
              source.complete();
            }
          },
        }),
        tap((a) => log.push(`answer ${a.requestId}${a.error ? ` ${a.error.code}` : ''}`)),
        toArray(),
      ),
    );
    source.next(request('a'));
    source.next(request('b'));
    const answers = await done;
    // c joins p while a and b decode; the decode of [a, b] fails nothing; c's fails alone.
    expect(log).toEqual([
      'p/latent[a,b]',
      's/decode[a,b]',
      'p/latent[c]',
      'answer a',
      'answer b',
      's/decode[c]',
      'answer c STUB_FAILURE',
    ]);
    expect(answers.map((a) => a.text)).toEqual(['p@1 s:decode@1', 'p@1 s:decode@1', '']);
  });
});

describe('termination', () => {
  it('stops at max rounds', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const plan = stubPlan({ agents: ['s'], max: 2 });
      expectObservable(cold('a|', R).pipe(runPlan(plan))).toBe('a|', {
        a: ok('a', 's@1 s:decode@2', 2),
      });
    });
  });

  it('stops early once the feedback latents change by less than epsilon', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      // change after round r: undefined, 1/2, 1/3, 1/4, ... ; epsilon 0.4 -> stop after round 3.
      const plan = stubPlan({
        agents: ['p', 's'],
        max: 6,
        epsilon: 0.4,
        change: (s) => (s.round === 1 ? undefined : 1 / s.round),
      });
      expectObservable(cold('a|', R).pipe(runPlan(plan))).toBe('a|', {
        a: ok('a', 'p@1 s@1 p@2 s@2 p@3 s@3 s:decode@3', 3),
      });
    });
  });

  it('never stops early with epsilon 0', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const plan = stubPlan({ agents: ['s'], max: 3, epsilon: 0, change: () => 0 });
      expectObservable(cold('a|', R).pipe(runPlan(plan))).toBe('a|', {
        a: ok('a', 's@1 s@2 s:decode@3', 3),
      });
    });
  });

  it('stops a request when the user predicate says so, and tells it the round and change', () => {
    const seen: Omit<RoundInfo, 'request'>[] = [];
    testScheduler().run(({ cold, expectObservable }) => {
      const plan = stubPlan({
        agents: ['s'],
        max: 4,
        change: (s) => (s.round === 1 ? undefined : 0.5),
      });
      const stop = ({ request: _r, ...info }: RoundInfo) => {
        seen.push(info);
        return info.requestId === 'b' && info.round === 2;
      };
      expectObservable(cold('(ab|)', R).pipe(runPlan(plan, { stop }))).toBe('(ba|)', {
        a: ok('a', 's@1 s@2 s@3 s:decode@4', 4),
        b: ok('b', 's@1 s@2 s:decode@2', 2),
      });
    });
    expect(seen).toEqual([
      { requestId: 'a', round: 1, change: undefined },
      { requestId: 'b', round: 1, change: undefined },
      { requestId: 'a', round: 2, change: 0.5 },
      { requestId: 'b', round: 2, change: 0.5 },
      { requestId: 'a', round: 3, change: 0.5 },
    ]);
  });
});

describe('error isolation', () => {
  it('turns a failing request into an error answer; its batch-mates and later requests go on', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const plan = stubPlan({
        agents: ['p', 's'],
        max: 3,
        fails: (agent, s) => agent === 's' && s.request.requestId === 'b' && s.round === 2,
      });
      const source = cold('(abc)-d|', R);
      expectObservable(source.pipe(runPlan(plan))).toBe('(bac)-d|', {
        a: ok('a', THREE_ROUNDS, 3),
        b: failed('b', 1, 'STUB_FAILURE', 'stage s/latent (round 2): boom at s for b'),
        c: ok('c', THREE_ROUNDS, 3),
        d: ok('d', THREE_ROUNDS, 3),
      });
    });
  });

  it('answers malformed and duplicate requests with errors, and goes on', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const plan = stubPlan({ agents: ['s'], max: 1 });
      const bad = { requestId: 'x', input: 42 } as unknown as ReturnType<typeof request>;
      const source = cold('(xaa)|', { x: bad, a: request('a') });
      expectObservable(source.pipe(runPlan(plan))).toBe('(xda)|', {
        x: failed('x', 0, 'INVALID_REQUEST', 'request "x": input must be a string'),
        d: failed('a', 0, 'DUPLICATE_REQUEST', 'request "a" is already in flight'),
        a: ok('a', 's:decode@1', 1),
      });
    });
  });

  it('fails a request whose stop predicate throws', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const plan = stubPlan({ agents: ['s'], max: 3 });
      const stop = () => {
        throw new Error('nope');
      };
      expectObservable(cold('a|', R).pipe(runPlan(plan, { stop }))).toBe('a|', {
        a: failed('a', 1, 'STOP_PREDICATE_FAILED', 'the stop predicate threw after round 1: nope'),
      });
    });
  });

  it('answers a request whose deadline has passed with DEADLINE_EXCEEDED', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const plan = stubPlan({ agents: ['s'], max: 1 });
      const late = request('a', { deadlineUnixMs: 1 });
      expectObservable(cold('a|', { a: late }).pipe(runPlan(plan))).toBe('a|', {
        a: failed(
          'a',
          0,
          'DEADLINE_EXCEEDED',
          'request a: deadline 1970-01-01T00:00:00.001Z passed in round 1',
        ),
      });
    });
  });
});

describe('queue policies (capacity 2, three requests at once)', () => {
  const plan = stubPlan({ agents: ['s'], max: 1 });
  const full = (policy: string) => `queue full: 2 requests in flight (policy '${policy}')`;

  it("'reject' answers the newcomer with QUEUE_FULL at once", () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const out = cold('(abc|)', R).pipe(
        runPlan(plan, { queue: { capacity: 2, policy: 'reject' } }),
      );
      expectObservable(out).toBe('(cab|)', {
        a: ok('a', 's:decode@1', 1),
        b: ok('b', 's:decode@1', 1),
        c: failed('c', 0, 'QUEUE_FULL', full('reject')),
      });
    });
  });

  it("'drop-oldest' cancels the oldest request with DROPPED and admits the newcomer", () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const out = cold('(abc|)', R).pipe(
        runPlan(plan, { queue: { capacity: 2, policy: 'drop-oldest' } }),
      );
      expectObservable(out).toBe('(abc|)', {
        a: failed('a', 0, 'DROPPED', `dropped to make room for request c: ${full('drop-oldest')}`),
        b: ok('b', 's:decode@1', 1),
        c: ok('c', 's:decode@1', 1),
      });
    });
  });

  it("'error' fails the stream", () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const out = cold('(abc|)', R).pipe(
        runPlan(plan, { queue: { capacity: 2, policy: 'error' } }),
      );
      expectObservable(out).toBe(
        '#',
        undefined,
        new RuntimeError('QUEUE_FULL', `${full('error')}; request c arrived`),
      );
    });
  });

  it("'block' pulls from a credit source no faster than requests are answered", async () => {
    const plan4 = stubPlan({ agents: ['p', 's'], max: 2 });
    const ids = Array.from({ length: 12 }, (_, i) => `r${i}`);
    let emitted = 0;
    let answered = 0;
    let mostInFlight = 0;
    const answers = await lastValueFrom(
      creditSource(ids.map((id) => request(id))).pipe(
        tap(() => {
          emitted++;
          mostInFlight = Math.max(mostInFlight, emitted - answered);
        }),
        map((r) => r),
        runPlan(plan4, { queue: { capacity: 3, policy: 'block' }, batching: { maxBatchSize: 2 } }),
        tap(() => answered++),
        toArray(),
      ),
    );
    expect(answers.map((a) => a.requestId).sort()).toEqual([...ids].sort());
    expect(answers.every((a) => a.error === undefined)).toBe(true);
    expect(mostInFlight).toBe(3);
  });
});

describe('tensors', () => {
  it('returns to the baseline tensor count after runs, errors and cancellation', async () => {
    const plan = stubPlan({
      agents: ['p', 's'],
      max: 3,
      tensors: true,
      fails: (agent, s) => agent === 'p' && s.request.requestId === 'b' && s.round === 2,
    });
    const baseline = tf.memory().numTensors;
    const answers = await lastValueFrom(
      creditSource([request('a'), request('b'), request('c')]).pipe(runPlan(plan), toArray()),
    );
    expect(answers.map((a) => [a.requestId, a.error?.code ?? 'ok'])).toEqual([
      ['b', 'STUB_FAILURE'],
      ['a', 'ok'],
      ['c', 'ok'],
    ]);
    expect(tf.memory().numTensors).toBe(baseline);

    // Cancellation: requests lingering and mid-flight when the subscriber leaves.
    testScheduler().run(({ cold, expectObservable }) => {
      const out = cold('ab-c', R).pipe(
        runPlan(plan, { batching: { maxBatchSize: 8, lingerMs: 5 } }),
      );
      expectObservable(out, '---!').toBe('');
    });
    expect(tf.memory().numTensors).toBe(baseline);
  });
});
