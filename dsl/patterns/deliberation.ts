import { topology } from '../builder.ts';
import type { Topology } from '../topology.ts';
import type { PatternOptions, PromptCheck, RoleConfig } from './role.ts';

/** The tools the tool-caller gets unless told otherwise (see operators/tools). */
export const DELIBERATION_TOOLS = ['javascript', 'search'] as const;

/** Default role prompts. */
export const DELIBERATION_PROMPTS = {
  reflector:
    'You are the Reflector. Critique the tool-caller’s latest reasoning and tool results, and say what to check or fix next.\n\n' +
    'Question: {{question}}\n\nThe tool-caller’s previous round: {{feedback}}',
  toolCaller:
    'You are the Tool-Caller. Solve the problem, calling tools when they help: ' +
    '<javascript>code</javascript> runs JavaScript and shows its output, ' +
    '<search>query</search> searches the documents. End with the final answer.\n\n' +
    'Question: {{question}}\n\nThe reflector’s notes: {{latent:reflector}}',
} as const;

export interface DeliberationConfig<PR extends string, PT extends string> extends PatternOptions {
  reflector: RoleConfig<PR> & { prompt?: PR & PromptCheck<PR, 'feedback'> };
  toolCaller: RoleConfig<PT> & { prompt?: PT & PromptCheck<PT, 'latent:reflector'> };
}

/**
 * The deliberation pattern: a reflector and a tool-caller exchange latents round after round
 * (reflector -> tool-caller, and back as feedback); the tool-caller decodes the answer with its
 * tools (`javascript` and `search` unless `toolCaller.tools` says otherwise).
 * @example
 * const t = deliberation({
 *   reflector: { model: 'tiny-128', hiddenSize: 128 },
 *   toolCaller: { model: 'tiny-128', hiddenSize: 128 },
 *   decode: { maxToolRounds: 5 },
 * });
 */
export function deliberation<const PR extends string = string, const PT extends string = string>(
  config: DeliberationConfig<PR, PT>,
): Topology<'reflector' | 'toolCaller', 'toolCaller'> {
  const { reflector, toolCaller } = config;
  const link = { outerLink: config.outerLink };
  return topology(config.name ?? 'deliberation')
    .agent('reflector', {
      ...reflector,
      prompt: reflector.prompt ?? DELIBERATION_PROMPTS.reflector,
    })
    .agent('toolCaller', {
      ...toolCaller,
      prompt: toolCaller.prompt ?? DELIBERATION_PROMPTS.toolCaller,
      tools: toolCaller.tools ?? DELIBERATION_TOOLS,
    })
    .edge('reflector', 'toolCaller', link)
    .feedback('toolCaller', 'reflector', link)
    .rounds(config.rounds ?? {})
    .decode('toolCaller', config.decode)
    .build();
}
