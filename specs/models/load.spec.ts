import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAgent, loadCausalLM, loadTokenizer } from '../../models/load.ts';
import { readSafetensors, writeSafetensors } from '../../models/safetensors.ts';
import { saveAgent } from '../../models/save.ts';
import { describeEachBackend } from '../harness/backends.ts';
import { maxAbsDiffAtRealPositions, modelDir, readReferenceTensors } from './fixtureModels.ts';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'rmas-models-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** A copy of a fixture folder that a test may break. */
function copyOf(name: 'tiny-llama' | 'tiny-qwen2' | 'tiny-qwen3', tag: string): string {
  const dir = path.join(scratch, `${name}-${tag}`);
  fs.cpSync(modelDir(name), dir, { recursive: true });
  return dir;
}

function editJson(file: string, edit: (json: Record<string, unknown>) => void): void {
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  edit(json);
  fs.writeFileSync(file, JSON.stringify(json));
}

describe('loading errors name the file and field', () => {
  it('a missing config.json', async () => {
    const dir = copyOf('tiny-qwen2', 'noconfig');
    fs.rmSync(path.join(dir, 'config.json'));
    await expect(loadCausalLM(dir)).rejects.toMatchObject({
      code: 'MISSING_FILE',
      file: path.join(dir, 'config.json'),
    });
  });

  it('a config.json that is not JSON', async () => {
    const dir = copyOf('tiny-qwen2', 'badjson');
    fs.writeFileSync(path.join(dir, 'config.json'), '{ not json');
    await expect(loadCausalLM(dir)).rejects.toMatchObject({
      code: 'INVALID_JSON',
      file: path.join(dir, 'config.json'),
    });
  });

  it('an unsupported architecture', async () => {
    const dir = copyOf('tiny-qwen2', 'arch');
    editJson(path.join(dir, 'config.json'), (c) => {
      c['model_type'] = 'mixtral';
    });
    await expect(loadAgent(dir)).rejects.toMatchObject({
      code: 'UNSUPPORTED_ARCHITECTURE',
      field: 'model_type',
    });
  });

  it('no safetensors weights (and says so when only pytorch_model.bin is there)', async () => {
    const dir = copyOf('tiny-qwen2', 'noweights');
    fs.renameSync(path.join(dir, 'model.safetensors'), path.join(dir, 'pytorch_model.bin'));
    await expect(loadCausalLM(dir)).rejects.toMatchObject({
      code: 'MISSING_FILE',
      file: path.join(dir, 'model.safetensors'),
      message: expect.stringContaining('pytorch_model.bin'),
    });
  });

  it('a missing shard and a weight missing from the index', async () => {
    const dir = copyOf('tiny-qwen3', 'shards');
    const index = path.join(dir, 'model.safetensors.index.json');
    const weightMap = JSON.parse(fs.readFileSync(index, 'utf8')).weight_map as Record<
      string,
      string
    >;
    fs.rmSync(path.join(dir, weightMap['model.norm.weight']!));
    await expect(loadCausalLM(dir)).rejects.toMatchObject({
      code: 'MISSING_FILE',
      file: path.join(dir, weightMap['model.norm.weight']!),
    });
    const intact = copyOf('tiny-qwen3', 'index');
    const intactIndex = path.join(intact, 'model.safetensors.index.json');
    editJson(intactIndex, (json) => {
      delete (json['weight_map'] as Record<string, string>)['model.norm.weight'];
    });
    await expect(loadCausalLM(intact)).rejects.toMatchObject({
      code: 'MISSING_WEIGHT',
      field: 'model.norm.weight',
      file: intactIndex,
    });
  });

  it('a weight of the wrong shape, of an unsupported dtype, or missing from the file', async () => {
    const dir = copyOf('tiny-llama', 'weights');
    const file = path.join(dir, 'model.safetensors');
    const original = readSafetensors(fs.readFileSync(file)).tensors;
    const rewrite = (
      edit: (entries: Map<string, { shape: number[]; data: Float32Array | Int32Array }>) => void,
    ) => {
      const entries = new Map([...original].map(([k, v]) => [k, { shape: v.shape, data: v.data }]));
      edit(entries);
      fs.writeFileSync(file, writeSafetensors(entries));
    };
    rewrite((e) => e.set('model.norm.weight', { shape: [3], data: new Float32Array(3) }));
    await expect(loadCausalLM(dir)).rejects.toMatchObject({
      code: 'SHAPE_MISMATCH',
      field: 'model.norm.weight',
      file,
    });
    rewrite((e) => e.set('model.norm.weight', { shape: [64], data: new Int32Array(64) }));
    await expect(loadCausalLM(dir)).rejects.toMatchObject({
      code: 'UNSUPPORTED_DTYPE',
      field: 'model.norm.weight',
      file,
    });
    rewrite((e) => e.delete('lm_head.weight'));
    await expect(loadCausalLM(dir)).rejects.toMatchObject({
      code: 'MISSING_WEIGHT',
      field: 'lm_head.weight',
      file,
    });
  });

  it('a missing tokenizer.json', async () => {
    const dir = copyOf('tiny-llama', 'notok');
    fs.rmSync(path.join(dir, 'tokenizer.json'));
    await expect(loadTokenizer(dir)).rejects.toMatchObject({
      code: 'MISSING_FILE',
      file: path.join(dir, 'tokenizer.json'),
    });
  });

  it('leaves no tensors behind when loading fails halfway', async () => {
    const dir = copyOf('tiny-llama', 'halfway');
    const file = path.join(dir, 'model.safetensors');
    const tensors = readSafetensors(fs.readFileSync(file)).tensors;
    tensors.delete('lm_head.weight'); // the last weight read
    fs.writeFileSync(
      file,
      writeSafetensors(
        new Map([...tensors].map(([k, v]) => [k, { shape: v.shape, data: v.data }])),
      ),
    );
    const before = tf.memory().numTensors;
    await expect(loadCausalLM(dir)).rejects.toMatchObject({ code: 'MISSING_WEIGHT' });
    expect(tf.memory().numTensors).toBe(before);
  });
});

describeEachBackend('saveAgent', () => {
  for (const [name, dtype] of [
    ['tiny-qwen2', 'F32'],
    ['tiny-llama', 'BF16'],
  ] as const) {
    it(`writes a folder that loads back to the same network (${name}, ${dtype})`, async () => {
      const agent = await loadAgent(modelDir(name));
      const dir = path.join(scratch, `${name}-saved-${dtype}-${tf.getBackend()}`);
      saveAgent(agent, dir, { dtype });
      const again = await loadAgent(dir);
      const ref = readReferenceTensors(name);
      const logits = tf.tidy(() =>
        again.model
          .forward({
            inputIds: tf.tensor2d(ref.inputIds.data, ref.inputIds.shape, 'int32'),
            attentionMask: tf.tensor2d(ref.attentionMask.data, ref.attentionMask.shape, 'int32'),
            returnLogits: true,
          })
          .logits!.dataSync(),
      );
      const diff = maxAbsDiffAtRealPositions(
        logits,
        ref.logits.data,
        ref.attentionMask.data,
        ref.logits.shape[2],
      );
      // Saving f32 is lossless; bf16 rounds every weight to 8 significant bits.
      if (dtype === 'F32') expect(diff).toBeLessThanOrEqual(1e-4);
      else expect(diff).toBeGreaterThan(1e-4);
      expect(again.tokenizer.encode('Zürich 🚀')).toEqual(agent.tokenizer.encode('Zürich 🚀'));
      expect(again.tokenizer.applyChatTemplate([{ role: 'user', content: 'hi' }])).toBe(
        agent.tokenizer.applyChatTemplate([{ role: 'user', content: 'hi' }]),
      );
      expect(
        readSafetensors(fs.readFileSync(path.join(dir, 'model.safetensors'))).tensors.get(
          'model.norm.weight',
        )!.dtype,
      ).toBe(dtype);
      agent.model.dispose();
      again.model.dispose();
    });
  }
});
