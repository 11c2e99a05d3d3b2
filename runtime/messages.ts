/**
 * What goes into a compiled topology and what comes out: one `Request` per question, one `Answer`
 * per request (text, or an error). Field for field the rmas.v1 wire messages
 * (connectors/wire/request.proto and answer.proto, camelCase), so a connector maps them 1:1.
 */
import type { UsageEntry } from '../operators/usage/ledger.ts';
import { RuntimeError } from './errors.ts';

/** A question for a compiled topology (wire `Request`). */
export interface Request {
  /** Unique among the requests in flight; the answer carries it. */
  requestId: string;
  /** The question: it fills every `{{question}}` slot. */
  input: string;
  /** Which topology must answer; echoed on the answer (default: the topology's name). */
  topologyId?: string;
  topologyVersion?: number;
  /** Caller metadata; the runtime does not read it. */
  metadata?: Record<string, string>;
  /** Unix epoch milliseconds after which nobody wants the answer; 0 or absent: no deadline. */
  deadlineUnixMs?: number;
}

/** What one agent spent in one recursion round (wire `Usage`). */
export interface AnswerUsage {
  agent: string;
  round: number;
  promptTokens: number;
  generatedTokens: number;
  latentSteps: number;
  /** Estimated floating-point operations (operators/usage/flops.ts). */
  flops: number;
  wallMs: number;
}

/** The answer to one request (wire `Answer`). */
export interface Answer {
  requestId: string;
  topologyId: string;
  topologyVersion: number;
  /** The decoder's text; empty when `error` is set. */
  text: string;
  /** Recursion rounds actually run (completed, for an error answer). */
  rounds: number;
  usage: AnswerUsage[];
  /** Set when the topology failed on this request, or the runtime refused it. */
  error?: { code: string; message: string };
}

/** What the user's stop predicate sees after each round that is not the last. */
export interface RoundInfo {
  requestId: string;
  request: Request;
  /** The round that has just run (1-based). */
  round: number;
  /**
   * Relative L2 change of the latents carried by the feedback edges, this round against the
   * previous one; undefined after round 1 (nothing to compare) and in text mode 0 when every
   * feedback text repeated, else 1.
   */
  change: number | undefined;
}

/**
 * Checks a request's fields; throws RuntimeError('INVALID_REQUEST') naming the bad one.
 * @example checkRequest({ requestId: 'q1', input: 'What is 2 + 2?' })
 */
export function checkRequest(request: unknown): Request {
  const r = request as Partial<Request> | null;
  const where = (field: string) => `request ${JSON.stringify(r?.requestId ?? '?')}: ${field}`;
  if (r === null || typeof r !== 'object') {
    throw new RuntimeError('INVALID_REQUEST', 'a request must be an object');
  }
  if (typeof r.requestId !== 'string' || r.requestId.length === 0) {
    throw new RuntimeError('INVALID_REQUEST', where('requestId must be a non-empty string'));
  }
  if (typeof r.input !== 'string') {
    throw new RuntimeError('INVALID_REQUEST', where('input must be a string'));
  }
  if (r.deadlineUnixMs !== undefined && !Number.isFinite(r.deadlineUnixMs)) {
    throw new RuntimeError('INVALID_REQUEST', where('deadlineUnixMs must be a number'));
  }
  return r as Request;
}

/**
 * Sums a request's ledger entries per (agent, round), in order of first appearance: the wire's
 * per-agent, per-round usage.
 * @example answerUsage(state.usage) // [{ agent: 'planner', round: 1, latentSteps: 32, ... }, ...]
 */
export function answerUsage(entries: readonly UsageEntry[]): AnswerUsage[] {
  const byKey = new Map<string, AnswerUsage>();
  for (const e of entries) {
    const key = `${e.agent}\u0000${e.round}`;
    let u = byKey.get(key);
    if (u === undefined) {
      u = {
        agent: e.agent,
        round: e.round,
        promptTokens: 0,
        generatedTokens: 0,
        latentSteps: 0,
        flops: 0,
        wallMs: 0,
      };
      byKey.set(key, u);
    }
    u.promptTokens += e.promptTokens;
    u.generatedTokens += e.generatedTokens;
    u.latentSteps += e.latentSteps;
    u.flops += e.flops;
    u.wallMs += e.wallTimeMs;
  }
  return [...byKey.values()];
}
