/**
 * The zod schema of the topology IR: the shape of a JSON document. Values that are well typed
 * but wrong (rounds < 1, unknown agents, cycles...) are `validate`'s job, so that they get the
 * IR's own issue codes. Left-out optional fields take the values in `DEFAULTS`.
 */
import { z } from 'zod';
import { DEFAULTS } from './defaults.ts';
import { AGENT_NAME_PATTERN, IR_VERSION, LINK_INITS, LINK_VARIANTS } from './ir.ts';

const agentName = z
  .string()
  .regex(
    AGENT_NAME_PATTERN,
    'an agent name is letters, digits, "_" or "-", not starting with a digit or "-"',
  );

export const linkSchema = z.strictObject({
  variant: z.enum(LINK_VARIANTS),
  init: z.enum(LINK_INITS).default('kaiming'),
});

export const modelRefSchema = z.union([
  z.strictObject({ preset: z.string().min(1) }),
  z.strictObject({ path: z.string().min(1) }),
]);

export const agentSchema = z.strictObject({
  name: agentName,
  model: modelRefSchema,
  hiddenSize: z.number(),
  prompt: z.string(),
  latentSteps: z.number().default(DEFAULTS.latentSteps),
  latentStop: z.strictObject({ minCosine: z.number() }).optional(),
  innerLink: linkSchema.default(DEFAULTS.link),
  output: z.enum(['latent', 'text']).default('latent'),
  tools: z.array(z.string().min(1)).default(() => []),
});

export const edgeSchema = z.strictObject({
  from: z.string(),
  to: z.string(),
  kind: z.enum(['forward', 'feedback']).default('forward'),
  transport: z.enum(['latent', 'text']).default('latent'),
  outerLink: linkSchema.nullable().default(DEFAULTS.link),
});

export const roundsSchema = z.strictObject({
  max: z.number(),
  epsilon: z.number().default(0),
});

const decodeDefaults = DEFAULTS.decode();
export const decodeSchema = z.strictObject({
  agent: z.string(),
  maxNewTokens: z.number().default(decodeDefaults.maxNewTokens),
  temperature: z.number().default(decodeDefaults.temperature),
  topP: z.number().default(decodeDefaults.topP),
  maxToolRounds: z.number().default(decodeDefaults.maxToolRounds),
});

/** Schema of `TopologyIR` (version 1). `z.output<typeof topologyIRSchema>` is `TopologyIR`. */
export const topologyIRSchema = z.strictObject({
  version: z.literal(IR_VERSION),
  name: z.string().default(DEFAULTS.name),
  agents: z.array(agentSchema),
  edges: z.array(edgeSchema).default(() => []),
  rounds: roundsSchema.default(DEFAULTS.rounds),
  decode: decodeSchema,
});
