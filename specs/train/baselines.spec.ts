import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPresetAgent } from '../../models/presets.ts';
import type { Agent } from '../../models/types.ts';
import { FullFinetune, LoraAdapters, modelParameterCount } from '../../train/adaptation.ts';
import { maskedCrossEntropy, maskedExactMatch } from '../../train/crossEntropy.ts';
import { sftTrainer } from '../../train/sft.ts';
import { ROLE_TEXTS } from './innerSetup.ts';
import { useWasmAndCheckLeaks } from './wasm.ts';

useWasmAndCheckLeaks();

let agent: Agent;
beforeAll(async () => {
  agent = await createPresetAgent('tiny-planner-96', { seed: 3, random: true });
});
afterAll(() => agent.model.dispose());

const weightSum = (model: Agent['model']) =>
  tf.tidy(() =>
    [...model.weights.values()].reduce((s, w) => s + tf.sum(tf.abs(w)).dataSync()[0]!, 0),
  );

describe('cross-entropy and exact match', () => {
  it('maskedCrossEntropy is the mean −log p(label) over masked positions (by hand)', () => {
    // Row 0: logits [0, ln 3] -> p = [1/4, 3/4]; label 1 -> −ln(3/4). Row 0 pos 1 masked out.
    // Row 1: logits [0, 0] -> p = ½; label 0 -> ln 2.
    const got = tf.tidy(
      () =>
        maskedCrossEntropy(
          tf.tensor3d([
            [
              [0, Math.log(3)],
              [5, -5],
            ],
            [
              [0, 0],
              [1, 2],
            ],
          ]),
          tf.tensor2d(
            [
              [1, 0],
              [0, 1],
            ],
            undefined,
            'int32',
          ),
          tf.tensor2d([
            [1, 0],
            [1, 0],
          ]),
        ).dataSync()[0]!,
    );
    expect(got).toBeCloseTo((-Math.log(3 / 4) + Math.log(2)) / 2, 5);
  });

  it('maskedExactMatch counts rows whose every masked position is the argmax', () => {
    const got = tf.tidy(() =>
      maskedExactMatch(
        tf.tensor3d([
          [
            [0, 1],
            [1, 0],
          ], // argmax 1, 0
          [
            [0, 1],
            [0, 1],
          ], // argmax 1, 1
        ]),
        tf.tensor2d(
          [
            [1, 0],
            [1, 0],
          ],
          undefined,
          'int32',
        ),
        tf.tensor2d([
          [1, 1],
          [1, 1],
        ]),
      ),
    );
    expect(got).toBe(0.5);
  });
});

describe('LoRA adapters', () => {
  it('count r·(in + out) per adapted weight (tiny-planner-96, r = 8: 27,648 by hand)', () => {
    // Per layer: q 96→96, k 96→48, v 96→48, o 96→96, gate/up 96→256, down 256→96;
    // Σ(in + out) = 192 + 144 + 144 + 192 + 3·352 = 1728; 2 layers · 8 · 1728 = 27,648.
    const lora = new LoraAdapters(agent.model, { rank: 8 });
    expect(lora.parameterCount).toBe(27_648);
    expect(lora.namedParameters().size).toBe(2 * 7 * 2);
    lora.dispose();
  });

  it('start from the base model (B = 0) and add scale·A·B to the weight', () => {
    const lora = new LoraAdapters(agent.model, { rank: 2, alpha: 4, targets: ['q_proj'] });
    const ids = tf.tensor2d([[5, 9, 11, 4]], undefined, 'int32');
    const same = tf.tidy(() => {
      const a = lora.model().forward({ inputIds: ids }).hidden;
      const b = agent.model.forward({ inputIds: ids }).hidden;
      return tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!;
    });
    expect(same).toBe(0);
    const name = 'model.layers.0.self_attn.q_proj.weight';
    const A = lora.namedParameters().get(`${name}.lora_A`)!;
    const B = lora.namedParameters().get(`${name}.lora_B`)!;
    tf.tidy(() => B.assign(tf.fill(B.shape, 0.5)));
    // By hand: ΔW[i][j] = scale · Σ_k A[i][k]·B[k][j] = 2 · 0.5 · (A[i][0] + A[i][1]).
    const a = A.arraySync() as number[][];
    const w = agent.model.weights.get(name)!.arraySync() as number[][];
    const eff = lora.withModel((m) => m.weights.get(name)!.arraySync() as number[][]);
    for (const i of [0, 17, 95]) {
      for (const j of [0, 50]) {
        expect(eff[i]![j]!).toBeCloseTo(w[i]![j]! + a[i]![0]! + a[i]![1]!, 5);
      }
    }
    ids.dispose();
    lora.dispose();
  });

  it('SFT with LoRA lowers the role-text loss and leaves the base weights alone', () => {
    const seed = 8;
    console.log(`seed ${seed}`);
    const before = weightSum(agent.model);
    const lora = new LoraAdapters(agent.model, { rank: 4, seed });
    const trainer = sftTrainer(agent, lora, ROLE_TEXTS, {
      config: { steps: 12, batchSize: 4, seed, lr: 1e-2, warmupSteps: 1 },
      progress: false,
    });
    trainer.run();
    const h = trainer.history;
    console.log(`LoRA SFT loss ${h[0]!.toFixed(3)} -> ${h.at(-1)!.toFixed(3)}`);
    expect(h.at(-1)!).toBeLessThan(h[0]! - 0.3);
    expect(weightSum(agent.model)).toBe(before);
    trainer.dispose();
    lora.dispose();
  });
});

describe('full fine-tuning', () => {
  it('trains every weight (tied embeddings included) on a copy; the base stays', () => {
    const seed = 9;
    console.log(`seed ${seed}`);
    const before = weightSum(agent.model);
    const full = new FullFinetune(agent.model);
    expect(full.parameterCount).toBe(modelParameterCount(agent.model));
    const embedBefore = tf.tidy(
      () => tf.sum(full.namedParameters().get('model.embed_tokens.weight')!).dataSync()[0]!,
    );
    const trainer = sftTrainer(agent, full, ROLE_TEXTS, {
      config: { steps: 8, batchSize: 4, seed, lr: 1e-3, warmupSteps: 1 },
      progress: false,
    });
    trainer.run();
    const h = trainer.history;
    console.log(`full SFT loss ${h[0]!.toFixed(3)} -> ${h.at(-1)!.toFixed(3)}`);
    expect(h.at(-1)!).toBeLessThan(h[0]! - 0.3);
    const embedAfter = tf.tidy(
      () => tf.sum(full.namedParameters().get('model.embed_tokens.weight')!).dataSync()[0]!,
    );
    expect(embedAfter).not.toBe(embedBefore);
    expect(weightSum(agent.model)).toBe(before);
    trainer.dispose();
    full.dispose();
  });
});
