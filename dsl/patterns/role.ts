/**
 * What the four patterns share: a role's configuration (an agent whose prompt has a default),
 * the options of the whole pattern, and the type check of a custom role prompt.
 */
import type { AgentConfig, DecodeOptions, LinkOption, RoundsOptions } from '../builder.ts';
import type { SlotsOf } from '../slots.ts';

/**
 * A role: an agent whose prompt may be left out (the pattern's default is used). A custom
 * literal prompt is checked by the types: it must have the slots the pattern fills, and no other
 * slots than `{{question}}`.
 */
export type RoleConfig<P extends string = string> = Omit<AgentConfig<P>, 'prompt'> & { prompt?: P };

export interface PatternOptions {
  /** Name of the topology; defaults to the pattern's. */
  name?: string;
  rounds?: RoundsOptions;
  decode?: DecodeOptions;
  /** Outer link of every edge; default `'official'`. */
  outerLink?: LinkOption | null;
}

/** `unknown` when a literal prompt fits the role, else an `{ error }` that fails the call. */
export type PromptCheck<P extends string, Needs extends string> = string extends P
  ? unknown
  : [Exclude<Needs, SlotsOf<P>>] extends [never]
    ? [Exclude<SlotsOf<P>, Needs | 'question'>] extends [never]
      ? unknown
      : {
          error: `this role's prompt may only use {{question}} and ${Braces<Needs>}, not ${Braces<Exclude<SlotsOf<P>, Needs | 'question'>>}`;
        }
    : { error: `this role's prompt needs the slot ${Braces<Exclude<Needs, SlotsOf<P>>>}` };

type Braces<S extends string> = `{{${S}}}`;
