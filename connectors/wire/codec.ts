/**
 * Encoding and validated decoding of the rmas.v1 messages. Decoders throw a `WireError` (stable
 * code, field path) for anything a pipeline must not use; the Kafka pipeline turns it into a
 * dead letter.
 */
import type protobuf from 'protobufjs';
import type {
  AgentUsage,
  WireAnswer,
  WireErrorRecord,
  WireLatentState,
  WireRequest,
} from './messages.ts';
import { dtypeNumbers, WIRE_SCHEMA_VERSION, type WireMessageType, wireType } from './schema.ts';
import { bytesPerElement, type TensorDType } from './tensorBytes.ts';
import type { ServedTopology, TopologyCatalog } from './topologyCatalog.ts';
import { WireError } from './wireError.ts';

/** Default record size limit: Kafka's default `message.max.bytes` (1 MiB). */
export const DEFAULT_MAX_MESSAGE_BYTES = 1_048_576;

export interface WireReadOptions {
  /** Records larger than this are rejected before decoding. Default 1 MiB. */
  maxMessageBytes?: number;
  /** When given, topology ids, versions and agent names must be served by it. */
  catalog?: TopologyCatalog;
}

const types = {
  request: wireType('rmas.v1.Request'),
  latentState: wireType('rmas.v1.LatentState'),
  answer: wireType('rmas.v1.Answer'),
  errorRecord: wireType('rmas.v1.ErrorRecord'),
};

const toObjectOptions: protobuf.IConversionOptions = {
  longs: String,
  defaults: true,
  arrays: true,
  objects: true,
};

const dtypeByNumber = new Map<number, TensorDType>(
  Object.entries(dtypeNumbers).map(([name, value]) => [value, name as TensorDType]),
);

/**
 * Encodes a request (schema version set to the current one).
 *
 * @example encodeRequest({ requestId: 'r1', topologyId: 'math', topologyVersion: 1, input: '2+2?', metadata: {}, deadlineUnixMs: 0 })
 */
export function encodeRequest(request: WireRequest): Uint8Array {
  return types.request.encode({ schemaVersion: WIRE_SCHEMA_VERSION, ...request }).finish();
}

/**
 * Decodes and validates a request; throws `WireError` (oversize, malformed, version, missing id,
 * unknown topology or version).
 *
 * @example const request = decodeRequest(message.value, { catalog });
 */
export function decodeRequest(bytes: Uint8Array, options: WireReadOptions = {}): WireRequest {
  const name = 'rmas.v1.Request';
  const raw = decodeChecked(types.request, name, bytes, options);
  const request: WireRequest = {
    requestId: requireText(raw, 'requestId', 'request_id', name),
    topologyId: requireText(raw, 'topologyId', 'topology_id', name),
    topologyVersion: raw['topologyVersion'] as number,
    input: raw['input'] as string,
    metadata: raw['metadata'] as Record<string, string>,
    deadlineUnixMs: safeInteger(raw['deadlineUnixMs'], 'deadline_unix_ms', name),
  };
  if (request.deadlineUnixMs < 0) {
    throw new WireError(
      'invalid_value',
      `${name}: deadline_unix_ms is ${request.deadlineUnixMs}, must be >= 0 (0 = none)`,
      'deadline_unix_ms',
      name,
    );
  }
  if (options.catalog) servedTopology(options.catalog, request, name);
  return request;
}

/**
 * Encodes a latent state. `data` must already be packed (see `packTensor`).
 *
 * @example encodeLatentState({ ...ids, round: 1, fromAgent: 'planner', toAgent: 'critic', shape: [2, 4], dtype: 'F32', data: packTensor(values, 'F32') })
 */
export function encodeLatentState(state: WireLatentState): Uint8Array {
  return types.latentState
    .encode({ schemaVersion: WIRE_SCHEMA_VERSION, ...state, dtype: dtypeNumbers[state.dtype] })
    .finish();
}

/**
 * Decodes and validates a latent state: ids present, round >= 1, a known dtype, a shape whose
 * product matches the data length, and no NaN or infinity. With a catalog, also the topology,
 * both agents, and the last dimension against the receiving agent's hidden size.
 *
 * @example const state = decodeLatentState(bytes, { catalog }); const values = unpackTensor(state.data, state.dtype);
 */
export function decodeLatentState(
  bytes: Uint8Array,
  options: WireReadOptions = {},
): WireLatentState {
  const name = 'rmas.v1.LatentState';
  const raw = decodeChecked(types.latentState, name, bytes, options);
  const dtypeNumber = raw['dtype'] as number;
  const dtype = dtypeByNumber.get(dtypeNumber);
  const state = {
    requestId: requireText(raw, 'requestId', 'request_id', name),
    topologyId: requireText(raw, 'topologyId', 'topology_id', name),
    topologyVersion: raw['topologyVersion'] as number,
    round: raw['round'] as number,
    fromAgent: requireText(raw, 'fromAgent', 'from_agent', name),
    toAgent: requireText(raw, 'toAgent', 'to_agent', name),
    shape: raw['shape'] as number[],
    data: raw['data'] as Uint8Array,
  };
  if (state.round < 1) {
    throw new WireError('invalid_value', `${name}: round is 0, rounds start at 1`, 'round', name);
  }
  if (dtype === undefined) {
    throw new WireError(
      'invalid_dtype',
      `${name}: dtype ${dtypeNumber} is not one of F32 (1), F16 (2), BF16 (3)`,
      'dtype',
      name,
    );
  }
  checkShape(state.shape, state.data.length, dtype, name);
  if (options.catalog) {
    const topology = servedTopology(options.catalog, state, name);
    const receiver = agentOf(topology, state.toAgent, 'to_agent', name);
    agentOf(topology, state.fromAgent, 'from_agent', name);
    const last = state.shape.length - 1;
    if (state.shape[last] !== receiver.hiddenSize) {
      throw new WireError(
        'hidden_size_mismatch',
        `${name}: shape[${last}] is ${state.shape[last]}, but agent '${state.toAgent}' has hidden size ${receiver.hiddenSize}`,
        `shape[${last}]`,
        name,
      );
    }
  }
  checkFinite(state.data, dtype, state.shape, name);
  return { ...state, dtype };
}

/**
 * Encodes an answer.
 *
 * @example encodeAnswer({ requestId: 'r1', topologyId: 'math', topologyVersion: 1, text: '4', rounds: 3, usage: [] })
 */
export function encodeAnswer(answer: WireAnswer): Uint8Array {
  return types.answer.encode({ schemaVersion: WIRE_SCHEMA_VERSION, ...answer }).finish();
}

/**
 * Decodes an answer (size, protobuf, schema version and request id are checked).
 *
 * @example const answer = decodeAnswer(message.value);
 */
export function decodeAnswer(bytes: Uint8Array, options: WireReadOptions = {}): WireAnswer {
  const name = 'rmas.v1.Answer';
  const raw = decodeChecked(types.answer, name, bytes, options);
  const usage = (raw['usage'] as Record<string, unknown>[]).map(
    (row, i): AgentUsage => ({
      agent: row['agent'] as string,
      round: row['round'] as number,
      promptTokens: safeInteger(row['promptTokens'], `usage[${i}].prompt_tokens`, name),
      generatedTokens: safeInteger(row['generatedTokens'], `usage[${i}].generated_tokens`, name),
      latentSteps: safeInteger(row['latentSteps'], `usage[${i}].latent_steps`, name),
      flops: row['flops'] as number,
      wallMs: row['wallMs'] as number,
    }),
  );
  const answer: WireAnswer = {
    requestId: requireText(raw, 'requestId', 'request_id', name),
    topologyId: raw['topologyId'] as string,
    topologyVersion: raw['topologyVersion'] as number,
    text: raw['text'] as string,
    rounds: raw['rounds'] as number,
    usage,
  };
  // With `defaults`, an absent sub-message still reads as null: only a present one is an error.
  const error = raw['error'] as { code: string; message: string } | null | undefined;
  if (error) answer.error = { code: error.code, message: error.message };
  return answer;
}

/**
 * Encodes a dead letter.
 *
 * @example encodeErrorRecord(errorRecordFor(error, message))
 */
export function encodeErrorRecord(record: WireErrorRecord): Uint8Array {
  return types.errorRecord.encode({ schemaVersion: WIRE_SCHEMA_VERSION, ...record }).finish();
}

/**
 * Decodes a dead letter (size, protobuf and schema version are checked).
 *
 * @example const record = decodeErrorRecord(message.value); console.log(record.code, record.path);
 */
export function decodeErrorRecord(
  bytes: Uint8Array,
  options: WireReadOptions = {},
): WireErrorRecord {
  const name = 'rmas.v1.ErrorRecord';
  const raw = decodeChecked(types.errorRecord, name, bytes, options);
  return {
    code: raw['code'] as string,
    message: raw['message'] as string,
    path: raw['path'] as string,
    original: raw['original'] as Uint8Array,
    messageType: raw['messageType'] as string,
    sourceTopic: raw['sourceTopic'] as string,
    sourcePartition: raw['sourcePartition'] as number,
    sourceOffset: raw['sourceOffset'] as string,
    requestId: raw['requestId'] as string,
    occurredUnixMs: safeInteger(raw['occurredUnixMs'], 'occurred_unix_ms', name),
  };
}

/** Size limit, protobuf decoding and schema version: the checks every message shares. */
function decodeChecked(
  type: protobuf.Type,
  name: WireMessageType,
  bytes: Uint8Array,
  options: WireReadOptions,
): Record<string, unknown> {
  const limit = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  if (bytes.length > limit) {
    throw new WireError(
      'oversize_message',
      `${name}: record is ${bytes.length} bytes, over the limit of ${limit} bytes`,
      '',
      name,
    );
  }
  let raw: Record<string, unknown>;
  try {
    raw = type.toObject(type.decode(bytes), toObjectOptions);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new WireError(
      'malformed_protobuf',
      `${name}: not a valid protobuf encoding (${reason})`,
      '',
      name,
      { cause },
    );
  }
  const version = raw['schemaVersion'] as number;
  if (version !== WIRE_SCHEMA_VERSION) {
    throw new WireError(
      'unsupported_schema_version',
      version === 0
        ? `${name}: schema_version is missing (0); this reader reads version ${WIRE_SCHEMA_VERSION}`
        : `${name}: schema_version ${version} is not supported; this reader reads version ${WIRE_SCHEMA_VERSION}`,
      'schema_version',
      name,
    );
  }
  return raw;
}

function requireText(
  raw: Record<string, unknown>,
  key: string,
  path: string,
  name: WireMessageType,
): string {
  const value = raw[key] as string;
  if (value === '') throw new WireError('missing_field', `${name}: ${path} is empty`, path, name);
  return value;
}

/** int64/uint64 fields arrive as decimal strings; they must fit a JS number exactly. */
function safeInteger(value: unknown, path: string, name: WireMessageType): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed)) {
    throw new WireError(
      'invalid_value',
      `${name}: ${path} is ${String(value)}, beyond the exactly representable range`,
      path,
      name,
    );
  }
  return parsed;
}

function servedTopology(
  catalog: TopologyCatalog,
  message: { topologyId: string; topologyVersion: number },
  name: WireMessageType,
): ServedTopology {
  const versions = catalog.versionsOf(message.topologyId);
  if (versions.length === 0) {
    throw new WireError(
      'unknown_topology',
      `${name}: topology '${message.topologyId}' is not served here`,
      'topology_id',
      name,
    );
  }
  const match = versions.find((topology) => topology.version === message.topologyVersion);
  if (!match) {
    const served = versions.map((topology) => topology.version).join(', ');
    throw new WireError(
      'unknown_topology_version',
      `${name}: topology '${message.topologyId}' version ${message.topologyVersion} is not served (served: ${served})`,
      'topology_version',
      name,
    );
  }
  return match;
}

function agentOf(
  topology: ServedTopology,
  agent: string,
  path: string,
  name: WireMessageType,
): { hiddenSize: number } {
  const found = Object.hasOwn(topology.agents, agent) ? topology.agents[agent] : undefined;
  if (!found) {
    const known = Object.keys(topology.agents).join(', ');
    throw new WireError(
      'unknown_agent',
      `${name}: ${path} '${agent}' is not an agent of topology '${topology.id}' v${topology.version} (agents: ${known})`,
      path,
      name,
    );
  }
  return found;
}

function checkShape(
  shape: readonly number[],
  dataBytes: number,
  dtype: TensorDType,
  name: WireMessageType,
): void {
  if (shape.length === 0) {
    throw new WireError('shape_mismatch', `${name}: shape is empty`, 'shape', name);
  }
  const width = bytesPerElement[dtype];
  const available = dataBytes / width;
  let product = 1;
  for (const [i, dimension] of shape.entries()) {
    if (dimension === 0) {
      throw new WireError('shape_mismatch', `${name}: shape[${i}] is 0`, `shape[${i}]`, name);
    }
    product *= dimension;
    // Stop early so an absurd shape cannot overflow the product.
    if (product > available) break;
  }
  if (product !== available) {
    throw new WireError(
      'shape_mismatch',
      `${name}: shape [${shape.join(', ')}] needs ${shape.reduce((a, b) => a * b, 1)} ${dtype} elements, data holds ${dataBytes} bytes (${available} elements)`,
      'data',
      name,
    );
  }
}

/** Scans the packed bits for an all-ones exponent (NaN or infinity) without unpacking. */
function checkFinite(
  data: Uint8Array,
  dtype: TensorDType,
  shape: readonly number[],
  name: WireMessageType,
): void {
  const width = bytesPerElement[dtype];
  const count = data.length / width;
  for (let i = 0; i < count; i++) {
    let exponentAllOnes: boolean;
    let mantissaZero: boolean;
    if (dtype === 'F32') {
      const hi = data[4 * i + 3]!;
      const next = data[4 * i + 2]!;
      exponentAllOnes = (hi & 0x7f) === 0x7f && (next & 0x80) === 0x80;
      mantissaZero = (next & 0x7f) === 0 && data[4 * i + 1] === 0 && data[4 * i] === 0;
    } else if (dtype === 'F16') {
      const hi = data[2 * i + 1]!;
      exponentAllOnes = (hi & 0x7c) === 0x7c;
      mantissaZero = (hi & 0x03) === 0 && data[2 * i] === 0;
    } else {
      const hi = data[2 * i + 1]!;
      const lo = data[2 * i]!;
      exponentAllOnes = (hi & 0x7f) === 0x7f && (lo & 0x80) === 0x80;
      mantissaZero = (lo & 0x7f) === 0;
    }
    if (exponentAllOnes) {
      const what = mantissaZero ? 'an infinity' : 'NaN';
      throw new WireError(
        'non_finite',
        `${name}: data element ${i} (index [${unravel(i, shape).join(', ')}]) is ${what}`,
        `data[${i}]`,
        name,
      );
    }
  }
}

/** Flat row-major index -> multi-index. */
function unravel(flat: number, shape: readonly number[]): number[] {
  const index = new Array<number>(shape.length).fill(0);
  let rest = flat;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    const size = shape[axis]!;
    index[axis] = rest % size;
    rest = Math.floor(rest / size);
  }
  return index;
}
