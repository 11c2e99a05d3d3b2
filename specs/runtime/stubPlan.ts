/**
 * A plan whose stages are tiny pure functions (no models): each stage appends `agent@round` to a
 * trace, the decode stage appends `agent:decode@round`, and the answer text is the trace. It
 * drives the stream-logic tests (round tagging, batching, termination, errors, memory), where
 * the expected outputs are written by hand from the IR semantics.
 */
import * as tf from '@tensorflow/tfjs';
import type { Request } from '../../runtime/messages.ts';
import type { Plan, Stage } from '../../runtime/stage.ts';

export interface StubState {
  readonly request: Request;
  readonly round: number;
  readonly trace: readonly string[];
  /** One tensor per state when `tensors` is on: replaced at every stage. */
  readonly tensor?: tf.Tensor;
}

export class StubFailure extends Error {
  readonly code = 'STUB_FAILURE';
}

export interface StubPlanOptions {
  /** Agents in execution order; the last one decodes. */
  agents: string[];
  /** Agents that run in the final round before the decoder decodes (default: all but the decoder). */
  finalAgents?: string[];
  max: number;
  epsilon?: number;
  change?: (state: StubState) => number | undefined;
  /** Throw for this request at this stage (the whole batch call throws, as real stages do). */
  fails?: (agent: string, state: StubState) => boolean;
  /** Give every state a tensor, replaced at every stage. */
  tensors?: boolean;
  /** Make the decode stage asynchronous (like decoding with tools), resolving after this many ms. */
  asyncDecodeMs?: number;
}

export function stubPlan(options: StubPlanOptions): Plan<StubState> {
  const decoder = options.agents[options.agents.length - 1]!;
  const step =
    (agent: string, label: string) =>
    (state: StubState): StubState => {
      if (options.fails?.(agent, state)) {
        throw new StubFailure(`boom at ${agent} for ${state.request.requestId}`);
      }
      return {
        ...state,
        trace: [...state.trace, label.replace('%r', String(state.round))],
        tensor: options.tensors ? tf.scalar(state.round) : undefined,
      };
    };
  const stage = (agent: string, kind: 'latent' | 'decode'): Stage<StubState> => {
    const f = step(agent, kind === 'latent' ? `${agent}@%r` : `${agent}:decode@%r`);
    // Like a real stage: what a failed call created is freed (tidy), what it returns is kept.
    const run = (batch: readonly StubState[]) =>
      tf.tidy(() => batch.map(f) as unknown as tf.TensorContainer) as unknown as StubState[];
    return { id: `${agent}/${kind}`, agent, kind, run };
  };
  const syncDecode = stage(decoder, 'decode');
  const delay = options.asyncDecodeMs;
  const decode: Stage<StubState> =
    delay === undefined
      ? syncDecode
      : {
          ...syncDecode,
          run: (batch) =>
            new Promise((resolve, reject) =>
              setTimeout(() => {
                try {
                  resolve(syncDecode.run(batch) as StubState[]);
                } catch (error) {
                  reject(error);
                }
              }, delay),
            ),
        };
  const finalAgents = options.finalAgents ?? options.agents.slice(0, -1);
  return {
    name: 'stub',
    mode: 'latent',
    rounds: { max: options.max, epsilon: options.epsilon ?? 0 },
    roundStages: options.agents.map((a) => stage(a, 'latent')),
    finalStages: [...finalAgents.map((a) => stage(a, 'latent')), decode],
    earlyStopStage: decode,
    start: (request) => ({
      request,
      round: 1,
      trace: [],
      tensor: options.tensors ? tf.scalar(0) : undefined,
    }),
    change: (state) => options.change?.(state),
    advance: (state) => ({ ...state, round: state.round + 1 }),
    text: (state) => state.trace.join(' '),
    usage: () => [],
    tensors: (state) => (state.tensor ? [state.tensor] : []),
  };
}

export function request(requestId: string, extra: Partial<Request> = {}): Request {
  return { requestId, input: `question ${requestId}`, ...extra };
}
