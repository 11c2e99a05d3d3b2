/**
 * The RecursiveLinks a topology needs, by link id (`inner:<agent>`, `outer:<from>-><to>`): one
 * inner link per agent (R_in, d -> d) and one outer link per edge that declares one (R_out,
 * d_from -> d_to). Created fresh (Kaiming from a seed, or the closed-form ridge fits of issue 4),
 * or loaded from a folder the training helper wrote with `saveLinks`.
 */
import type * as tf from '@tensorflow/tfjs';
import type { LinkVariant as IRLinkVariant, LinkIR, TopologyIR } from '../dsl/ir.ts';
import { innerLinkId, outerLinkId } from '../dsl/ir.ts';
import type { Agent } from '../models/types.ts';
import { loadLink, saveLink } from '../operators/links/linkStore.ts';
import {
  createRecursiveLink,
  type LinkKind,
  type LinkVariant,
  type RecursiveLink,
} from '../operators/links/recursiveLink.ts';
import { initInnerLinkFromRidge, initOuterLinkFromRidge } from '../operators/links/ridgeInit.ts';
import { RuntimeError } from './errors.ts';

/** The links of a topology, by link id. */

/** Sample text for the outer ridge fit when neither the options nor the prompts give any. */
const RIDGE_SAMPLE_TEXTS = [
  'Read the question, make a plan, check each step and give the final answer.',
  'The critic reviews the plan, the solver computes the result and reports it.',
];

export type LinkSet = ReadonlyMap<string, RecursiveLink>;

/** The IR's variant names and the operators' (the official code's adapter types). */
const VARIANTS: Record<IRLinkVariant, Record<LinkKind, LinkVariant>> = {
  official: { inner: 'ln_res_adapter', outer: 'outer_ln_res_adapter' },
  paper: { inner: 'res_adapter', outer: 'outer_res_adapter' },
  'residual-one-layer': { inner: 'linear_res_adapter', outer: 'outer_linear_res_adapter' },
  'one-layer': { inner: 'linear_adapter', outer: 'outer_linear_adapter' },
  'no-residual': { inner: 'adapter', outer: 'outer_adapter' },
};

/**
 * The operators' variant of an IR link.
 * @example linkVariant({ variant: 'paper', init: 'kaiming' }, 'outer') // 'outer_res_adapter'
 */
export function linkVariant(link: LinkIR, kind: LinkKind): LinkVariant {
  return VARIANTS[link.variant][kind];
}

/** What a link of the topology must be. */
export interface LinkRequirement {
  id: string;
  kind: LinkKind;
  variant: LinkVariant;
  init: LinkIR['init'];
  inDim: number;
  outDim: number;
  /** The agents at its ends (the same for an inner link). */
  from: string;
  to: string;
}

/**
 * Every link the IR declares, in declaration order (inner links first).
 * @example linkRequirements(ir).map((l) => l.id) // ['inner:planner', ..., 'outer:solver->planner']
 */
export function linkRequirements(ir: TopologyIR): LinkRequirement[] {
  const size = new Map(ir.agents.map((a) => [a.name, a.hiddenSize]));
  const inner = ir.agents.map((a) => ({
    id: innerLinkId(a.name),
    kind: 'inner' as const,
    variant: linkVariant(a.innerLink, 'inner'),
    init: a.innerLink.init,
    inDim: a.hiddenSize,
    outDim: a.hiddenSize,
    from: a.name,
    to: a.name,
  }));
  const outer = ir.edges.flatMap((e) =>
    e.outerLink === null
      ? []
      : [
          {
            id: outerLinkId(e),
            kind: 'outer' as const,
            variant: linkVariant(e.outerLink, 'outer'),
            init: e.outerLink.init,
            inDim: size.get(e.from) ?? 0,
            outDim: size.get(e.to) ?? 0,
            from: e.from,
            to: e.to,
          },
        ],
  );
  return [...inner, ...outer];
}

export interface CreateLinksOptions {
  /**
   * Seed of the Kaiming inits; link i gets 1 + seed + 1000·i (never 0: tfjs draws from
   * Math.random for seed 0). Default 0.
   */
  seed?: number;
  /** The agents, by IR name: needed by the ridge init. */
  agents?: ReadonlyMap<string, Agent>;
  /** Sample texts for the outer ridge fits (default: the topology's prompts). */
  ridgeTexts?: string[];
}

/**
 * Fresh links for every link the IR declares. The caller owns them (dispose with `disposeLinks`).
 * @example const links = createLinks(ir, { seed: 7 }); // Map { 'inner:planner' => RecursiveLink, ... }
 */
export function createLinks(
  ir: TopologyIR,
  options: CreateLinksOptions = {},
): Map<string, RecursiveLink> {
  const links = new Map<string, RecursiveLink>();
  const seed = options.seed ?? 0;
  try {
    linkRequirements(ir).forEach((req, i) => {
      const link = createRecursiveLink({
        kind: req.kind,
        variant: req.variant,
        inDim: req.inDim,
        outDim: req.outDim,
        init: 'kaiming',
        seed: 1 + seed + 1000 * i,
      });
      links.set(req.id, link);
      if (req.init === 'ridge') ridgeInit(link, req, ir, options);
    });
    return links;
  } catch (error) {
    disposeLinks(links);
    throw error;
  }
}

function ridgeInit(
  link: RecursiveLink,
  req: LinkRequirement,
  ir: TopologyIR,
  options: CreateLinksOptions,
) {
  const agent = (name: string) => {
    const found = options.agents?.get(name);
    if (found === undefined) {
      throw new RuntimeError(
        'INVALID_OPTIONS',
        `link ${req.id} has init 'ridge', which needs the loaded agent "${name}" (pass agents to createLinks)`,
      );
    }
    return found;
  };
  if (req.kind === 'inner') {
    initInnerLinkFromRidge(link, agent(req.from).model);
    return;
  }
  const promptTexts = ir.agents.map((a) => a.prompt.replace(/\{\{[^{}]*\}\}/g, ' '));
  // Prompts made only of slots give the fit no words: fall back to a neutral sample.
  const texts =
    options.ridgeTexts ??
    (promptTexts.some((t) => /\p{L}/u.test(t)) ? promptTexts : RIDGE_SAMPLE_TEXTS);
  initOuterLinkFromRidge(link, { source: agent(req.from), target: agent(req.to), texts });
}

/**
 * Checks that a link set has every link the IR needs, each of the right kind and shape.
 * @example checkLinks(ir, links) // throws RuntimeError LINK_MISMATCH naming the first bad link
 */
export function checkLinks(ir: TopologyIR, links: LinkSet): void {
  for (const req of linkRequirements(ir)) {
    const link = links.get(req.id);
    if (link === undefined) {
      throw new RuntimeError('LINK_MISMATCH', `link ${req.id} is missing`);
    }
    if (link.kind !== req.kind || link.inDim !== req.inDim || link.outDim !== req.outDim) {
      throw new RuntimeError(
        'LINK_MISMATCH',
        `link ${req.id} must be ${req.kind} ${req.inDim}->${req.outDim}, got ${link.kind} ${link.inDim}->${link.outDim}`,
      );
    }
  }
}

/**
 * The file stem of a link in a link folder: `inner.planner`, `outer.planner.critic` (agent
 * names never contain a dot, so the stem is unambiguous).
 * @example linkFileStem('outer:solver->planner') // 'outer.solver.planner'
 */
export function linkFileStem(id: string): string {
  return id.replace(':', '.').replace('->', '.');
}

/**
 * Writes every link to `<dir>/<linkFileStem(id)>.{json,safetensors}`.
 * @example await saveLinks(links, 'checkpoints/sequential');
 */
export async function saveLinks(links: LinkSet, dir: string): Promise<void> {
  for (const [id, link] of links) await saveLink(link, `${dir}/${linkFileStem(id)}`);
}

/**
 * Loads the links an IR needs from a folder written by `saveLinks`, and checks their shapes.
 * @example const links = await loadLinks(ir, 'checkpoints/sequential');
 */
export async function loadLinks(ir: TopologyIR, dir: string): Promise<Map<string, RecursiveLink>> {
  const links = new Map<string, RecursiveLink>();
  try {
    for (const req of linkRequirements(ir)) {
      links.set(req.id, await loadLink(`${dir}/${linkFileStem(req.id)}`));
    }
    checkLinks(ir, links);
    return links;
  } catch (error) {
    disposeLinks(links);
    throw error;
  }
}

/** Frees every link's variables. */
export function disposeLinks(links: LinkSet): void {
  for (const link of links.values()) link.dispose();
}

/** Every trainable variable of a link set (what an optimizer updates). */
export function linkVariables(links: LinkSet): tf.Variable[] {
  return [...links.values()].flatMap((link) => link.variables);
}
