/**
 * Decoding text for a batch of requests from their input embeddings, with the agent's tools: the
 * model generates; where a row's text calls a tool (`<javascript>…</javascript>`), the text is cut
 * after the call, the tool runs, its observation is appended as `<result>…</result>`, and that row
 * generates again from its prompt, its text so far and the observation, up to `maxToolRounds`
 * calls. Rows without a call are done. Synchronous when the agent has no tools.
 */
import * as tf from '@tensorflow/tfjs';
import type { Agent, SamplingOptions } from '../models/types.ts';
import { padLeftEmbeds } from '../operators/prompt/splice.ts';
import { findToolCall, formatToolResult, type Tool } from '../operators/tools/tool.ts';
import { ToolError } from '../operators/tools/toolError.ts';

export interface Decoded {
  text: string;
  /** Tokens generated over every generate call (tool observations excluded). */
  generatedTokens: number;
  /** Positions of the first prompt (for the FLOP estimate). */
  promptLength: number;
  toolCalls: number;
}

interface Row {
  embeds: tf.Tensor2D; // [t, d]
  owned: boolean;
  text: string;
  generatedTokens: number;
  toolCalls: number;
  done: boolean;
}

/** One batched generate over the rows not done yet; returns the new text of each. */
function generateRows(agent: Agent, rows: Row[], sampling: SamplingOptions): string[] {
  const padded = padLeftEmbeds(rows.map((r) => r.embeds));
  try {
    const ids = agent.model.generate(
      { inputsEmbeds: padded.inputsEmbeds, attentionMask: padded.attentionMask },
      sampling,
    );
    return rows.map((row, i) => {
      const rowIds = ids[i] ?? [];
      row.generatedTokens += rowIds.length;
      return agent.tokenizer.decode(rowIds, { skipSpecialTokens: true });
    });
  } finally {
    tf.dispose([padded.inputsEmbeds, padded.attentionMask]);
  }
}

/** Appends text (tokenized with the agent's tokenizer) to a row's input embeddings. */
function extend(agent: Agent, row: Row, text: string): void {
  const ids = agent.tokenizer.encode(text, { addSpecialTokens: false });
  if (ids.length === 0) return;
  const next = tf.tidy(() => {
    const d = agent.model.config.hiddenSize;
    const added = agent.model
      .embed(tf.tensor2d([ids], [1, ids.length], 'int32'))
      .reshape([ids.length, d]);
    return tf.concat([row.embeds, added], 0) as tf.Tensor2D;
  });
  if (row.owned) row.embeds.dispose();
  row.embeds = next;
  row.owned = true;
}

async function observe(tool: Tool, input: string): Promise<string> {
  try {
    return await tool.run(input);
  } catch (error) {
    // The model's code failing is something for the model to read, not a failed request.
    if (error instanceof ToolError) return `error (${error.code}): ${error.message}`;
    throw error;
  }
}

/**
 * Decodes every request of a batch. Borrows `inputs` ([t, d] each); frees what it creates.
 * @example const [out] = decodeWithTools(solver, [embeds], { maxNewTokens: 64 }, [], 0) as Decoded[];
 */
export function decodeWithTools(
  agent: Agent,
  inputs: readonly tf.Tensor2D[],
  sampling: SamplingOptions,
  tools: readonly Tool[],
  maxToolRounds: number,
): Decoded[] | Promise<Decoded[]> {
  const rows: Row[] = inputs.map((embeds) => ({
    embeds,
    owned: false,
    text: '',
    generatedTokens: 0,
    toolCalls: 0,
    done: false,
  }));
  const result = (): Decoded[] =>
    rows.map((row, i) => ({
      text: row.text,
      generatedTokens: row.generatedTokens,
      promptLength: inputs[i]!.shape[0],
      toolCalls: row.toolCalls,
    }));
  const release = () => {
    for (const row of rows) if (row.owned) row.embeds.dispose();
  };
  if (tools.length === 0 || maxToolRounds === 0) {
    for (const [i, text] of generateRows(agent, rows, sampling).entries()) rows[i]!.text = text;
    return result();
  }
  const names = tools.map((t) => t.name);
  const loop = async (): Promise<Decoded[]> => {
    try {
      for (;;) {
        const active = rows.filter((r) => !r.done);
        if (active.length === 0) return result();
        const pieces = generateRows(agent, active, sampling);
        const calls = active.map((row, i) => {
          const piece = pieces[i]!;
          const call = row.toolCalls < maxToolRounds ? findToolCall(piece, names) : undefined;
          if (call === undefined) {
            row.text += piece;
            row.done = true;
            return undefined;
          }
          const head = piece.slice(0, call.end);
          row.text += head;
          row.toolCalls += 1;
          return { row, head, run: observe(tools.find((t) => t.name === call.name)!, call.input) };
        });
        const observations = await Promise.all(calls.map((call) => call?.run));
        calls.forEach((call, i) => {
          if (call === undefined) return;
          const observation = `\n${formatToolResult(observations[i]!)}\n`;
          call.row.text += observation;
          extend(agent, call.row, call.head + observation);
        });
      }
    } finally {
      release();
    }
  };
  return loop();
}
