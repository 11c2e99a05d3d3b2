import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { applyLink, createRecursiveLink } from '../../operators/links/recursiveLink.ts';
import { ridgeRegression, solveRidge } from '../../operators/links/ridge.ts';
import {
  initInnerLinkFromRidge,
  initOuterLinkFromRidge,
  latentRealignment,
} from '../../operators/links/ridgeInit.ts';
import { testAgent } from './agents.ts';
import { fakeAgent, pieceTokenizer, tableModel } from './fakes.ts';
import * as hand from './handMath.ts';
import { useWasmAndCheckLeaks } from './wasm.ts';

useWasmAndCheckLeaks();

/** Solves A·X = B by Gauss-Jordan elimination with partial pivoting, in plain JS. */
function gaussSolve(a: number[][], b: number[][]): number[][] {
  const n = a.length;
  const m = a.map((row, i) => [...row, ...b[i]!]);
  for (let c = 0; c < n; c++) {
    let pivot = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[pivot]![c]!)) pivot = r;
    [m[c], m[pivot]] = [m[pivot]!, m[c]!];
    const p = m[c]![c]!;
    m[c] = m[c]!.map((v) => v / p);
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r]![c]!;
      m[r] = m[r]!.map((v, k) => v - f * m[c]![k]!);
    }
  }
  return m.map((row) => row.slice(n));
}

function transpose(a: number[][]): number[][] {
  return a[0]!.map((_, j) => a.map((row) => row[j]!));
}

function matMul(a: number[][], b: number[][]): number[][] {
  return a.map((row) => b[0]!.map((_, j) => row.reduce((s, v, k) => s + v * b[k]![j]!, 0)));
}

/** (AᵀA + λI)⁻¹AᵀB by hand. */
function handRidge(a: number[][], b: number[][], lambda: number): number[][] {
  const at = transpose(a);
  const gram = matMul(at, a).map((row, i) => row.map((v, j) => v + (i === j ? lambda : 0)));
  return gaussSolve(gram, matMul(at, b));
}

describe('ridge regression', () => {
  it('solveRidge agrees with Gauss-Jordan elimination on a worked 2x2 system', () => {
    // (G + 0.5·I)·W = R with G = [[2, 1], [1, 3]], R = [[1], [2]]: [[2.5, 1], [1, 3.5]]·W = [[1], [2]]
    // det = 7.75, W = [[(3.5·1 − 1·2)/7.75], [(2.5·2 − 1·1)/7.75]] = [[0.193548], [0.516129]]
    const w = tf.tidy(() =>
      solveRidge(
        tf.tensor2d([
          [2, 1],
          [1, 3],
        ]),
        tf.tensor2d([[1], [2]]),
        0.5,
      ).arraySync(),
    );
    expect(w[0]![0]).toBeCloseTo(1.5 / 7.75, 6);
    expect(w[1]![0]).toBeCloseTo(4 / 7.75, 6);
  });

  it('ridgeRegression matches (XᵀX + λI)⁻¹XᵀY computed by hand', () => {
    const seed = 21;
    console.log(`seed=${seed}`);
    const next = hand.seededValues(seed);
    const x = hand.matrix(12, 5, next);
    const y = hand.matrix(12, 3, next);
    const got = tf.tidy(() => ridgeRegression(tf.tensor2d(x), tf.tensor2d(y), 0.1).arraySync());
    expect(hand.maxAbsDiff(got.flat(), handRidge(x, y, 0.1).flat())).toBeLessThan(1e-5);
  });
});

describe('inner link ridge init (LatentMAS realignment)', () => {
  const seed = 5;
  const next = hand.seededValues(seed);
  const table = hand.matrix(40, 6, next); // W_in [V, d]
  const head = hand.matrix(40, 6, next); // W_out [V, d]
  const realign = handRidge(head, table, 1e-5); // [d, d]

  it('latentRealignment gives (W_outᵀW_out + 1e-5·I)⁻¹W_outᵀW_in', () => {
    console.log(`seed=${seed}`);
    const model = tableModel(table, head);
    const r = latentRealignment(model);
    const m = r.matrix.arraySync();
    const mean = Array.from(r.embeddingMean.dataSync());
    r.matrix.dispose();
    r.embeddingMean.dispose();
    model.dispose();
    expect(hand.maxAbsDiff(m.flat(), realign.flat())).toBeLessThan(1e-4);
    const handMean = table[0]!.map(
      (_, j) => table.reduce((s, row) => s + row[j]!, 0) / table.length,
    );
    expect(hand.maxAbsDiff(mean, handMean)).toBeLessThan(1e-6);
    const handNorm = table.reduce((s, row) => s + Math.hypot(...row), 0) / table.length;
    expect(r.embeddingNorm).toBeCloseTo(handNorm, 5);
  });

  const h = hand.matrix(4, 6, next);
  const expected = matMul(h, realign); // e = h·M

  for (const variant of ['linear_adapter', 'linear_res_adapter'] as const) {
    it(`${variant}: R(h) = h·M exactly`, () => {
      const model = tableModel(table, head);
      const link = createRecursiveLink({ kind: 'inner', variant, inDim: 6 });
      initInnerLinkFromRidge(link, model);
      const got = tf.tidy(() => applyLink(link, tf.tensor2d(h)).arraySync());
      link.dispose();
      model.dispose();
      expect(hand.maxAbsDiff(got.flat(), expected.flat())).toBeLessThan(1e-4);
    });
  }

  for (const variant of ['adapter', 'res_adapter'] as const) {
    it(`${variant}: the GELU MLP in its linear regime gives R(h) ≈ h·M`, () => {
      const model = tableModel(table, head);
      const link = createRecursiveLink({ kind: 'inner', variant, inDim: 6 });
      initInnerLinkFromRidge(link, model, { epsilon: 1e-4 });
      const got = tf.tidy(() => applyLink(link, tf.tensor2d(h)).arraySync());
      link.dispose();
      model.dispose();
      const scale = Math.max(...expected.flat().map(Math.abs));
      expect(hand.maxAbsDiff(got.flat(), expected.flat()) / scale).toBeLessThan(2e-3);
    });
  }

  it('ln_res_adapter: on states of mean 0 and std s, post_LN(h·M) with the table mean and std', () => {
    const model = tableModel(table, head);
    const s = 1.7;
    // Rows with mean 0 and per-element std exactly s.
    const rows = h.map((row) => {
      const mean = row.reduce((a, b) => a + b, 0) / row.length;
      const std = Math.sqrt(row.reduce((a, v) => a + (v - mean) ** 2, 0) / row.length);
      return row.map((v) => ((v - mean) / std) * s);
    });
    const link = createRecursiveLink({ kind: 'inner', inDim: 6 });
    initInnerLinkFromRidge(link, model, { epsilon: 1e-4, hiddenStd: s });
    const got = tf.tidy(() => applyLink(link, tf.tensor2d(rows)).arraySync());
    link.dispose();
    model.dispose();
    const flat = table.flat();
    const colMean = table[0]!.map(
      (_, j) => table.reduce((a, row) => a + row[j]!, 0) / table.length,
    );
    const tableStd = Math.sqrt(
      table.reduce((a, row) => a + row.reduce((b, v, j) => b + (v - colMean[j]!) ** 2, 0), 0) /
        flat.length,
    );
    const want = matMul(rows, realign).map((e) =>
      hand.layerNorm(
        e,
        e.map(() => tableStd),
        colMean,
      ),
    );
    expect(hand.maxAbsDiff(got.flat(), want.flat())).toBeLessThan(5e-3);
  });
});

describe('outer link ridge init between two agents with different tokenizers', () => {
  // Sender: character-level tokenizer, d = 3. Receiver: word-level tokenizer, d = 2. The
  // receiver's word embedding is an exact affine image of the mean of the sender's character
  // embeddings, y = x·T + c, so the fit must recover T and c.
  const chars = ['_', 'a', 'b', 'c', 'd', 'e'];
  const wordsList = ['_', 'ab', 'cd', 'ea', 'bd', 'ce', 'ad'];
  const seed = 8;
  const next = hand.seededValues(seed);
  const charTable = hand.matrix(chars.length, 3, next);
  const t = hand.matrix(3, 2, next);
  const c = [0.25, -0.5];
  const meanChars = (w: string) =>
    charTable[0]!.map(
      (_, j) => [...w].reduce((s, ch) => s + charTable[chars.indexOf(ch)]![j]!, 0) / w.length,
    );
  const wordTable = wordsList.map((w) =>
    w === '_' ? [0, 0] : hand.add(matMul([meanChars(w)], t)[0]!, c),
  );
  const texts = ['ab cd ea', 'bd ce ad ab', 'ce cd'];

  for (const variant of [
    'outer_linear_adapter',
    'outer_res_adapter',
    'outer_linear_res_adapter',
  ] as const) {
    it(`${variant}: R_out(mean sender embedding of a word) = receiver embedding of the word`, () => {
      console.log(`seed=${seed}`);
      const sender = fakeAgent(
        's',
        tableModel(charTable, charTable),
        pieceTokenizer(chars, 'chars'),
      );
      const receiver = fakeAgent(
        'r',
        tableModel(wordTable, wordTable),
        pieceTokenizer(wordsList, 'words'),
      );
      const link = createRecursiveLink({ kind: 'outer', variant, inDim: 3, outDim: 2, seed: 1 });
      initOuterLinkFromRidge(link, { source: sender, target: receiver, texts, lambda: 1e-9 });
      const probe = ['ab', 'ce', 'bd'];
      const got = tf.tidy(() => applyLink(link, tf.tensor2d(probe.map(meanChars))).arraySync());
      link.dispose();
      sender.model.dispose();
      receiver.model.dispose();
      const want = probe.map((w) => wordTable[wordsList.indexOf(w)]!);
      expect(hand.maxAbsDiff(got.flat(), want.flat())).toBeLessThan(1e-3);
    });
  }

  it('outer_ln_res_adapter: LN_target carries the receiver-side mean and std', () => {
    const sender = fakeAgent('s', tableModel(charTable, charTable), pieceTokenizer(chars, 'chars'));
    const receiver = fakeAgent(
      'r',
      tableModel(wordTable, wordTable),
      pieceTokenizer(wordsList, 'words'),
    );
    const link = createRecursiveLink({ kind: 'outer', inDim: 3, outDim: 2, seed: 1 });
    initOuterLinkFromRidge(link, { source: sender, target: receiver, texts, lambda: 1e-9 });
    const bias = Array.from(link.postNorm!.bias.dataSync());
    const proj2 = Array.from(link.proj2!.weight.dataSync());
    link.dispose();
    sender.model.dispose();
    receiver.model.dispose();
    const ys = texts
      .join(' ')
      .split(' ')
      .map((w) => wordTable[wordsList.indexOf(w)]!);
    const mean = [0, 1].map((j) => ys.reduce((s, y) => s + y[j]!, 0) / ys.length);
    expect(hand.maxAbsDiff(bias, mean)).toBeLessThan(1e-5);
    expect(Math.max(...proj2.map(Math.abs))).toBe(0);
  });
});

describe('ridge inits on real decoders (through the model contract)', () => {
  it("inner: the realignment from a DecoderLM's LM head and table, checked by hand", async () => {
    const agent = await testAgent({
      name: 'a',
      hidden: 16,
      tokenizer: 'bytebpe-2k',
      seed: 9,
      layers: 1,
    });
    // models/ holds lm_head.weight as [in, out] = [d, V]; the table as [V, d].
    const headT = agent.model.weights.get('lm_head.weight')!.arraySync() as number[][];
    const table = agent.model.weights.get('model.embed_tokens.weight')!.arraySync() as number[][];
    const m = handRidge(transpose(headT), table, 1e-5);
    const link = createRecursiveLink({ kind: 'inner', variant: 'linear_adapter', inDim: 16 });
    initInnerLinkFromRidge(link, agent.model);
    const h = hand.matrix(3, 16, hand.seededValues(77));
    const got = tf.tidy(() => applyLink(link, tf.tensor2d(h)).arraySync());
    link.dispose();
    agent.model.dispose();
    const want = matMul(h, m);
    const scale = Math.max(...want.flat().map(Math.abs));
    expect(hand.maxAbsDiff(got.flat(), want.flat()) / scale).toBeLessThan(1e-3);
  });

  it('inner ln_res_adapter on a DecoderLM: post_LN gets the table mean row, the MLP is finite', async () => {
    const agent = await testAgent({
      name: 'a',
      hidden: 16,
      tokenizer: 'bytebpe-2k',
      seed: 9,
      layers: 1,
    });
    const table = agent.model.weights.get('model.embed_tokens.weight')!.arraySync() as number[][];
    const link = createRecursiveLink({ kind: 'inner', inDim: 16 });
    initInnerLinkFromRidge(link, agent.model); // measures the hidden-state std with a probe pass
    const bias = Array.from(link.postNorm!.bias.dataSync());
    const proj2 = Array.from(link.proj2!.weight.dataSync());
    link.dispose();
    agent.model.dispose();
    const mean = table[0]!.map((_, j) => table.reduce((s, row) => s + row[j]!, 0) / table.length);
    expect(hand.maxAbsDiff(bias, mean)).toBeLessThan(1e-6);
    expect(proj2.every(Number.isFinite)).toBe(true);
  });

  it('outer: fits between two decoders with different tokenizers and widths', async () => {
    const a = await testAgent({
      name: 'a',
      hidden: 16,
      tokenizer: 'bytebpe-2k',
      seed: 1,
      layers: 1,
    });
    const b = await testAgent({ name: 'b', hidden: 24, tokenizer: 'spbpe-2k', seed: 2, layers: 1 });
    const link = createRecursiveLink({ kind: 'outer', inDim: 16, outDim: 24, seed: 3 });
    initOuterLinkFromRidge(link, {
      source: a,
      target: b,
      texts: [
        'The quick brown fox jumps over the lazy dog.',
        'Plans are worthless, planning is everything.',
      ],
    });
    const out = tf.tidy(() =>
      applyLink(link, tf.randomNormal([2, 16], 0, 0.02, 'float32', 4) as tf.Tensor2D).arraySync(),
    );
    link.dispose();
    a.model.dispose();
    b.model.dispose();
    expect(out).toHaveLength(2);
    expect(out[0]).toHaveLength(24);
    expect(out.flat().every(Number.isFinite)).toBe(true);
  });
});
