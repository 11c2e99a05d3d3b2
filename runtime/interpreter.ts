/**
 * A reference interpreter of the topology IR: plain loops, one request at a time, no RxJS, no
 * batching, no plan. It follows dsl/ir.ts line by line and shares only the primitives with the
 * compiled runtime (prompt rendering, splicing, rollout, links, decoding with tools), so that
 * "compiled and interpreted runs agree" checks the plan, the batching and the stream engine.
 * Under greedy decoding both give the same text and the same number of rounds.
 */
import * as tf from '@tensorflow/tfjs';
import type { Mode } from '../dsl/graph.ts';
import type { TopologyIR } from '../dsl/ir.ts';
import { innerLinkId, outerLinkId, slotOf } from '../dsl/ir.ts';
import { executionOrder } from '../dsl/order.ts';
import type { Topology } from '../dsl/topology.ts';
import type { Agent } from '../models/types.ts';
import { latentStopOf, thoughtLengths } from '../operators/latentStop.ts';
import { latentRollout } from '../operators/latentThoughts.ts';
import { transferLatents } from '../operators/latentTransfer.ts';
import { applyLink } from '../operators/links/recursiveLink.ts';
import { spliceLatents } from '../operators/prompt/splice.ts';
import { javascriptTool } from '../operators/tools/javascript.ts';
import { type SearchDocument, searchTool } from '../operators/tools/search.ts';
import type { Tool } from '../operators/tools/tool.ts';
import { changeOfFeedback } from './convergence.ts';
import { decodeWithTools } from './decoding.ts';
import { RuntimeError } from './errors.ts';
import type { LinkSet } from './links.ts';
import type { Answer, Request, RoundInfo } from './messages.ts';
import { checkedIR } from './plan.ts';
import { slottedPrompt, textPromptIds } from './prompt.ts';
import { initialState } from './state.ts';

export interface InterpretOptions {
  agents: Readonly<Record<string, Agent>>;
  links?: LinkSet;
  mode: Mode;
  tools?: Readonly<Record<string, Tool>>;
  documents?: readonly SearchDocument[];
  handoffTokens?: number;
  seed?: number;
  stop?: (info: RoundInfo) => boolean;
}

/**
 * Answers one request by interpreting the IR directly. Usage is not accounted (empty).
 * @example const answer = await interpret(ir, { requestId: 'q1', input: '2 + 2?' }, { agents, links, mode: 'latent' });
 */
export async function interpret(
  topology: Topology | TopologyIR,
  request: Request,
  options: InterpretOptions,
): Promise<Answer> {
  const ir = checkedIR(topology);
  const { mode } = options;
  const agent = (name: string): Agent => {
    const found = options.agents[name];
    if (found === undefined)
      throw new RuntimeError('AGENT_MISMATCH', `agent "${name}" has no model`);
    return found;
  };
  const link = (id: string) => {
    const found = options.links?.get(id);
    if (found === undefined) throw new RuntimeError('LINK_MISMATCH', `link ${id} is missing`);
    return found;
  };
  const def = (name: string) => ir.agents.find((a) => a.name === name)!;
  const tool = (name: string): Tool => {
    const given = options.tools?.[name];
    if (given !== undefined) return given;
    if (options.tools === undefined && name === 'javascript') return javascriptTool();
    if (options.tools === undefined && name === 'search')
      return searchTool(options.documents ?? []);
    throw new RuntimeError('UNKNOWN_TOOL', `no tool "${name}"`);
  };
  const sampling = {
    maxNewTokens: ir.decode.maxNewTokens,
    temperature: ir.decode.temperature,
    topP: ir.decode.topP,
    seed: options.seed ?? 0,
  };
  const handoff = { ...sampling, maxNewTokens: options.handoffTokens ?? ir.decode.maxNewTokens };
  const decoder = ir.decode.agent;
  const order = executionOrder(ir);
  const feedbackSources = [
    ...new Set(ir.edges.filter((e) => e.kind === 'feedback').map((e) => e.from)),
  ];
  // The final round runs what reaches the decoder through forward edges.
  const needed = new Set<string>();
  for (let grew = true; grew; ) {
    grew = false;
    for (const e of ir.edges) {
      if (e.kind === 'forward' && (e.to === decoder || needed.has(e.to)) && !needed.has(e.from)) {
        needed.add(e.from);
        grew = true;
      }
    }
  }

  // Latent mode: H per agent this round, and the feedback sources' H of the previous round.
  let thoughts: Record<string, tf.Tensor2D> = {};
  let previous: Record<string, tf.Tensor2D> = {};
  let texts: Record<string, string> = {};
  let previousTexts: Record<string, string> = {};

  /** The agent's input embeddings [t, d] this round. */
  const input = (name: string): tf.Tensor2D => {
    const a = agent(name);
    const d = def(name);
    const into = ir.edges.filter((e) => e.to === name);
    if (mode === 'text') {
      const filled: Record<string, string> = {};
      for (const e of into) {
        filled[slotOf(e)] =
          e.kind === 'feedback' ? (previousTexts[e.from] ?? '') : (texts[e.from] ?? '');
      }
      const ids = textPromptIds(a.tokenizer, d.prompt, request.input, filled);
      return tf.tidy(
        () =>
          a.model
            .embed(tf.tensor2d([ids], [1, ids.length], 'int32'))
            .reshape([ids.length, d.hiddenSize]) as tf.Tensor2D,
      );
    }
    return tf.tidy(() => {
      const latents: Record<string, tf.Tensor2D> = {};
      for (const e of into) {
        const h = e.kind === 'feedback' ? previous[e.from] : thoughts[e.from];
        if (h === undefined) {
          latents[slotOf(e)] = tf.zeros([0, d.hiddenSize]); // feedback in round 1
          continue;
        }
        const inner = link(innerLinkId(e.from));
        latents[slotOf(e)] =
          e.outerLink === null
            ? applyLink(inner, h)
            : transferLatents(inner, link(outerLinkId(e)), h);
      }
      return spliceLatents(a.model, slottedPrompt(a.tokenizer, d.prompt, request.input), latents);
    });
  };

  const decode = async (name: string, kind: 'answer' | 'handoff'): Promise<string> => {
    const embeds = input(name);
    try {
      const tools = kind === 'answer' ? def(name).tools.map(tool) : [];
      const [out] = await decodeWithTools(
        agent(name),
        [embeds],
        kind === 'answer' ? sampling : handoff,
        tools,
        ir.decode.maxToolRounds,
      );
      return out!.text;
    } finally {
      embeds.dispose();
    }
  };

  const answer = (text: string, rounds: number): Answer => ({
    requestId: request.requestId,
    topologyId: request.topologyId ?? ir.name,
    topologyVersion: request.topologyVersion ?? 0,
    text,
    rounds,
    usage: [],
  });

  try {
    for (let round = 1; round <= ir.rounds.max; round++) {
      const final = round === ir.rounds.max;
      for (const name of order) {
        if (final && name === decoder) return answer(await decode(name, 'answer'), round);
        if (final && !needed.has(name)) continue;
        if (mode === 'text') {
          texts[name] = await decode(name, 'handoff');
          continue;
        }
        const embeds = input(name);
        const batched = embeds.expandDims(0) as tf.Tensor3D; // a batch of one: [1, t, d]
        try {
          thoughts[name] = tf.tidy(() => {
            const { model, tokenizer } = agent(name);
            const inner = link(innerLinkId(name));
            const minCosine = def(name).latentStop?.minCosine;
            const stop =
              minCosine === undefined ? undefined : latentStopOf(model, tokenizer, minCosine);
            const h = latentRollout(
              model,
              inner,
              { inputsEmbeds: batched },
              def(name).latentSteps,
              stop,
            );
            const own = h.squeeze([0]) as tf.Tensor2D;
            if (stop === undefined || own.shape[0] === 0) return own;
            return own.slice([0, 0], [thoughtLengths(inner, h, stop)[0]!, -1]);
          });
        } finally {
          tf.dispose([embeds, batched]);
        }
      }
      // End of a round that is not the last: converged, stopped, or on to the next round.
      const state = {
        ...initialState(request),
        round,
        thoughts,
        fedBack: previous,
        texts,
        fedBackTexts: previousTexts,
      };
      const change = changeOfFeedback(state, feedbackSources, mode);
      const converged = ir.rounds.epsilon > 0 && change !== undefined && change < ir.rounds.epsilon;
      if (converged || options.stop?.({ requestId: request.requestId, request, round, change })) {
        return answer(await decode(decoder, 'answer'), round);
      }
      if (mode === 'latent') {
        const carried = new Set(feedbackSources.map((f) => thoughts[f]));
        tf.dispose([
          ...Object.values(previous),
          ...Object.values(thoughts).filter((h) => !carried.has(h)),
        ]);
        previous = Object.fromEntries(feedbackSources.map((f) => [f, thoughts[f]!]));
      } else {
        previousTexts = Object.fromEntries(feedbackSources.map((f) => [f, texts[f] ?? '']));
      }
      thoughts = {};
      texts = {};
    }
    throw new RuntimeError('INVALID_TOPOLOGY', 'the decoder never ran'); // unreachable for a valid IR
  } finally {
    tf.dispose([...Object.values(previous), ...Object.values(thoughts)]);
  }
}
