/**
 * The training texts of each network: its roles' prompts, rendered exactly as the runtime renders
 * them in text mode (the slots filled with the gold texts of the agents upstream), with the role's
 * gold text as the target; plus the recall texts of the facts it must know.
 */
import { promptSegments } from '../../dsl/slots.ts';
import type { Tokenizer } from '../../models/types.ts';
import { slottedPrompt } from '../../runtime/prompt.ts';
import { type EncodedRoleText, encodeRoleText, type RoleText } from '../../train/inner.ts';
import type { KnowledgeRecord, TaskRecord } from '../tasks/format.ts';
import {
  MIXTURE_BENCH_PROMPTS,
  type NetworkName,
  ROLE_NETWORK,
  SEQUENTIAL_BENCH_PROMPTS,
} from './topologies.ts';

/**
 * A prompt template with its slots filled (a missing slot reads as empty, as in round 1).
 *
 * @example fillPrompt('plan {{question}} feedback {{feedback}}', { question: '1 + 1' }) // 'plan 1 + 1 feedback '
 */
export function fillPrompt(template: string, values: Readonly<Record<string, string>>): string {
  return promptSegments(template)
    .map((s) => ('text' in s ? s.text : (values[s.slot] ?? '')))
    .join('');
}

/** A role text tagged with the role and family it came from (for sampling weights and reports). */
export interface TaggedRoleText extends RoleText {
  role: string;
  family: string;
  /**
   * Render the prompt as the runtime does in latent mode with every latent slot empty (round 1's
   * feedback): the text around a slot is tokenized piece by piece, so `feedback {{feedback}}`
   * keeps a space token that text mode trims away. Set: `prompt` is the template, `question` fills it.
   */
  latentTemplate?: { template: string; question: string };
}

/**
 * Token ids of a role text, prompt then target then the first stop token, as the agent reads it
 * (text mode, or latent mode with empty slots for `latentTemplate` texts).
 *
 * @example const { ids, targetStart } = encodeTaggedText(agent.tokenizer, text);
 */
export function encodeTaggedText(tokenizer: Tokenizer, text: TaggedRoleText): EncodedRoleText {
  if (text.latentTemplate === undefined) return encodeRoleText(tokenizer, text);
  const { pieces } = slottedPrompt(
    tokenizer,
    text.latentTemplate.template,
    text.latentTemplate.question,
  );
  const promptIds = pieces.flatMap((p) => (p.kind === 'text' ? p.ids : []));
  const eos = tokenizer.eosTokenIds[0];
  return {
    ids: [
      ...promptIds,
      ...tokenizer.encode(text.target, { addSpecialTokens: false }),
      ...(eos === undefined ? [] : [eos]),
    ],
    targetStart: promptIds.length,
  };
}

/**
 * The role texts of one task for every role, per pattern. The planner (and specialists) also learn
 * the round-2+ prompt, where the feedback slot holds the previous round's final text, and the
 * latent-mode round-1 prompt (empty feedback slot, see `latentTemplate`).
 *
 * @example roleTextsOf(record).filter((t) => t.role === 'critic')
 */
export function roleTextsOf(record: TaskRecord): TaggedRoleText[] {
  const out: TaggedRoleText[] = [];
  const q = record.question;
  const family = record.family;
  const seq = record.roles?.sequential;
  if (seq?.planner !== undefined && seq.critic !== undefined && seq.solver !== undefined) {
    const planner = SEQUENTIAL_BENCH_PROMPTS.planner;
    out.push(
      {
        role: 'planner',
        family,
        prompt: fillPrompt(planner, { question: q }),
        target: seq.planner,
      },
      {
        role: 'planner',
        family,
        prompt: planner,
        target: seq.planner,
        latentTemplate: { template: planner, question: q },
      },
      {
        role: 'planner',
        family,
        prompt: fillPrompt(planner, { question: q, feedback: seq.solver }),
        target: seq.planner,
      },
      {
        role: 'critic',
        family,
        prompt: fillPrompt(SEQUENTIAL_BENCH_PROMPTS.critic, {
          question: q,
          'latent:planner': seq.planner,
        }),
        target: seq.critic,
      },
      {
        role: 'solver',
        family,
        prompt: fillPrompt(SEQUENTIAL_BENCH_PROMPTS.solver, {
          question: q,
          'latent:critic': seq.critic,
        }),
        target: seq.solver,
      },
    );
  }
  const mix = record.roles?.mixture;
  if (mix?.left !== undefined && mix.right !== undefined && mix.summarizer !== undefined) {
    for (const [role, target] of [
      ['left', mix.left],
      ['right', mix.right],
    ] as const) {
      const template = MIXTURE_BENCH_PROMPTS[role];
      out.push(
        { role, family, prompt: fillPrompt(template, { question: q }), target },
        {
          role,
          family,
          prompt: template,
          target,
          latentTemplate: { template, question: q },
        },
        {
          role,
          family,
          prompt: fillPrompt(template, { question: q, feedback: mix.summarizer }),
          target,
        },
      );
    }
    out.push({
      role: 'summarizer',
      family,
      prompt: fillPrompt(MIXTURE_BENCH_PROMPTS.summarizer, {
        question: q,
        'latent:left': mix.left,
        'latent:right': mix.right,
      }),
      target: mix.summarizer,
    });
  }
  return out;
}

/**
 * Every training text of one network: its roles' texts over the tasks, and its facts.
 *
 * @example const texts = networkTexts('critic', splits.train, splits.knowledge);
 */
export function networkTexts(
  network: NetworkName,
  tasks: readonly TaskRecord[],
  knowledge: readonly KnowledgeRecord[],
): TaggedRoleText[] {
  const roles = tasks.flatMap(roleTextsOf).filter((t) => ROLE_NETWORK[t.role] === network);
  const facts = knowledge
    .filter((k) => k.agent === network)
    .map((k) => ({ role: 'knowledge', family: 'knowledge', prompt: k.prompt, target: k.target }));
  return [...roles, ...facts];
}
