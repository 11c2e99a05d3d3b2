/**
 * dsl/: what a user writes. Agents, links, edges, rounds and the decoder, through a typed builder
 * or one of the paper's four patterns, become a serialisable, versioned topology IR; `validate`
 * lists what the types could not prove; `differentiability` tells whether gradients flow end to
 * end and which links they reach. The runtime compiles the IR.
 *
 * Layers (zod's): `ir.ts` + `schema.ts` (the plain definition), `graph.ts` (internals: nodes with
 * capabilities, which every pass asks instead of switching on kinds), `builder.ts` and
 * `patterns/` (the surface, whose types carry agent names and slots).
 */
export type {
  AgentConfig,
  BuildProblems,
  DecodeOptions,
  EdgeOptions,
  LinkOption,
  LooseTopologyBuilder,
  RoundsOptions,
  TopologyBuilder,
} from './builder.ts';
export { linkIR, looseTopology, modelRef, topology } from './builder.ts';
export { DEFAULTS } from './defaults.ts';
export type { DifferentiabilityReport, DiscreteReason, LinkGradient } from './differentiability.ts';
export { differentiability } from './differentiability.ts';
export type { AgentNode, Capabilities, DiscreteStep, Graph, HandoffNode, Mode } from './graph.ts';
export { graphOf } from './graph.ts';
export type {
  AgentIR,
  AgentOutput,
  DecodeIR,
  EdgeIR,
  EdgeKind,
  LinkInit,
  LinkIR,
  LinkShape,
  LinkVariant,
  ModelRef,
  RoundsIR,
  TopologyIR,
  Transport,
} from './ir.ts';
export {
  edgeId,
  IR_VERSION,
  innerLinkId,
  LINK_INITS,
  LINK_VARIANTS,
  linkShape,
  outerLinkId,
  slotOf,
} from './ir.ts';
export type { Issue, IssueCode } from './issues.ts';
export { formatPath, ISSUE_CODES, TopologyError } from './issues.ts';
export { toMermaid } from './mermaid.ts';
export { executionOrder } from './order.ts';
export type { ParseResult } from './parse.ts';
export { parseIR } from './parse.ts';
export { DELIBERATION_PROMPTS, DELIBERATION_TOOLS, deliberation } from './patterns/deliberation.ts';
export { DISTILLATION_PROMPTS, distillation } from './patterns/distillation.ts';
export { mixture, mixtureSpecialistPrompt, mixtureSummarizerPrompt } from './patterns/mixture.ts';
export type { PatternOptions, PromptCheck, RoleConfig } from './patterns/role.ts';
export { SEQUENTIAL_PROMPTS, sequential } from './patterns/sequential.ts';
export { topologyIRSchema } from './schema.ts';
export type { PromptSegment, Slot, SlotsOf } from './slots.ts';
export { promptSegments, promptSlots } from './slots.ts';
export type { AgentNames, DecoderName, Topology } from './topology.ts';
export { fromIR, isTopology, toIR } from './topology.ts';
export { assertValid, validate } from './validate.ts';
