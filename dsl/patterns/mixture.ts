import { looseTopology } from '../builder.ts';
import type { Topology } from '../topology.ts';
import { fromIR } from '../topology.ts';
import type { PatternOptions, PromptCheck, RoleConfig } from './role.ts';

/** Default prompt of a specialist, named after its domain. */
export function mixtureSpecialistPrompt(domain: string): string {
  return (
    `You are the ${domain} specialist. Analyse the question from the point of view of your domain.\n\n` +
    'Question: {{question}}\n\nThe summarizer’s previous synthesis: {{feedback}}'
  );
}

/** Default summarizer prompt: one latent slot per specialist, in order. */
export function mixtureSummarizerPrompt(domains: readonly string[]): string {
  const analyses = domains.map((domain) => `${domain} specialist: {{latent:${domain}}}`).join('\n');
  return (
    'You are the Summarizer. Combine the specialists’ analyses into one answer and end with the final answer.\n\n' +
    `Question: {{question}}\n\n${analyses}`
  );
}

export interface MixtureConfig<S extends string, PZ extends string> extends PatternOptions {
  /** Domain specialists, keyed by agent name (`math`, `code`, `science`...). */
  specialists: Record<S, RoleConfig> &
    (string extends S
      ? unknown
      : 'summarizer' extends S
        ? { error: 'no specialist may be named "summarizer"' }
        : unknown);
  summarizer: RoleConfig<PZ> & { prompt?: PZ & PromptCheck<PZ, `latent:${S}`> };
}

/**
 * The mixture pattern: specialists reason in parallel, the summarizer reads all their latents,
 * and feeds its own back to each specialist for the next round. The summarizer decodes.
 * @example
 * const t = mixture({
 *   specialists: {
 *     math: { model: 'tiny-96', hiddenSize: 96 },
 *     code: { model: 'tiny-128', hiddenSize: 128 },
 *     science: { model: 'tiny-192', hiddenSize: 192 },
 *   },
 *   summarizer: { model: 'tiny-128', hiddenSize: 128 },
 * });
 */
export function mixture<const S extends string, const PZ extends string = string>(
  config: MixtureConfig<S, PZ>,
): Topology<S | 'summarizer', 'summarizer'> {
  const specialists = Object.entries(config.specialists) as [string, RoleConfig][];
  const domains = specialists.map(([name]) => name);
  const link = { outerLink: config.outerLink };
  // The names are only known at run time here: build loosely typed, then state the result type.
  let builder = looseTopology(config.name ?? 'mixture');
  for (const [name, role] of specialists) {
    builder = builder.agent(name, {
      ...role,
      prompt: role.prompt ?? mixtureSpecialistPrompt(name),
    });
  }
  const { summarizer } = config;
  builder = builder.agent('summarizer', {
    ...summarizer,
    prompt: summarizer.prompt ?? mixtureSummarizerPrompt(domains),
  });
  for (const name of domains) builder = builder.edge(name, 'summarizer', link);
  for (const name of domains) builder = builder.feedback('summarizer', name, link);
  const ir = builder
    .rounds(config.rounds ?? {})
    .decode('summarizer', config.decode)
    .toIR();
  return fromIR(ir) as Topology<S | 'summarizer', 'summarizer'>;
}
