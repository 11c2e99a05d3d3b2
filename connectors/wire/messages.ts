/**
 * The TypeScript shape of each rmas.v1 message, field for field (camelCase of the .proto names).
 * `schema_version` is not here: writers always set the current version and readers check it.
 */
import type { TensorDType } from './tensorBytes.ts';

/** A question for a compiled topology (request.proto). */
export interface WireRequest {
  requestId: string;
  topologyId: string;
  topologyVersion: number;
  input: string;
  metadata: Record<string, string>;
  /** Unix epoch milliseconds; 0 = no deadline. */
  deadlineUnixMs: number;
}

/** Latent thoughts handed from one agent to another (latent_state.proto). */
export interface WireLatentState {
  requestId: string;
  topologyId: string;
  topologyVersion: number;
  /** 1-based recursion round. */
  round: number;
  fromAgent: string;
  toAgent: string;
  /** Row-major, e.g. [steps, hidden]; the last dimension is the receiver's hidden size. */
  shape: number[];
  dtype: TensorDType;
  /** product(shape) little-endian elements of dtype (see packTensor). */
  data: Uint8Array;
}

/** What one agent spent in one round (answer.proto `Usage`). */
export interface AgentUsage {
  agent: string;
  round: number;
  promptTokens: number;
  generatedTokens: number;
  latentSteps: number;
  flops: number;
  wallMs: number;
}

/** The answer to one request (answer.proto). */
export interface WireAnswer {
  requestId: string;
  topologyId: string;
  topologyVersion: number;
  text: string;
  rounds: number;
  usage: AgentUsage[];
  /** Set when the topology failed on this (well-formed) request. */
  error?: { code: string; message: string };
}

/** A dead letter (error_record.proto). */
export interface WireErrorRecord {
  code: string;
  message: string;
  path: string;
  /** The record value exactly as read. */
  original: Uint8Array;
  messageType: string;
  sourceTopic: string;
  sourcePartition: number;
  /** Kafka offsets are int64: kept as a decimal string, as kafkajs does. */
  sourceOffset: string;
  requestId: string;
  occurredUnixMs: number;
}
