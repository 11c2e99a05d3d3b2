/**
 * Decoding with tools, on a scripted agent (a fake model whose `generate` replays fixed texts, and
 * a character-level tokenizer), so the tool loop's bookkeeping can be checked by hand: where the
 * text is cut, what observation is appended, what the model reads next, when the loop stops.
 */
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Agent, CausalLM, ForwardInput, Tokenizer } from '../../models/types.ts';
import { javascriptTool } from '../../operators/tools/javascript.ts';
import type { Tool } from '../../operators/tools/tool.ts';
import { ToolError } from '../../operators/tools/toolError.ts';
import { decodeWithTools } from '../../runtime/decoding.ts';

const D = 4;

const chars: Tokenizer = {
  encode: (text) => [...text].map((c) => c.codePointAt(0)!),
  decode: (ids) => String.fromCodePoint(...ids),
  applyChatTemplate: (messages) => messages.map((m) => m.content).join('\n'),
  vocabSize: 0x11000,
  eosTokenIds: [],
  padTokenId: 0,
};

interface Call {
  /** Real (unpadded) input length of each row. */
  lengths: number[];
}

/** A fake agent: generate() returns, per call, the scripted texts of the rows it is given. */
function scriptedAgent(script: string[][]): { agent: Agent; calls: Call[] } {
  const calls: Call[] = [];
  const model = {
    config: { hiddenSize: D },
    embed: (ids: tf.Tensor2D) => tf.tidy(() => tf.ones([...ids.shape, D]) as tf.Tensor3D),
    generate(input: Omit<ForwardInput, 'kvCache' | 'returnLogits'>) {
      const mask = input.attentionMask!.arraySync();
      calls.push({ lengths: mask.map((row) => row.reduce((a, b) => a + b, 0)) });
      const texts = script[calls.length - 1] ?? [];
      return mask.map((_, i) => chars.encode(texts[i] ?? ''));
    },
  } as unknown as CausalLM;
  return { agent: { name: 'scripted', model, tokenizer: chars }, calls };
}

function fakeTool(
  name: string,
  run: (input: string) => Promise<string>,
): Tool & { inputs: string[] } {
  const inputs: string[] = [];
  return {
    name,
    description: name,
    inputs,
    run: (input) => {
      inputs.push(input);
      return run(input);
    },
  };
}

const sampling = { maxNewTokens: 64, temperature: 0 };
let baseline = 0;
beforeAll(async () => {
  await tf.setBackend('cpu');
});
beforeEach(() => {
  baseline = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors).toBe(baseline);
});

describe('decodeWithTools', () => {
  it('without tools: one batched generate, texts as decoded', () => {
    const { agent, calls } = scriptedAgent([['first', 'second']]);
    const inputs = [tf.zeros([3, D]) as tf.Tensor2D, tf.zeros([5, D]) as tf.Tensor2D];
    const out = decodeWithTools(agent, inputs, sampling, [], 5);
    tf.dispose(inputs);
    expect(out).toEqual([
      { text: 'first', generatedTokens: 5, promptLength: 3, toolCalls: 0 },
      { text: 'second', generatedTokens: 6, promptLength: 5, toolCalls: 0 },
    ]);
    expect(calls).toEqual([{ lengths: [3, 5] }]);
  });

  it('cuts after a tool call, appends the observation, and generates again for that row only', async () => {
    const head = 'Check: <javascript>6*7</javascript>';
    const { agent, calls } = scriptedAgent([
      [`${head} ignored tail`, 'No tools needed.'],
      [' So 42.'],
    ]);
    const tool = fakeTool('javascript', async () => '42');
    const inputs = [tf.zeros([3, D]) as tf.Tensor2D, tf.zeros([5, D]) as tf.Tensor2D];
    const out = await decodeWithTools(agent, inputs, sampling, [tool], 5);
    tf.dispose(inputs);
    const observation = '\n<result>\n42\n</result>\n';
    expect(tool.inputs).toEqual(['6*7']);
    expect(out).toEqual([
      {
        text: `${head}${observation} So 42.`,
        generatedTokens: `${head} ignored tail`.length + ' So 42.'.length,
        promptLength: 3,
        toolCalls: 1,
      },
      { text: 'No tools needed.', generatedTokens: 16, promptLength: 5, toolCalls: 0 },
    ]);
    // The second call reads row 0's prompt, its text up to the call and the observation.
    expect(calls).toEqual([
      { lengths: [3, 5] },
      { lengths: [3 + head.length + observation.length] },
    ]);
  });

  it('stops calling tools after maxToolRounds, keeping the last call as text', async () => {
    const call = '<javascript>1</javascript>';
    const { agent, calls } = scriptedAgent([[call], [`again ${call}`]]);
    const tool = fakeTool('javascript', async () => 'one');
    const input = tf.zeros([2, D]) as tf.Tensor2D;
    const [out] = await decodeWithTools(agent, [input], sampling, [tool], 1);
    input.dispose();
    expect(out!.text).toBe(`${call}\n<result>\none\n</result>\nagain ${call}`);
    expect(out!.toolCalls).toBe(1);
    expect(calls.length).toBe(2);
  });

  it('shows a ToolError to the model as an observation, and fails on any other error', async () => {
    const call = '<search>x</search>';
    const failing = fakeTool('search', async () => {
      throw new ToolError('TOOL_RUNTIME', 'search: broken index');
    });
    const { agent } = scriptedAgent([[call], ['ok']]);
    const input = tf.zeros([2, D]) as tf.Tensor2D;
    const [out] = await decodeWithTools(agent, [input], sampling, [failing], 3);
    expect(out!.text).toBe(
      `${call}\n<result>\nerror (TOOL_RUNTIME): search: broken index\n</result>\nok`,
    );

    const crashing = fakeTool('search', async () => {
      throw new Error('disk on fire');
    });
    const again = scriptedAgent([[call], ['ok']]);
    await expect(decodeWithTools(again.agent, [input], sampling, [crashing], 3)).rejects.toThrow(
      'disk on fire',
    );
    input.dispose();
  });

  it('runs the sandboxed JavaScript tool of operators/tools', async () => {
    const { agent } = scriptedAgent([['<javascript>6 * 7</javascript>'], ['done']]);
    const input = tf.zeros([2, D]) as tf.Tensor2D;
    const [out] = await decodeWithTools(agent, [input], sampling, [javascriptTool()], 2);
    input.dispose();
    expect(out!.text).toBe('<javascript>6 * 7</javascript>\n<result>\n=> 42\n</result>\ndone');
  });
});
