import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgent } from '../../models/load.ts';
import type { Agent } from '../../models/types.ts';
import { describeEachBackend } from '../harness/backends.ts';
import {
  FIXTURE_MODELS,
  maxAbsDiff,
  maxAbsDiffAtRealPositions,
  modelDir,
  readReference,
  readReferenceTensors,
} from './fixtureModels.ts';

// Parity with Hugging Face transformers (scripts/fixtures/make_model_fixtures.py, float32, eager
// attention) on every backend: hidden states and logits of a left-padded batch, greedy
// continuations; and the laws a cache and padding must keep against full unpadded recomputation.
const TOLERANCE = 1e-4;

describeEachBackend('models parity', () => {
  for (const name of FIXTURE_MODELS) {
    describe(name, () => {
      const reference = readReference(name);
      const tensors = readReferenceTensors(name);
      let agent: Agent;
      beforeAll(async () => {
        agent = await loadAgent(modelDir(name));
      });
      afterAll(() => agent.model.dispose());

      const batchIds = () => tf.tensor2d(tensors.inputIds.data, tensors.inputIds.shape, 'int32');
      const batchMask = () =>
        tf.tensor2d(tensors.attentionMask.data, tensors.attentionMask.shape, 'int32');

      it('hidden states and logits of a left-padded batch match transformers (max abs diff <= 1e-4)', () => {
        const [inputIds, attentionMask] = [batchIds(), batchMask()];
        const { hidden, logits } = agent.model.forward({
          inputIds,
          attentionMask,
          returnLogits: true,
        });
        expect(hidden.shape).toEqual(tensors.hidden.shape);
        expect(logits!.shape).toEqual(tensors.logits.shape);
        const mask = tensors.attentionMask.data;
        const hiddenDiff = maxAbsDiffAtRealPositions(
          hidden.dataSync(),
          tensors.hidden.data,
          mask,
          hidden.shape[2],
        );
        const logitsDiff = maxAbsDiffAtRealPositions(
          logits!.dataSync(),
          tensors.logits.data,
          mask,
          logits!.shape[2],
        );
        console.log(
          `${name} [${tf.getBackend()}]: max |Δhidden| ${hiddenDiff}, max |Δlogits| ${logitsDiff}`,
        );
        expect(hiddenDiff).toBeLessThanOrEqual(TOLERANCE);
        expect(logitsDiff).toBeLessThanOrEqual(TOLERANCE);
        tf.dispose([inputIds, attentionMask, hidden, logits!]);
      });

      it('skips the vocabulary projection unless logits are asked for', () => {
        const inputIds = batchIds();
        const out = agent.model.forward({ inputIds, attentionMask: undefined });
        expect(out.logits).toBeUndefined();
        tf.dispose([inputIds, out.hidden]);
      });

      it('inputsEmbeds = embed(inputIds) gives the same states as inputIds', () => {
        const [inputIds, attentionMask] = [batchIds(), batchMask()];
        const inputsEmbeds = agent.model.embed(inputIds);
        const fromEmbeds = agent.model.forward({ inputsEmbeds, attentionMask });
        const mask = tensors.attentionMask.data;
        const diff = maxAbsDiffAtRealPositions(
          fromEmbeds.hidden.dataSync(),
          tensors.hidden.data,
          mask,
          inputsEmbeds.shape[2],
        );
        expect(diff).toBeLessThanOrEqual(TOLERANCE);
        tf.dispose([inputIds, attentionMask, inputsEmbeds, fromEmbeds.hidden]);
      });

      it('greedy decoding gives transformers’ 32 tokens for each prompt', () => {
        for (const row of reference.greedy) {
          const inputIds = tf.tensor2d([row.prompt], undefined, 'int32');
          const [generated] = agent.model.generate(
            { inputIds },
            { maxNewTokens: 32, stopTokenIds: [] },
          );
          expect(generated).toEqual(row.greedy);
          inputIds.dispose();
        }
      });

      it('batched greedy decoding of the left-padded prompts gives each row’s tokens', () => {
        const [inputIds, attentionMask] = [batchIds(), batchMask()];
        const generated = agent.model.generate(
          { inputIds, attentionMask },
          { maxNewTokens: 32, stopTokenIds: [] },
        );
        expect(generated).toEqual(reference.greedy.map((g) => g.greedy));
        tf.dispose([inputIds, attentionMask]);
      });

      it('KV-cached decoding, one token at a time, equals full recomputation', () => {
        const { prompt, greedy } = reference.greedy[1]!;
        const sequence = [...prompt, ...greedy.slice(0, 12)];
        const full = tf.tidy(() =>
          agent.model
            .forward({ inputIds: tf.tensor2d([sequence], undefined, 'int32') })
            .hidden.dataSync(),
        );
        const cache = agent.model.newKVCache(1);
        const pieces: Float32Array[] = [];
        const prefix = 5;
        pieces.push(
          tf.tidy(
            () =>
              agent.model
                .forward({
                  inputIds: tf.tensor2d([sequence.slice(0, prefix)], undefined, 'int32'),
                  kvCache: cache,
                })
                .hidden.dataSync() as Float32Array,
          ),
        );
        for (let t = prefix; t < sequence.length; t++) {
          pieces.push(
            tf.tidy(
              () =>
                agent.model
                  .forward({
                    inputIds: tf.tensor2d([[sequence[t]!]], undefined, 'int32'),
                    kvCache: cache,
                  })
                  .hidden.dataSync() as Float32Array,
            ),
          );
        }
        expect(cache.length).toBe(sequence.length);
        cache.dispose();
        const cached = new Float32Array(pieces.reduce((n, p) => n + p.length, 0));
        let offset = 0;
        for (const piece of pieces) {
          cached.set(piece, offset);
          offset += piece.length;
        }
        expect(maxAbsDiff(cached, full)).toBeLessThanOrEqual(TOLERANCE);
      });

      it('each row of a left-padded batch equals that row run alone, also through cached steps', () => {
        const rows = reference.batch.rows;
        const steps = [7, 12, 15]; // token ids fed to every row, one per cached step
        const batchStates = tf.tidy(() => {
          const cache = agent.model.newKVCache(rows.length);
          const prefill = agent.model.forward({
            inputIds: batchIds(),
            attentionMask: batchMask(),
            kvCache: cache,
          });
          const outs = [prefill.hidden.slice([0, prefill.hidden.shape[1] - 1, 0], [-1, 1, -1])];
          for (const step of steps) {
            const ids = tf.tensor2d(
              rows.map(() => step),
              [rows.length, 1],
              'int32',
            );
            outs.push(agent.model.forward({ inputIds: ids, kvCache: cache }).hidden);
          }
          cache.dispose();
          return tf.concat(outs, 1).arraySync(); // [batch, 1 + steps, hidden]
        });
        rows.forEach((row, r) => {
          const alone = tf.tidy(() => {
            const ids = [...row, ...steps];
            const { hidden } = agent.model.forward({
              inputIds: tf.tensor2d([ids], undefined, 'int32'),
            });
            return hidden.slice([0, row.length - 1, 0], [1, -1, -1]).arraySync()[0]!; // [1 + steps, hidden]
          });
          expect(maxAbsDiff(batchStates[r]!.flat(), alone.flat())).toBeLessThanOrEqual(TOLERANCE);
        });
      });
    });
  }
});
