/**
 * The records that travel between workers, and their validation on arrival. A hand-off is an
 * rmas.v1.LatentState (the sender's last-layer latents H, [latentSteps, hidden] in the sender's
 * space: the receiver applies the links, as the in-process runtime does), keyed by request id,
 * with headers that carry what the receiver needs besides the latents:
 *
 * | header              | value                                                            |
 * | ------------------- | ---------------------------------------------------------------- |
 * | `rmas-message-type` | `rmas.v1.LatentState`, or `rmas.v1.Request` for a round trigger   |
 * | `rmas-edge`         | `forward` or `feedback` (feedback: read in the round after `round`) |
 * | `rmas-request`      | the request (rmas.v1.Request bytes): every agent reads `{{question}}` |
 * | `rmas-round`        | on a trigger: the round it starts                                |
 * | `rmas-usage`        | JSON usage rows so far (see usageRows.ts)                         |
 */
import type { OutputRecord, SourceMessage } from '../kafka/index.ts';
import {
  decodeLatentState,
  decodeRequest,
  encodeLatentState,
  encodeRequest,
  packTensor,
  type TensorDType,
  type TopologyCatalog,
  unpackTensor,
  WireError,
  type WireLatentState,
  type WireRequest,
} from '../wire/index.ts';
import type { AgentRoute, EdgeKind, InputSlot } from './routes.ts';
import { decodeUsageRows, encodeUsageRows, type UsageRow } from './usageRows.ts';

export const hopHeaders = {
  messageType: 'rmas-message-type',
  edge: 'rmas-edge',
  request: 'rmas-request',
  round: 'rmas-round',
  usage: 'rmas-usage',
} as const;

const LATENT = 'rmas.v1.LatentState';
const REQUEST = 'rmas.v1.Request';

/** The topology a worker serves. */
export interface ServedId {
  readonly id: string;
  readonly version: number;
}

/**
 * The record of a hand-off: `values` ([steps, hidden] row-major, the sender's space) from `from`
 * to `to` along `edge`, produced in round `round`.
 *
 * @example latentRecord({ topic, served, request, from: 'planner', to: 'critic', edge: 'forward', round: 1, shape: [2, 96], values, usage: [] })
 */
export function latentRecord(hop: {
  topic: string;
  served: ServedId;
  request: WireRequest;
  from: string;
  to: string;
  edge: EdgeKind;
  round: number;
  shape: readonly [number, number];
  values: Float32Array;
  usage: readonly UsageRow[];
  dtype?: TensorDType;
}): OutputRecord {
  const dtype = hop.dtype ?? 'F32';
  const state: WireLatentState = {
    requestId: hop.request.requestId,
    topologyId: hop.served.id,
    topologyVersion: hop.served.version,
    round: hop.round,
    fromAgent: hop.from,
    toAgent: hop.to,
    shape: [...hop.shape],
    dtype,
    data: packTensor(hop.values, dtype),
  };
  return {
    topic: hop.topic,
    message: {
      key: hop.request.requestId,
      value: Buffer.from(encodeLatentState(state)),
      headers: {
        [hopHeaders.messageType]: LATENT,
        [hopHeaders.edge]: hop.edge,
        [hopHeaders.request]: Buffer.from(encodeRequest(hop.request)),
        [hopHeaders.usage]: encodeUsageRows(hop.usage),
      },
    },
  };
}

/**
 * The record that starts `round` of an agent that has no inputs in it.
 *
 * @example triggerRecord({ topic: topics.inboxes['critic'], request, round: 2 })
 */
export function triggerRecord(trigger: {
  topic: string;
  request: WireRequest;
  round: number;
}): OutputRecord {
  return {
    topic: trigger.topic,
    message: {
      key: trigger.request.requestId,
      value: Buffer.from(encodeRequest(trigger.request)),
      headers: {
        [hopHeaders.messageType]: REQUEST,
        [hopHeaders.round]: String(trigger.round),
        [hopHeaders.usage]: '[]',
      },
    },
  };
}

/** A usable inbound record: a request that starts a round, or one input of a round. */
export type Inbound =
  | { kind: 'request'; request: WireRequest; round: number; usage: UsageRow[] }
  | {
      kind: 'latent';
      request: WireRequest;
      /** The receiver's round this input belongs to. */
      round: number;
      slot: InputSlot;
      /** [steps, hidden] of the sender, row-major. */
      values: Float32Array;
      shape: readonly [number, number];
      usage: UsageRow[];
    };

export interface InboundContext {
  agent: string;
  route: AgentRoute;
  requestsTopic: string;
  served: ServedId;
  /** Requests must name the served topology and version. */
  catalog: TopologyCatalog;
  /** Each agent's latent shape, [latentSteps, hiddenSize]. */
  shapes: ReadonlyMap<string, readonly [number, number]>;
  maxMessageBytes?: number;
}

function header(headers: SourceMessage['headers'], name: string): Buffer | undefined {
  const value = headers[name];
  const one = Array.isArray(value) ? value[0] : value;
  if (one === undefined) return undefined;
  return typeof one === 'string' ? Buffer.from(one) : one;
}

/**
 * Decodes and validates a record read by `context.agent`'s worker; throws `WireError` (a dead
 * letter) when it is not something this agent can use.
 *
 * @example const inbound = readInbound(message, context);
 */
export function readInbound(message: SourceMessage, context: InboundContext): Inbound {
  const bytes = message.value ?? new Uint8Array(0);
  const wire = {
    catalog: context.catalog,
    ...(context.maxMessageBytes === undefined ? {} : { maxMessageBytes: context.maxMessageBytes }),
  };
  const type = header(message.headers, hopHeaders.messageType)?.toString();
  if (message.topic === context.requestsTopic) {
    return { kind: 'request', request: decodeRequest(bytes, wire), round: 1, usage: [] };
  }
  if (type === REQUEST) return readTrigger(message, bytes, context, wire);
  const state = decodeLatentState(
    bytes,
    wire.maxMessageBytes ? { maxMessageBytes: wire.maxMessageBytes } : {},
  );
  const fail = (code: WireError['code'], text: string, path: string): never => {
    throw new WireError(code, `${LATENT}: ${text}`, path, LATENT);
  };
  if (state.topologyId !== context.served.id) {
    fail(
      'unknown_topology',
      `topology '${state.topologyId}' is not served here (serving '${context.served.id}')`,
      'topology_id',
    );
  }
  if (state.topologyVersion !== context.served.version) {
    fail(
      'unknown_topology_version',
      `topology '${state.topologyId}' version ${state.topologyVersion} is not served (served: ${context.served.version})`,
      'topology_version',
    );
  }
  if (state.toAgent !== context.agent) {
    fail(
      'unknown_agent',
      `to_agent '${state.toAgent}' reached the inbox of '${context.agent}'`,
      'to_agent',
    );
  }
  const edge = header(message.headers, hopHeaders.edge)?.toString();
  if (edge !== 'forward' && edge !== 'feedback') {
    fail(
      'missing_field',
      `header ${hopHeaders.edge} must be 'forward' or 'feedback', got ${JSON.stringify(edge)}`,
      `headers.${hopHeaders.edge}`,
    );
  }
  const kind = edge as EdgeKind;
  const round = state.round + (kind === 'feedback' ? 1 : 0);
  const { route } = context;
  const expected =
    route.runsIn(round) &&
    route.inputsOf(round).some((s) => s.kind === kind && s.source === state.fromAgent);
  if (!expected) {
    fail(
      'unknown_agent',
      `'${context.agent}' takes no ${kind} input from '${state.fromAgent}' in round ${round}`,
      'from_agent',
    );
  }
  const shape = context.shapes.get(state.fromAgent)!;
  if (state.shape.length !== 2 || state.shape[0] !== shape[0]) {
    fail(
      'shape_mismatch',
      `shape is [${state.shape.join(', ')}], '${state.fromAgent}' hands off [${shape.join(', ')}] (latent steps, hidden size)`,
      'shape',
    );
  }
  if (state.shape[1] !== shape[1]) {
    fail(
      'hidden_size_mismatch',
      `shape[1] is ${state.shape[1]}, but agent '${state.fromAgent}' has hidden size ${shape[1]}`,
      'shape[1]',
    );
  }
  const request = headerRequest(message, state.requestId, wire);
  return {
    kind: 'latent',
    request,
    round,
    slot: { kind, source: state.fromAgent },
    values: unpackTensor(state.data, state.dtype),
    shape,
    usage: headerUsage(message, LATENT),
  };
}

function readTrigger(
  message: SourceMessage,
  bytes: Uint8Array,
  context: InboundContext,
  wire: { catalog: TopologyCatalog; maxMessageBytes?: number },
): Inbound {
  const request = decodeRequest(bytes, wire);
  const text = header(message.headers, hopHeaders.round)?.toString() ?? '';
  const round = Number(text);
  const { route } = context;
  if (!/^\d+$/.test(text) || !route.runsIn(round) || route.inputsOf(round).length > 0) {
    throw new WireError(
      'invalid_value',
      `${REQUEST}: header ${hopHeaders.round} is ${JSON.stringify(text)}: '${context.agent}' is started by a request in no such round`,
      `headers.${hopHeaders.round}`,
      REQUEST,
    );
  }
  return { kind: 'request', request, round, usage: headerUsage(message, REQUEST) };
}

function headerRequest(
  message: SourceMessage,
  requestId: string,
  wire: { catalog: TopologyCatalog; maxMessageBytes?: number },
): WireRequest {
  const path = `headers.${hopHeaders.request}`;
  const bytes = header(message.headers, hopHeaders.request);
  if (bytes === undefined) {
    throw new WireError(
      'missing_field',
      `${LATENT}: header ${hopHeaders.request} is missing`,
      path,
      LATENT,
    );
  }
  let request: WireRequest;
  try {
    request = decodeRequest(bytes, wire);
  } catch (error) {
    if (!(error instanceof WireError)) throw error;
    const at = error.path === '' ? path : `${path}.${error.path}`;
    throw new WireError(
      error.code,
      `${LATENT}: header ${hopHeaders.request}: ${error.message}`,
      at,
      LATENT,
      { cause: error },
    );
  }
  if (request.requestId !== requestId) {
    throw new WireError(
      'invalid_value',
      `${LATENT}: header ${hopHeaders.request} is request '${request.requestId}', the latents are of '${requestId}'`,
      `${path}.request_id`,
      LATENT,
    );
  }
  return request;
}

function headerUsage(message: SourceMessage, messageType: string): UsageRow[] {
  const text = header(message.headers, hopHeaders.usage)?.toString() ?? '[]';
  const rows = decodeUsageRows(text);
  if (typeof rows === 'string') {
    throw new WireError(
      'invalid_value',
      `${messageType}: header ${hopHeaders.usage} ${rows}`,
      `headers.${hopHeaders.usage}`,
      messageType,
    );
  }
  return rows;
}
