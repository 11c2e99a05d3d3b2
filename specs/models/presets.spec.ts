import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { createPresetAgent, PRESET_NAMES, presetConfig } from '../../models/presets.ts';
import { saveAgent } from '../../models/save.ts';
import { describeEachBackend } from '../harness/backends.ts';
import { maxAbsDiff } from './fixtureModels.ts';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'rmas-presets-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

describe('presets', () => {
  it('are heterogeneous: three families, widths 96/128/192, different depths, two tokenizers', () => {
    const configs = PRESET_NAMES.map((name) => presetConfig(name));
    expect(PRESET_NAMES).toEqual(['tiny-planner-96', 'tiny-critic-128', 'tiny-solver-192']);
    expect(configs.map((c) => c.architecture)).toEqual(['llama', 'qwen3', 'qwen2']);
    expect(configs.map((c) => c.hiddenSize)).toEqual([96, 128, 192]);
    expect(new Set(configs.map((c) => c.numHiddenLayers)).size).toBe(3);
    expect(configs.map((c) => c.vocabSize)).toEqual([2048, 2048, 2048]);
  });

  it('an unknown name is a typed error listing the presets', async () => {
    await expect(createPresetAgent('tiny-wizard-1')).rejects.toMatchObject({
      code: 'UNKNOWN_PRESET',
      message: expect.stringContaining('tiny-planner-96'),
    });
  });

  it('the two tokenizers split text differently and round-trip it', async () => {
    const planner = await createPresetAgent('tiny-planner-96', { random: true });
    const solver = await createPresetAgent('tiny-solver-192', { random: true });
    const text = 'The agent adds 1234 + 56 = 1290. Zürich 🚀';
    const a = planner.tokenizer.encode(text, { addSpecialTokens: false });
    const b = solver.tokenizer.encode(text, { addSpecialTokens: false });
    expect(a).not.toEqual(b);
    expect(planner.tokenizer.decode(a)).toBe(text);
    expect(solver.tokenizer.decode(b)).toBe(text);
    planner.model.dispose();
    solver.model.dispose();
  });

  it('random init draws norms at 1 and weights with the configured standard deviation', async () => {
    const seed = 3;
    console.log('preset init seed', seed);
    const agent = await createPresetAgent('tiny-critic-128', { seed, random: true });
    const embed = agent.model.weights.get('model.embed_tokens.weight')!.dataSync();
    let sumSq = 0;
    for (const v of embed) sumSq += v * v;
    const std = Math.sqrt(sumSq / embed.length);
    expect(Math.abs(std - 0.02)).toBeLessThan(0.001); // 262k draws: the sample std is within 1%
    expect([
      ...agent.model.weights.get('model.layers.0.self_attn.q_norm.weight')!.dataSync(),
    ]).toEqual(new Array(32).fill(1));
    agent.model.dispose();
  });
});

describeEachBackend('preset agents', () => {
  it('run forward at their own width, and the same seed gives the same network', async () => {
    for (const name of PRESET_NAMES) {
      const a = await createPresetAgent(name, { seed: 5, random: true });
      const b = await createPresetAgent(name, { seed: 5, random: true });
      const c = await createPresetAgent(name, { seed: 6, random: true });
      const ids = a.tokenizer.encode('2 + 3 = 5, said the planner.');
      const run = (agent: typeof a) =>
        tf.tidy(() =>
          agent.model
            .forward({ inputIds: tf.tensor2d([ids], undefined, 'int32') })
            .hidden.dataSync(),
        );
      const [ha, hb, hc] = [run(a), run(b), run(c)];
      expect(ha.length).toBe(ids.length * presetConfig(name).hiddenSize);
      expect(maxAbsDiff(ha, hb)).toBe(0);
      expect(maxAbsDiff(ha, hc)).toBeGreaterThan(1e-3);
      for (const agent of [a, b, c]) agent.model.dispose();
    }
  });

  it('load from a weights folder instead of the random init', async () => {
    const trained = await createPresetAgent('tiny-planner-96', { seed: 11, random: true });
    const dir = path.join(scratch, `planner-${tf.getBackend()}`);
    saveAgent(trained, dir);
    const loaded = await createPresetAgent('tiny-planner-96', { weightsDir: dir });
    expect(loaded.name).toBe('tiny-planner-96');
    const ids = tf.tensor2d([trained.tokenizer.encode('plan the route')], undefined, 'int32');
    const [x, y] = [trained, loaded].map((agent) =>
      tf.tidy(() => agent.model.forward({ inputIds: ids }).hidden.dataSync()),
    );
    expect(maxAbsDiff(x!, y!)).toBe(0);
    const generated = loaded.model.generate(
      { inputIds: ids },
      { maxNewTokens: 4, temperature: 0.8, topP: 0.9, seed: 1 },
    );
    expect(generated[0]!.length).toBeGreaterThan(0);
    ids.dispose();
    trained.model.dispose();
    loaded.model.dispose();
  });
});
