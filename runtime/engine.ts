/**
 * The stream engine: runs a plan over a stream of requests, with recursive rounds as a feedback
 * loop. Every request in flight is one token (requestId, round, stage) waiting in the queue of
 * its next stage; tokens waiting for the same stage are micro-batched into one call, whatever
 * their round, so many requests interleave while each request's rounds stay in order (a request
 * has exactly one token). After its last stage a round either loops back (the token re-enters
 * the first stage with round + 1), stops early (convergence or the user's predicate: the decoder
 * decodes from the round just run), or, in the final round, answers.
 *
 * Memory stays bounded: at most `queue.capacity` requests are admitted and unanswered; what
 * happens to one more is the queue policy (see `QueuePolicy`).
 */
import type * as tf from '@tensorflow/tfjs';
import {
  asyncScheduler,
  Observable,
  type OperatorFunction,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import { type CreditPort, withCreditPort } from './credit.ts';
import { errorCode, errorMessage, RuntimeError } from './errors.ts';
import {
  type Answer,
  answerUsage,
  checkRequest,
  type Request,
  type RoundInfo,
} from './messages.ts';
import { type Plan, type Stage, stagesFor } from './stage.ts';

/**
 * What happens to a request that arrives when `capacity` requests are already in flight.
 * - `reject` (default): it is answered at once with error QUEUE_FULL. Memory stays bounded for
 *   any source, every request gets exactly one answer, and work already admitted is never thrown
 *   away: load shedding at the door, like an HTTP 503.
 * - `drop-oldest`: the oldest request in flight is cancelled (tensors freed) and answered with
 *   error DROPPED; the new one takes its place. For sources where fresh questions matter more.
 * - `error`: the stream fails with RuntimeError QUEUE_FULL (fail fast).
 * - `block`: backpressure through the credit protocol: a `creditSource` upstream emits only
 *   while the engine has room. A source that ignores credits gets QUEUE_FULL answers.
 */
export type QueuePolicy = 'reject' | 'drop-oldest' | 'error' | 'block';

export const QUEUE_POLICIES: readonly QueuePolicy[] = ['reject', 'drop-oldest', 'error', 'block'];

export interface BatchingOptions {
  /** Most requests in one stage call. Default 8. */
  maxBatchSize: number;
  /**
   * How long a newly arrived request may wait for others to fill its first batch, in ms.
   * Requests already past their first stage never wait: they travel as the batch they ran in.
   * Default 0 (batch whatever is queued when the engine is free).
   */
  lingerMs: number;
}

export interface QueueOptions {
  /** Most requests admitted and not yet answered. Default 64. */
  capacity: number;
  /** Default 'reject'. */
  policy: QueuePolicy;
}

/** One stage call, for instrumentation and tests. */
export interface BatchEvent {
  kind: 'batch';
  stage: string;
  agent: string;
  requestIds: string[];
  rounds: number[];
}

export interface EngineOptions {
  batching?: Partial<BatchingOptions>;
  queue?: Partial<QueueOptions>;
  /** Stop a request after a round (not the last) when this returns true. */
  stop?: (info: RoundInfo) => boolean;
  /** Where the engine's work is scheduled. Default asyncScheduler (tests pass a TestScheduler). */
  scheduler?: SchedulerLike;
  /** Called for every stage call. */
  onBatch?: (event: BatchEvent) => void;
}

interface Token<S> {
  /** Admission order (drop-oldest picks the smallest). */
  readonly seq: number;
  readonly request: Request;
  round: number;
  final: boolean;
  /** Stopped early: only the early-stop decode remains. */
  stopping: boolean;
  stageIndex: number;
  state: S;
  /** Scheduler time from which it may run in a partial batch. */
  readyAt: number;
  /** FIFO order across queues. */
  queuedSeq: number;
  queuedAt: string | undefined;
}

type Outcome<S> = { ok: true; state: S } | { ok: false; error: unknown };

/**
 * Checked options with defaults filled in; throws RuntimeError INVALID_OPTIONS naming the bad one.
 * @example engineDefaults({}) // { batching: { maxBatchSize: 8, lingerMs: 0 }, queue: { capacity: 64, policy: 'reject' } }
 */
export function engineDefaults(options: EngineOptions): {
  batching: BatchingOptions;
  queue: QueueOptions;
} {
  const batching = { maxBatchSize: 8, lingerMs: 0, ...options.batching };
  const queue: QueueOptions = { capacity: 64, policy: 'reject', ...options.queue };
  if (!Number.isInteger(batching.maxBatchSize) || batching.maxBatchSize < 1) {
    throw new RuntimeError(
      'INVALID_OPTIONS',
      `batching.maxBatchSize must be an integer >= 1, got ${batching.maxBatchSize}`,
    );
  }
  if (!(batching.lingerMs >= 0)) {
    throw new RuntimeError(
      'INVALID_OPTIONS',
      `batching.lingerMs must be >= 0, got ${batching.lingerMs}`,
    );
  }
  if (!Number.isInteger(queue.capacity) || queue.capacity < 1) {
    throw new RuntimeError(
      'INVALID_OPTIONS',
      `queue.capacity must be an integer >= 1, got ${queue.capacity}`,
    );
  }
  if (!QUEUE_POLICIES.includes(queue.policy)) {
    throw new RuntimeError(
      'INVALID_OPTIONS',
      `queue.policy must be one of ${QUEUE_POLICIES.join(', ')}, got ${String(queue.policy)}`,
    );
  }
  return { batching, queue };
}

/**
 * Runs a plan as an operator from requests to answers: one answer per request, in the order they
 * finish. Completes when the source has completed and every request is answered. Unsubscribing
 * cancels the requests in flight and frees their tensors.
 * @example
 * requests$.pipe(runPlan(plan, { batching: { maxBatchSize: 4, lingerMs: 5 } })).subscribe(console.log)
 */
export function runPlan<S>(
  plan: Plan<S>,
  options: EngineOptions = {},
): OperatorFunction<Request, Answer> {
  const { batching, queue } = engineDefaults(options);
  const scheduler = options.scheduler ?? asyncScheduler;
  const stageIds = new Map<string, Stage<S>>();
  for (const stage of [...plan.roundStages, ...plan.finalStages, plan.earlyStopStage]) {
    stageIds.set(stage.id, stage);
  }

  return (source) =>
    new Observable<Answer>((subscriber) => {
      const queues = new Map<string, Token<S>[]>();
      const live = new Map<string, Token<S>>();
      let admitted = 0;
      let queuedCounter = 0;
      let sourceDone = false;
      let closed = false;
      let pumpAction: Subscription | undefined;
      let pumpAt = Number.POSITIVE_INFINITY;
      let grant: ((credits: number) => void) | undefined;
      /** Stages with an async batch in flight. */
      const busy = new Set<string>();

      const answerBase = (request: {
        requestId?: unknown;
        topologyId?: unknown;
        topologyVersion?: unknown;
      }) => ({
        requestId:
          typeof request.requestId === 'string'
            ? request.requestId
            : String(request.requestId ?? ''),
        topologyId: typeof request.topologyId === 'string' ? request.topologyId : plan.name,
        topologyVersion: typeof request.topologyVersion === 'number' ? request.topologyVersion : 0,
      });

      const emit = (answer: Answer) => {
        if (!closed) subscriber.next(answer);
      };

      const release = (old: S, next: S | undefined) => {
        const keep = new Set<tf.Tensor>(next === undefined ? [] : plan.tensors(next));
        for (const t of plan.tensors(old)) if (!keep.has(t) && !t.isDisposed) t.dispose();
      };

      const unqueue = (token: Token<S>) => {
        if (token.queuedAt === undefined) return;
        const q = queues.get(token.queuedAt);
        const at = q?.indexOf(token) ?? -1;
        if (q !== undefined && at >= 0) q.splice(at, 1);
        token.queuedAt = undefined;
      };

      /** The request leaves the engine: tensors freed, a credit returned. */
      const finish = (token: Token<S>) => {
        unqueue(token);
        live.delete(token.request.requestId);
        release(token.state, undefined);
        grant?.(1);
        if (sourceDone && live.size === 0 && !closed) subscriber.complete();
      };

      const succeed = (token: Token<S>) => {
        const answer: Answer = {
          ...answerBase(token.request),
          text: plan.text(token.state),
          rounds: token.round,
          usage: answerUsage(plan.usage(token.state)),
        };
        // Leave first: a subscriber reacting to the answer sees the request gone.
        live.delete(token.request.requestId);
        emit(answer);
        finish(token);
      };

      const fail = (token: Token<S>, error: unknown, where?: string) => {
        const completed = token.stopping ? token.round : token.round - 1;
        const message = errorMessage(error);
        const answer: Answer = {
          ...answerBase(token.request),
          text: '',
          rounds: completed,
          usage: answerUsage(plan.usage(token.state)),
          error: { code: errorCode(error), message: where ? `${where}: ${message}` : message },
        };
        live.delete(token.request.requestId);
        emit(answer);
        finish(token);
      };

      /** Answers a request that never entered (it still spent a credit: give it back). */
      const refuse = (request: unknown, error: unknown) => {
        emit({
          ...answerBase((request ?? {}) as Record<string, unknown>),
          text: '',
          rounds: 0,
          usage: [],
          error: { code: errorCode(error), message: errorMessage(error) },
        });
        grant?.(1);
      };

      const enqueue = (token: Token<S>, lingerMs: number) => {
        const stage = stagesFor(plan, token.final, token.stopping)[token.stageIndex]!;
        token.readyAt = scheduler.now() + lingerMs;
        token.queuedSeq = ++queuedCounter;
        token.queuedAt = stage.id;
        let q = queues.get(stage.id);
        if (q === undefined) {
          q = [];
          queues.set(stage.id, q);
        }
        q.push(token);
      };

      const schedulePump = (delay: number) => {
        if (closed) return;
        const at = scheduler.now() + delay;
        if (pumpAction !== undefined && pumpAt <= at) return;
        pumpAction?.unsubscribe();
        pumpAt = at;
        pumpAction = scheduler.schedule(() => {
          pumpAction = undefined;
          pumpAt = Number.POSITIVE_INFINITY;
          pump();
        }, delay);
      };

      const admit = (value: Request) => {
        let request: Request;
        try {
          request = checkRequest(value);
        } catch (error) {
          refuse(value, error);
          return;
        }
        if (live.has(request.requestId)) {
          refuse(
            request,
            new RuntimeError(
              'DUPLICATE_REQUEST',
              `request ${JSON.stringify(request.requestId)} is already in flight`,
            ),
          );
          return;
        }
        if (live.size >= queue.capacity) {
          const full = `queue full: ${queue.capacity} requests in flight (policy '${queue.policy}')`;
          if (queue.policy === 'error') {
            subscriber.error(
              new RuntimeError('QUEUE_FULL', `${full}; request ${request.requestId} arrived`),
            );
            return;
          }
          if (queue.policy === 'drop-oldest') {
            const oldest = [...live.values()].reduce((a, b) => (b.seq < a.seq ? b : a));
            fail(
              oldest,
              new RuntimeError(
                'DROPPED',
                `dropped to make room for request ${request.requestId}: ${full}`,
              ),
            );
          } else {
            const why =
              queue.policy === 'block' ? `${full}; the source emitted without credit` : full;
            refuse(request, new RuntimeError('QUEUE_FULL', why));
            return;
          }
        }
        let state: S;
        try {
          state = plan.start(request);
        } catch (error) {
          refuse(request, error);
          return;
        }
        const token: Token<S> = {
          seq: ++admitted,
          request,
          round: 1,
          final: plan.rounds.max === 1,
          stopping: false,
          stageIndex: 0,
          state,
          readyAt: 0,
          queuedSeq: 0,
          queuedAt: undefined,
        };
        live.set(request.requestId, token);
        enqueue(token, batching.lingerMs);
        schedulePump(0);
      };

      /** After a round that is not the last: stop early, or loop back into the next round. */
      const endRound = (token: Token<S>) => {
        let stop: boolean;
        try {
          const change = plan.change(token.state);
          const epsilon = plan.rounds.epsilon;
          stop = epsilon > 0 && change !== undefined && change < epsilon;
          if (!stop && options.stop !== undefined) {
            try {
              stop = options.stop({
                requestId: token.request.requestId,
                request: token.request,
                round: token.round,
                change,
              });
            } catch (error) {
              throw new RuntimeError(
                'STOP_PREDICATE_FAILED',
                `the stop predicate threw after round ${token.round}: ${errorMessage(error)}`,
                { cause: error },
              );
            }
          }
        } catch (error) {
          token.round += 1; // the round did complete
          fail(token, error);
          return;
        }
        if (stop) {
          token.stopping = true;
          token.stageIndex = 0;
          enqueue(token, 0);
          return;
        }
        let next: S;
        try {
          next = plan.advance(token.state);
        } catch (error) {
          token.round += 1;
          fail(token, error);
          return;
        }
        release(token.state, next);
        token.state = next;
        token.round += 1;
        token.final = token.round >= plan.rounds.max;
        token.stageIndex = 0;
        enqueue(token, 0);
      };

      const advanceToken = (token: Token<S>, next: S) => {
        release(token.state, next);
        token.state = next;
        token.stageIndex += 1;
        const stages = stagesFor(plan, token.final, token.stopping);
        if (token.stageIndex < stages.length) enqueue(token, 0);
        else if (token.final || token.stopping) succeed(token);
        else endRound(token);
      };

      /** Routes a batch's outcomes; tokens that left meanwhile (dropped, expired) are released. */
      const settle = (stage: Stage<S>, tokens: Token<S>[], outcomes: Outcome<S>[]) => {
        tokens.forEach((token, i) => {
          const outcome = outcomes[i]!;
          if (closed || live.get(token.request.requestId) !== token) {
            if (outcome.ok) release(outcome.state, token.state);
            return;
          }
          if (outcome.ok) advanceToken(token, outcome.state);
          else fail(token, outcome.error, `stage ${stage.id} (round ${token.round})`);
        });
      };

      /** Runs a stage (sync or async); a failed batch is retried request by request. */
      const outcomesOf = (
        stage: Stage<S>,
        tokens: Token<S>[],
      ): Outcome<S>[] | Promise<Outcome<S>[]> => {
        const checked = (out: S[]): Outcome<S>[] => {
          if (out.length !== tokens.length) {
            throw new RuntimeError(
              'STAGE_CONTRACT',
              `stage ${stage.id} returned ${out.length} states for a batch of ${tokens.length}`,
            );
          }
          return out.map((state) => ({ ok: true, state }));
        };
        // Isolate a failure: run each request alone, so one bad request fails alone.
        const isolate = (error: unknown): Outcome<S>[] | Promise<Outcome<S>[]> => {
          if (tokens.length === 1) return [{ ok: false, error }];
          const singles = tokens.map((token) => outcomesOf(stage, [token]));
          return singles.some((o) => o instanceof Promise)
            ? Promise.all(singles).then((all) => all.map((o) => o[0]!))
            : (singles as Outcome<S>[][]).map((o) => o[0]!);
        };
        let result: S[] | Promise<S[]>;
        try {
          result = stage.run(tokens.map((t) => t.state));
        } catch (error) {
          return isolate(error);
        }
        if (result instanceof Promise) {
          return result.then(checked).catch((error: unknown) => isolate(error));
        }
        try {
          return checked(result);
        } catch (error) {
          return isolate(error);
        }
      };

      const runStage = (stage: Stage<S>, tokens: Token<S>[]) => {
        options.onBatch?.({
          kind: 'batch',
          stage: stage.id,
          agent: stage.agent,
          requestIds: tokens.map((t) => t.request.requestId),
          rounds: tokens.map((t) => t.round),
        });
        const outcomes = outcomesOf(stage, tokens);
        if (!(outcomes instanceof Promise)) {
          settle(stage, tokens, outcomes);
          return;
        }
        // An async stage (tool calls): other stages run meanwhile; this one takes no new batch.
        busy.add(stage.id);
        outcomes
          .then((o) => {
            busy.delete(stage.id);
            settle(stage, tokens, o);
            schedulePump(0);
          })
          .catch((error: unknown) => subscriber.error(error));
      };

      const expireDeadlines = () => {
        const now = Date.now();
        for (const token of [...live.values()]) {
          const deadline = token.request.deadlineUnixMs;
          if (deadline !== undefined && deadline > 0 && now > deadline) {
            fail(
              token,
              new RuntimeError(
                'DEADLINE_EXCEEDED',
                `request ${token.request.requestId}: deadline ${new Date(deadline).toISOString()} passed in round ${token.round}`,
              ),
            );
          }
        }
      };

      /** Runs one batch (the ready queue whose head has waited longest), then yields. */
      const pump = () => {
        if (closed) return;
        expireDeadlines();
        if (closed) return;
        const now = scheduler.now();
        let chosen: Token<S>[] | undefined;
        let wakeAt = Number.POSITIVE_INFINITY;
        for (const [id, q] of queues) {
          if (q.length === 0 || busy.has(id)) continue;
          const ready = q.length >= batching.maxBatchSize || q.some((t) => t.readyAt <= now);
          if (ready) {
            if (chosen === undefined || q[0]!.queuedSeq < chosen[0]!.queuedSeq) chosen = q;
          } else {
            wakeAt = Math.min(wakeAt, ...q.map((t) => t.readyAt));
          }
        }
        if (chosen === undefined) {
          if (wakeAt < Number.POSITIVE_INFINITY) schedulePump(Math.max(0, wakeAt - now));
          return;
        }
        const stage = stageIds.get(chosen[0]!.queuedAt!)!;
        const tokens = chosen.splice(0, batching.maxBatchSize);
        for (const t of tokens) t.queuedAt = undefined;
        runStage(stage, tokens);
        if ([...queues].some(([id, q]) => q.length > 0 && !busy.has(id))) schedulePump(0);
      };

      const port: CreditPort = {
        connect(g) {
          grant = g;
        },
      };
      const subscribeSource = () =>
        source.subscribe({
          next: (request) => admit(request),
          error: (error) => subscriber.error(error),
          complete: () => {
            sourceDone = true;
            if (live.size === 0) subscriber.complete();
          },
        });
      const sourceSubscription =
        queue.policy === 'block' ? withCreditPort(port, subscribeSource) : subscribeSource();
      grant?.(queue.capacity);

      return () => {
        closed = true;
        pumpAction?.unsubscribe();
        sourceSubscription.unsubscribe();
        for (const token of live.values()) release(token.state, undefined);
        live.clear();
        queues.clear();
      };
    });
}
