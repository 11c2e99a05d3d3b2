/**
 * The real stages: what one agent does for a batch of requests, as pure functions of their states.
 * - latent: fill the prompt's slots with R_out(R_in(H)) of the sources (batched per edge), splice,
 *   left-pad, roll out m latent thoughts in one batched pass (KV-cached; the re-run rollout when
 *   differentiable).
 * - text (Recursive-TextMAS): fill the slots with the sources' texts, decode a hand-off text.
 * - decode: the decoder's input as for `latent` (or `text`), then generate the answer, with tools.
 */
import * as tf from '@tensorflow/tfjs';
import type { AgentIR } from '../dsl/ir.ts';
import type { Agent, SamplingOptions } from '../models/types.ts';
import { latentStopOf, thoughtLengths } from '../operators/latentStop.ts';
import { latentRollout, latentRolloutUncached } from '../operators/latentThoughts.ts';
import { transferLatents } from '../operators/latentTransfer.ts';
import { applyLink, type RecursiveLink } from '../operators/links/recursiveLink.ts';
import { padLeftEmbeds, type SlottedPrompt, spliceLatents } from '../operators/prompt/splice.ts';
import type { Tool } from '../operators/tools/tool.ts';
import {
  decodeFlops,
  latentRolloutFlops,
  linkFlops,
  uncachedLatentRolloutFlops,
} from '../operators/usage/flops.ts';
import type { UsageEntry, UsagePhase } from '../operators/usage/ledger.ts';
import { type Decoded, decodeWithTools } from './decoding.ts';
import { RuntimeError } from './errors.ts';
import { slottedPrompt, textPromptIds } from './prompt.ts';
import type { Stage, StageRunOptions } from './stage.ts';
import type { RequestState } from './state.ts';

/** A slot of an agent's prompt and the edge that fills it. */
export interface InputContext {
  /** `latent:<source>` or `feedback`. */
  readonly slot: string;
  readonly source: string;
  /** Filled from the previous round (empty in round 1). */
  readonly feedback: boolean;
  /** Latent mode: the source's R_in, then the edge's R_out (null: identity). */
  readonly sourceInner: RecursiveLink | undefined;
  readonly outer: RecursiveLink | null;
}

/** An agent resolved for running: its network, links, inputs and tools. */
export interface AgentContext {
  readonly name: string;
  readonly def: AgentIR;
  readonly agent: Agent;
  /** Latent mode: R_in. */
  readonly inner: RecursiveLink | undefined;
  readonly inputs: readonly InputContext[];
  readonly tools: readonly Tool[];
}

/** Decoding settings shared by the text and decode stages. */
export interface DecodeSettings {
  /** The answer's sampling (the IR's decode block). */
  answer: SamplingOptions;
  /** Text mode hand-offs. */
  handoff: SamplingOptions;
  maxToolRounds: number;
}

/** The inputs of a batch: per request [t, d] embeddings, and what the usage ledger needs. */
interface BatchInputs {
  embeds: tf.Tensor2D[];
  textTokens: number[];
  latentInputs: number[];
  transfers: UsageEntry[][];
}

const now = () => performance.now();

/** tf.tidy for results that hold tensors among other fields (tidy keeps every tensor it finds). */
function tidyKeep<T>(f: () => T): T {
  return tf.tidy(f as () => tf.TensorContainer) as T;
}

function entry(
  state: RequestState,
  agent: string,
  round: number,
  phase: UsagePhase,
  fields: Partial<UsageEntry>,
): UsageEntry {
  return {
    requestId: state.request.requestId,
    agent,
    round,
    phase,
    promptTokens: 0,
    latentInputs: 0,
    generatedTokens: 0,
    latentSteps: 0,
    flops: 0,
    wallTimeMs: 0,
    ...fields,
  };
}

/**
 * R_out(R_in(H)) of every request's source latents for one input, in one batched pass. A
 * feedback slot in round 1 is empty ([0, d]). Call inside tf.tidy.
 */
function transferInput(
  ctx: AgentContext,
  input: InputContext,
  states: readonly RequestState[],
): tf.Tensor2D[] {
  const d = ctx.def.hiddenSize;
  const sources = states.map((s) => {
    if (input.feedback) return s.round === 1 ? undefined : s.fedBack[input.source];
    const h = s.thoughts[input.source];
    if (h === undefined) {
      throw new RuntimeError(
        'STAGE_CONTRACT',
        `agent "${ctx.name}" runs before "${input.source}" has produced latents in round ${s.round}`,
      );
    }
    return h;
  });
  const present = sources.filter((h): h is tf.Tensor2D => h !== undefined);
  let mapped: tf.Tensor2D[] = [];
  if (present.length > 0) {
    const all = tf.concat(present, 0); // [Σm, d_source]
    const inner = input.sourceInner!;
    const out =
      input.outer === null ? applyLink(inner, all) : transferLatents(inner, input.outer, all);
    // tfjs cannot differentiate a split into one piece, and a batch of one needs none.
    mapped =
      present.length === 1
        ? [out as tf.Tensor2D]
        : (tf.split(
            out,
            present.map((h) => h.shape[0]),
            0,
          ) as tf.Tensor2D[]);
  }
  let next = 0;
  return sources.map((h) => (h === undefined ? tf.zeros([0, d]) : mapped[next++]!));
}

/** Latent mode: the spliced inputs of a batch. Call inside tf.tidy. */
function latentBatchInputs(ctx: AgentContext, states: readonly RequestState[]): BatchInputs {
  const perInput = ctx.inputs.map((input) => transferInput(ctx, input, states));
  const embeds: tf.Tensor2D[] = [];
  const textTokens: number[] = [];
  const latentInputs: number[] = [];
  const transfers: UsageEntry[][] = [];
  states.forEach((state, i) => {
    const prompt: SlottedPrompt = slottedPrompt(
      ctx.agent.tokenizer,
      ctx.def.prompt,
      state.request.input,
    );
    const latents: Record<string, tf.Tensor2D> = {};
    const entries: UsageEntry[] = [];
    ctx.inputs.forEach((input, k) => {
      const latent = perInput[k]![i]!;
      latents[input.slot] = latent;
      const vectors = latent.shape[0];
      if (vectors === 0) return;
      const perVector = linkFlops(input.sourceInner!) + (input.outer ? linkFlops(input.outer) : 0);
      const round = input.feedback ? state.round - 1 : state.round;
      entries.push(entry(state, input.source, round, 'transfer', { flops: vectors * perVector }));
    });
    const spliced = spliceLatents(ctx.agent.model, prompt, latents);
    embeds.push(spliced);
    textTokens.push(prompt.textTokens);
    latentInputs.push(spliced.shape[0] - prompt.textTokens);
    transfers.push(entries);
  });
  return { embeds, textTokens, latentInputs, transfers };
}

/** Text mode: the prompt ids of a batch, embedded. Call inside tf.tidy. */
function textBatchInputs(ctx: AgentContext, states: readonly RequestState[]): BatchInputs {
  const d = ctx.def.hiddenSize;
  const embeds = states.map((state) => {
    const texts: Record<string, string> = {};
    for (const input of ctx.inputs) {
      texts[input.slot] = input.feedback
        ? (state.fedBackTexts[input.source] ?? '')
        : (state.texts[input.source] ?? '');
    }
    const ids = textPromptIds(ctx.agent.tokenizer, ctx.def.prompt, state.request.input, texts);
    if (ids.length === 0)
      throw new RuntimeError('INVALID_REQUEST', `agent "${ctx.name}": empty prompt`);
    const idsT = tf.tensor2d([ids], [1, ids.length], 'int32');
    return ctx.agent.model.embed(idsT).reshape([ids.length, d]) as tf.Tensor2D;
  });
  return {
    embeds,
    textTokens: embeds.map((e) => e.shape[0]),
    latentInputs: states.map(() => 0),
    transfers: states.map(() => []),
  };
}

/**
 * The decoder's input for a batch (latent or text mode), left-padded: what the final decode reads
 * and what training appends its targets to. The caller owns the result.
 * @example const { inputsEmbeds, attentionMask } = decoderInputs(solverCtx, states, 'latent');
 */
export function decoderInputs(
  ctx: AgentContext,
  states: readonly RequestState[],
  mode: 'latent' | 'text',
): { inputsEmbeds: tf.Tensor3D; attentionMask: tf.Tensor2D } {
  return tidyKeep(() => {
    const inputs =
      mode === 'latent' ? latentBatchInputs(ctx, states) : textBatchInputs(ctx, states);
    const { inputsEmbeds, attentionMask } = padLeftEmbeds(inputs.embeds);
    return { inputsEmbeds, attentionMask };
  });
}

/**
 * The latent stage of an agent: m latent thoughts per request, in one batched rollout.
 * @example const stage = latentStage(plannerCtx); stage.run(states) // states with thoughts.planner [m, 96]
 */
export function latentStage(ctx: AgentContext): Stage<RequestState> {
  const m = ctx.def.latentSteps;
  const config = ctx.agent.model.config;
  return {
    id: `${ctx.name}/latent`,
    agent: ctx.name,
    kind: 'latent',
    run(states: readonly RequestState[], options: StageRunOptions = {}): RequestState[] {
      const start = now();
      const inner = ctx.inner!;
      const model = ctx.agent.model;
      let inputs: BatchInputs | undefined;
      let lengths: number[] = states.map(() => m);
      const thoughts = tf.tidy(() => {
        inputs = latentBatchInputs(ctx, states);
        const padded = padLeftEmbeds(inputs.embeds);
        const minCosine = ctx.def.latentStop?.minCosine;
        const stop =
          minCosine === undefined ? undefined : latentStopOf(model, ctx.agent.tokenizer, minCosine);
        const h = options.differentiable // [b, <= m, d]
          ? latentRolloutUncached(model, inner, padded, m)
          : latentRollout(model, inner, padded, m, stop);
        if (stop !== undefined && m > 0) lengths = thoughtLengths(inner, h, stop);
        // b x [length, d]; tfjs cannot differentiate an unstack into one piece, so squeeze that case.
        const rows =
          h.shape[0] === 1 ? [tf.squeeze(h, [0]) as tf.Tensor2D] : (tf.unstack(h) as tf.Tensor2D[]);
        return rows.map((row, i) =>
          lengths[i]! < row.shape[0] ? row.slice([0, 0], [lengths[i]!, -1]) : row,
        );
      });
      const { textTokens, latentInputs, transfers } = inputs!;
      const share = (now() - start) / states.length;
      const flops = options.differentiable ? uncachedLatentRolloutFlops : latentRolloutFlops;
      return states.map((state, i) => {
        const promptLength = textTokens[i]! + latentInputs[i]!;
        const own = entry(state, ctx.name, state.round, 'latent', {
          promptTokens: textTokens[i]!,
          latentInputs: latentInputs[i]!,
          // A row that stopped needed its thoughts and the step that found the stop.
          latentSteps: Math.min(lengths[i]! + 1, m),
          flops: flops(config, inner, promptLength, Math.min(lengths[i]! + 1, m)),
          wallTimeMs: share,
        });
        return {
          ...state,
          thoughts: { ...state.thoughts, [ctx.name]: thoughts[i]! },
          usage: [...state.usage, ...transfers[i]!, own],
        };
      });
    },
  };
}

function decodeEntries(
  ctx: AgentContext,
  state: RequestState,
  phase: UsagePhase,
  inputs: Pick<BatchInputs, 'textTokens' | 'latentInputs' | 'transfers'>,
  i: number,
  decoded: { generatedTokens: number; promptLength: number },
  wallTimeMs: number,
): UsageEntry[] {
  const own = entry(state, ctx.name, state.round, phase, {
    promptTokens: inputs.textTokens[i]!,
    latentInputs: inputs.latentInputs[i]!,
    generatedTokens: decoded.generatedTokens,
    flops: decodeFlops(ctx.agent.model.config, decoded.promptLength, decoded.generatedTokens),
    wallTimeMs,
  });
  return [...inputs.transfers[i]!, own];
}

/**
 * The decoding stages: `decode` answers (with the agent's tools); `text` writes a text-mode
 * hand-off. Sync without tools, async with.
 */
function generatingStage(
  ctx: AgentContext,
  mode: 'latent' | 'text',
  kind: 'text' | 'decode',
  settings: DecodeSettings,
): Stage<RequestState> {
  const sampling = kind === 'decode' ? settings.answer : settings.handoff;
  const tools = kind === 'decode' ? ctx.tools : [];
  return {
    id: `${ctx.name}/${kind}`,
    agent: ctx.name,
    kind,
    run(states) {
      const start = now();
      const inputs = tidyKeep(() =>
        mode === 'latent' ? latentBatchInputs(ctx, states) : textBatchInputs(ctx, states),
      );
      const finish = (decoded: Decoded[]) => {
        const share = (now() - start) / states.length;
        return states.map((state, i): RequestState => {
          const out = decoded[i]!;
          const usage = [
            ...state.usage,
            ...decodeEntries(
              ctx,
              state,
              kind === 'decode' ? 'decode' : 'text',
              inputs,
              i,
              out,
              share,
            ),
          ];
          return kind === 'decode'
            ? { ...state, answer: out.text, usage }
            : { ...state, texts: { ...state.texts, [ctx.name]: out.text }, usage };
        });
      };
      let decoded: ReturnType<typeof decodeWithTools>;
      try {
        decoded = decodeWithTools(
          ctx.agent,
          inputs.embeds,
          sampling,
          tools,
          settings.maxToolRounds,
        );
      } catch (error) {
        tf.dispose(inputs.embeds);
        throw error;
      }
      if (!(decoded instanceof Promise)) {
        tf.dispose(inputs.embeds);
        return finish(decoded);
      }
      return decoded.then(
        (d) => {
          tf.dispose(inputs.embeds);
          return finish(d);
        },
        (error: unknown) => {
          tf.dispose(inputs.embeds);
          throw error;
        },
      );
    },
  };
}

/**
 * The text-mode hand-off stage of an agent (Recursive-TextMAS).
 * @example textStage(plannerCtx, settings).run(states) // states with texts.planner
 */
export function textStage(ctx: AgentContext, settings: DecodeSettings): Stage<RequestState> {
  return generatingStage(ctx, 'text', 'text', settings);
}

/**
 * The decoder's answer stage.
 * @example decodeStage(solverCtx, 'latent', settings).run(states) // states with answer set
 */
export function decodeStage(
  ctx: AgentContext,
  mode: 'latent' | 'text',
  settings: DecodeSettings,
): Stage<RequestState> {
  return generatingStage(ctx, mode, 'decode', settings);
}
