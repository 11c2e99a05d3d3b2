import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { readSafetensors, writeSafetensors } from '../../models/safetensors.ts';
import { OperatorError } from '../../operators/errors.ts';
import {
  deserializeLink,
  loadLink,
  saveLink,
  serializeLink,
} from '../../operators/links/linkStore.ts';
import { applyLink, createRecursiveLink } from '../../operators/links/recursiveLink.ts';
import { maxAbsDiff } from './handMath.ts';
import { useWasmAndCheckLeaks } from './wasm.ts';

useWasmAndCheckLeaks();

describe('link files', () => {
  it('round-trips every variant through safetensors + manifest, same outputs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rmas-links-'));
    try {
      for (const [kind, variant, inDim, outDim] of [
        ['inner', 'ln_res_adapter', 6, 6],
        ['inner', 'linear_adapter', 6, 6],
        ['outer', 'outer_ln_res_adapter', 5, 7],
        ['outer', 'outer_adapter', 5, 7],
      ] as const) {
        const link = createRecursiveLink({
          kind,
          variant,
          inDim,
          outDim,
          init: 'torch_default',
          seed: 4,
        });
        await saveLink(link, join(dir, variant));
        const manifest = JSON.parse(await readFile(join(dir, `${variant}.json`), 'utf8'));
        expect(manifest).toMatchObject({ kind, variant, in_dim: inDim, out_dim: outDim });
        const loaded = await loadLink(join(dir, variant));
        const [a, b] = tf.tidy(() => {
          const x = tf.randomNormal([3, inDim], 0, 1, 'float32', 9);
          return [applyLink(link, x).dataSync(), applyLink(loaded, x).dataSync()];
        });
        expect(maxAbsDiff(a!, b!)).toBe(0);
        link.dispose();
        loaded.dispose();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('stores linear weights in torch layout [out, in] under the official key names', () => {
    const link = createRecursiveLink({ kind: 'outer', inDim: 2, outDim: 3 });
    tf.tidy(() =>
      link.residualProj!.weight.assign(
        tf.tensor2d([
          [1, 2, 3],
          [4, 5, 6],
        ]),
      ),
    ); // [in, out]
    const { weights } = serializeLink(link);
    link.dispose();
    const { tensors } = readSafetensors(weights);
    expect([...tensors.keys()].sort()).toEqual(
      [
        'ln_source.bias',
        'ln_source.weight',
        'ln_target.bias',
        'ln_target.weight',
        'proj1.bias',
        'proj1.weight',
        'proj2.bias',
        'proj2.weight',
        'residual_proj.bias',
        'residual_proj.weight',
      ].sort(),
    );
    const w = tensors.get('residual_proj.weight')!;
    expect(w.shape).toEqual([3, 2]);
    expect(Array.from(w.data)).toEqual([1, 4, 2, 5, 3, 6]);
    expect(tensors.get('proj1.weight')!.shape).toEqual([6, 2]); // hidden 2·out = 6
  });

  it('loads a state dict written by another writer (torch names, [out, in])', () => {
    // Inner linear_res_adapter d=2: R(x) = x + proj1(x), proj1.weight (torch) = [[0, 1], [2, 0]].
    const bytes = writeSafetensors({
      'proj1.weight': { shape: [2, 2], data: new Float32Array([0, 1, 2, 0]) },
      'proj1.bias': { shape: [2], data: new Float32Array([0.5, 0]) },
    });
    const link = deserializeLink(
      {
        format: 'rmas.recursive-link',
        version: 1,
        kind: 'inner',
        variant: '1layer_res',
        in_dim: 2,
        out_dim: 2,
        hidden_dim: 2,
        layer_norm_eps: 1e-5,
        activation: 'gelu',
        weights: 'x',
      },
      bytes,
    );
    const y = tf.tidy(() => Array.from(applyLink(link, tf.tensor2d([[1, 3]])).dataSync()));
    link.dispose();
    // torch: y = x + x·Wᵀ + b = [1, 3] + [0·1 + 1·3, 2·1 + 0·3] + [0.5, 0] = [4.5, 5]
    expect(y).toEqual([4.5, 5]);
  });

  it('rejects a bad manifest, missing tensors and wrong shapes with typed errors', async () => {
    const link = createRecursiveLink({ kind: 'inner', variant: 'res_adapter', inDim: 3 });
    const { manifest, weights } = serializeLink(link);
    link.dispose();
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return (e as OperatorError).code;
      }
      return 'none';
    };
    expect(code(() => deserializeLink({ ...manifest, kind: 'middle' }, weights))).toBe(
      'LINK_MANIFEST_INVALID',
    );
    expect(
      code(() => deserializeLink({ ...manifest, in_dim: 4, out_dim: 4, hidden_dim: 4 }, weights)),
    ).toBe('LINK_WEIGHTS_INVALID');
    expect(code(() => deserializeLink({ ...manifest, variant: 'ln_res_adapter' }, weights))).toBe(
      'LINK_WEIGHTS_INVALID',
    );
    expect(code(() => deserializeLink({ ...manifest, variant: 'linear_adapter' }, weights))).toBe(
      'LINK_WEIGHTS_INVALID',
    );
    const dir = await mkdtemp(join(tmpdir(), 'rmas-links-'));
    await writeFile(join(dir, 'bad.json'), '{not json');
    await expect(loadLink(join(dir, 'bad'))).rejects.toBeInstanceOf(OperatorError);
    await rm(dir, { recursive: true, force: true });
  });
});
