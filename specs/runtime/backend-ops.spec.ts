import * as tf from '@tensorflow/tfjs';
import { expect, it } from 'vitest';
import { describeEachBackend, expectClose, onBackend } from '../harness/backends.ts';

// The tfjs ops every model and link is built from, checked on each available backend against
// (1) hand-computed values on tiny inputs, (2) plain-JS float64 references (forward; gradients by
// central finite differences of the same reference), and (3) the cpu backend (relative error <= 1e-4).

const SEED = 20260717;
console.log(`backend-ops.spec seed: ${SEED}`);

/** vs. the cpu backend, as the issue asks. */
const CPU_TOLERANCE = 1e-4;
/** float32 results vs. float64 references. */
const REF_TOLERANCE = 1e-4;

type Matrix = number[][];

// mulberry32: a tiny seeded PRNG, so inputs are identical on every backend and every run.
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomMatrix(rows: number, cols: number, next: () => number): Matrix {
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => next() * 2 - 1));
}

function transpose(m: Matrix): Matrix {
  return (m[0] ?? []).map((_, j) => m.map((row) => row[j]!));
}

function matMulRef(a: Matrix, b: Matrix): Matrix {
  return a.map((row) => (b[0] ?? []).map((_, j) => row.reduce((s, v, k) => s + v * b[k]![j]!, 0)));
}

function elementwiseProductSum(a: Matrix, b: Matrix): number {
  return a.reduce((s, row, i) => s + row.reduce((t, v, j) => t + v * b[i]![j]!, 0), 0);
}

/** d f / d x by central differences, in float64. */
function numericGradient(f: (x: number[]) => number, x: number[], step = 1e-5): number[] {
  return x.map((_, i) => {
    const plus = [...x];
    const minus = [...x];
    plus[i]! += step;
    minus[i]! -= step;
    return (f(plus) - f(minus)) / (2 * step);
  });
}

function chunk(values: number[], size: number): Matrix {
  return Array.from({ length: values.length / size }, (_, i) =>
    values.slice(i * size, (i + 1) * size),
  );
}

describeEachBackend('gather', (backend) => {
  const table = [
    [1, 2],
    [3, 4],
    [5, 6],
  ];

  it('selects rows (hand-computed)', () => {
    const rows = tf.tidy(() =>
      tf.gather(tf.tensor2d(table), tf.tensor1d([2, 0, 2], 'int32')).arraySync(),
    );
    expect(rows).toEqual([
      [5, 6],
      [1, 2],
      [5, 6],
    ]);
  });

  it('gradient sums the upstream rows of repeated ids (hand-computed)', () => {
    // loss = sum(gather(table, [2, 0, 2]) * upstream): row 2 gets upstream rows 0 + 2, row 0 gets row 1.
    const upstream = [
      [1, 2],
      [3, 4],
      [5, 6],
    ];
    const grad = tf.tidy(() => {
      const ids = tf.tensor1d([2, 0, 2], 'int32');
      const f = (t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, ids), tf.tensor2d(upstream)));
      return tf.grad(f)(tf.tensor2d(table)).arraySync();
    });
    expect(grad).toEqual([
      [3, 4],
      [0, 0],
      [6, 8],
    ]);
  });

  it('gathers along axis 1, and its gradient counts each pick (hand-computed)', () => {
    const { picked, grad } = tf.tidy(() => {
      const x = tf.tensor2d([
        [1, 2, 3],
        [4, 5, 6],
      ]);
      const ids = tf.tensor1d([2, 2, 0], 'int32');
      return {
        picked: tf.gather(x, ids, 1).arraySync(),
        grad: tf
          .grad((t: tf.Tensor) => tf.sum(tf.gather(t, ids, 1)))(x)
          .arraySync(),
      };
    });
    expect(picked).toEqual([
      [3, 3, 1],
      [6, 6, 4],
    ]);
    expect(grad).toEqual([
      [1, 0, 2],
      [1, 0, 2],
    ]);
  });

  const next = random(SEED);
  const vocab = 50;
  const hidden = 16;
  const embedding = randomMatrix(vocab, hidden, next);
  const ids = Array.from({ length: 4 * 12 }, () => Math.floor(next() * vocab)); // [batch 4, seq 12]
  const upstream = randomMatrix(ids.length, hidden, next);
  const run = () =>
    tf.tidy(() => {
      const idTensor = tf.tensor2d(ids, [4, 12], 'int32');
      const up = tf.tensor3d(upstream.flat(), [4, 12, hidden]); // [batch, seq, hidden]
      const f = (t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, idTensor), up));
      const { value, grad } = tf.valueAndGrad(f)(tf.tensor2d(embedding));
      const rows = tf.gather(tf.tensor2d(embedding), idTensor).arraySync();
      return { value: value.arraySync(), grad: grad.arraySync(), rows };
    });

  it('embedding lookup [batch, seq] and its gradient match a JS reference', () => {
    const { grad, rows } = run();
    const expectedGrad = embedding.map((row) => row.map(() => 0));
    ids.forEach((id, i) => {
      upstream[i]!.forEach((v, k) => {
        expectedGrad[id]![k]! += v;
      });
    });
    expectClose(
      rows,
      chunk(ids, 12).map((seq) => seq.map((id) => embedding[id]!)),
      1e-7,
      'rows',
    );
    expectClose(grad, expectedGrad, REF_TOLERANCE, 'grad');
  });

  if (backend !== 'cpu') {
    it('agrees with the cpu backend', async () => {
      const here = run();
      const onCpu = await onBackend('cpu', run);
      expectClose(here.value, onCpu.value, CPU_TOLERANCE, 'value');
      expectClose(here.grad, onCpu.grad, CPU_TOLERANCE, 'grad');
    });
  }
});

describeEachBackend('matMul with transposes', (backend) => {
  const combos = [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ] as const;

  it('2x2 products for the 4 transpose combinations (hand-computed)', () => {
    const a = [
      [1, 2],
      [3, 4],
    ];
    const b = [
      [5, 6],
      [7, 8],
    ];
    const expected = [
      [
        [19, 22],
        [43, 50],
      ], // A B
      [
        [26, 30],
        [38, 44],
      ], // Aᵀ B
      [
        [17, 23],
        [39, 53],
      ], // A Bᵀ
      [
        [23, 31],
        [34, 46],
      ], // Aᵀ Bᵀ
    ];
    combos.forEach(([ta, tb], i) => {
      const product = tf.tidy(() => tf.matMul(tf.tensor2d(a), tf.tensor2d(b), ta, tb).arraySync());
      expect(product, `transposeA=${ta} transposeB=${tb}`).toEqual(expected[i]);
    });
  });

  // Logical shapes: [batch, m, k] x [batch, k, n] (batch 0 = rank 2), stored transposed when asked.
  const cases = [
    { batch: 0, m: 5, k: 7, n: 3 },
    { batch: 3, m: 4, k: 6, n: 5 },
  ];
  const next = random(SEED + 1);

  for (const { batch, m, k, n } of cases) {
    for (const [ta, tb] of combos) {
      const label = `${batch ? `[${batch}] ` : ''}${m}x${k}x${n} transposeA=${ta} transposeB=${tb}`;
      const count = Math.max(batch, 1);
      const as = Array.from({ length: count }, () => randomMatrix(m, k, next)); // logical A
      const bs = Array.from({ length: count }, () => randomMatrix(k, n, next)); // logical B
      const gs = Array.from({ length: count }, () => randomMatrix(m, n, next)); // upstream dC
      const stored = (ms: Matrix[], t: boolean) => ms.map((x) => (t ? transpose(x) : x));
      const tensor = (ms: Matrix[]) => (batch ? tf.tensor3d(ms) : tf.tensor2d(ms[0]!));
      const run = () =>
        tf.tidy(() => {
          const a = tensor(stored(as, ta));
          const b = tensor(stored(bs, tb));
          const g = tensor(gs);
          const f = (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, y, ta, tb), g));
          const [da, db] = tf.grads(f)([a, b]);
          return {
            product: tf.matMul(a, b, ta, tb).arraySync(),
            da: da!.arraySync(),
            db: db!.arraySync(),
          };
        });

      it(`${label}: forward and gradients match a JS reference`, () => {
        const { product, da, db } = run();
        const unbatch = (x: unknown) => (batch ? (x as Matrix[]) : [x as Matrix]);
        // loss = sum(C ∘ G): dA_logical = G Bᵀ, dB_logical = Aᵀ G, stored transposed like the input.
        const expectedDa = as.map((_, i) => matMulRef(gs[i]!, transpose(bs[i]!)));
        const expectedDb = as.map((_, i) => matMulRef(transpose(as[i]!), gs[i]!));
        expectClose(
          unbatch(product),
          as.map((x, i) => matMulRef(x, bs[i]!)),
          1e-5,
          'product',
        );
        expectClose(unbatch(da), stored(expectedDa, ta), 1e-5, 'dA');
        expectClose(unbatch(db), stored(expectedDb, tb), 1e-5, 'dB');
      });

      if (backend !== 'cpu') {
        it(`${label}: agrees with the cpu backend`, async () => {
          const here = run();
          const onCpu = await onBackend('cpu', run);
          expectClose(here.product, onCpu.product, CPU_TOLERANCE, 'product');
          expectClose(here.da, onCpu.da, CPU_TOLERANCE, 'dA');
          expectClose(here.db, onCpu.db, CPU_TOLERANCE, 'dB');
        });
      }
    }
  }

  it('[2, m, k] x [k, n] broadcasts the 2-D operand, with every transpose combination', () => {
    const a3 = [randomMatrix(4, 3, next), randomMatrix(4, 3, next)]; // logical [2, 4, 3]
    const b2 = randomMatrix(3, 5, next); // logical [3, 5]
    for (const [ta, tb] of combos) {
      const product = tf.tidy(() =>
        tf
          .matMul(
            tf.tensor3d(a3.map((x) => (ta ? transpose(x) : x))),
            tf.tensor2d(tb ? transpose(b2) : b2),
            ta,
            tb,
          )
          .arraySync(),
      );
      expectClose(
        product,
        a3.map((x) => matMulRef(x, b2)),
        1e-5,
        `transposeA=${ta} transposeB=${tb}`,
      );
    }
  });
});

describeEachBackend('softmax cross-entropy', (backend) => {
  it('one example, hand-computed loss and gradient softmax - onehot', () => {
    // logits [1, 2, 3], label 2: loss = log(e + e² + e³) - 3; values from the formula in float64.
    const { loss, logSoftmaxLoss, grad } = tf.tidy(() => {
      const logits = tf.tensor2d([[1, 2, 3]]);
      const labels = tf.oneHot(tf.tensor1d([2], 'int32'), 3);
      const f = (x: tf.Tensor) => tf.losses.softmaxCrossEntropy(labels, x);
      return {
        loss: f(logits).arraySync() as number,
        logSoftmaxLoss: tf.neg(tf.sum(tf.mul(labels, tf.logSoftmax(logits)))).arraySync() as number,
        grad: tf.grad(f)(logits).arraySync(),
      };
    });
    expect(loss).toBeCloseTo(0.40760596444438013, 6);
    expect(logSoftmaxLoss).toBeCloseTo(0.40760596444438013, 6);
    expectClose(grad, [[0.09003057317038046, 0.24472847105479767, 0.6652409557748219 - 1]], 1e-6);
  });

  const next = random(SEED + 2);
  const batch = 4;
  const classes = 7;
  const logits = randomMatrix(batch, classes, () => next() * 4); // spread of a few nats
  const labels = Array.from({ length: batch }, () => Math.floor(next() * classes));
  const referenceLoss = (flat: number[]) =>
    chunk(flat, classes).reduce((total, row, i) => {
      const max = Math.max(...row);
      const logSum = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
      return total + (logSum - row[labels[i]!]!);
    }, 0) / batch;
  const run = () =>
    tf.tidy(() => {
      const onehot = tf.oneHot(tf.tensor1d(labels, 'int32'), classes);
      // Both spellings a model may use: tfjs' loss, and mean of -log softmax at the label.
      const viaLoss = (x: tf.Tensor) => tf.losses.softmaxCrossEntropy(onehot, x);
      const viaLogSoftmax = (x: tf.Tensor) =>
        tf.neg(tf.mean(tf.sum(tf.mul(onehot, tf.logSoftmax(x)), -1)));
      const x = tf.tensor2d(logits);
      const a = tf.valueAndGrad(viaLoss)(x);
      const b = tf.valueAndGrad(viaLogSoftmax)(x);
      return {
        loss: a.value.arraySync() as number,
        grad: a.grad.arraySync(),
        logSoftmaxLoss: b.value.arraySync() as number,
        logSoftmaxGrad: b.grad.arraySync(),
      };
    });

  it('batch of 4 over 7 classes: loss and gradient match a float64 reference', () => {
    const got = run();
    const flat = logits.flat();
    const expectedGrad = chunk(numericGradient(referenceLoss, flat), classes);
    expectClose(got.loss, referenceLoss(flat), REF_TOLERANCE, 'loss');
    expectClose(got.logSoftmaxLoss, referenceLoss(flat), REF_TOLERANCE, 'log-softmax loss');
    expectClose(got.grad, expectedGrad, REF_TOLERANCE, 'grad');
    expectClose(got.logSoftmaxGrad, expectedGrad, REF_TOLERANCE, 'log-softmax grad');
  });

  if (backend !== 'cpu') {
    it('agrees with the cpu backend', async () => {
      const here = run();
      const onCpu = await onBackend('cpu', run);
      for (const key of ['loss', 'grad', 'logSoftmaxLoss', 'logSoftmaxGrad'] as const) {
        expectClose(here[key], onCpu[key], CPU_TOLERANCE, key);
      }
    });
  }
});

// Norms as a model writes them with tfjs ops; the references below are plain loops.
function layerNormTf(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), gamma), beta);
}

function rmsNormTf(x: tf.Tensor, weight: tf.Tensor, eps: number): tf.Tensor {
  const meanSquare = tf.mean(tf.square(x), -1, true);
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(meanSquare, eps))), weight);
}

function layerNormRef(row: number[], gamma: number[], beta: number[], eps: number): number[] {
  const mean = row.reduce((s, v) => s + v, 0) / row.length;
  const variance = row.reduce((s, v) => s + (v - mean) ** 2, 0) / row.length; // biased, as torch
  return row.map((v, i) => ((v - mean) / Math.sqrt(variance + eps)) * gamma[i]! + beta[i]!);
}

function rmsNormRef(row: number[], weight: number[], eps: number): number[] {
  const meanSquare = row.reduce((s, v) => s + v * v, 0) / row.length;
  return row.map((v, i) => (v / Math.sqrt(meanSquare + eps)) * weight[i]!);
}

describeEachBackend('layer norm and RMS norm', (backend) => {
  it('normalise [1, 2, 3, 4] (hand-computed)', () => {
    // mean 2.5, biased variance 1.25: (x - 2.5) / sqrt(1.25); mean square 7.5: x / sqrt(7.5).
    const { ln, rms } = tf.tidy(() => {
      const x = tf.tensor2d([[1, 2, 3, 4]]);
      return {
        ln: layerNormTf(x, tf.ones([4]), tf.zeros([4]), 0).arraySync(),
        rms: rmsNormTf(x, tf.ones([4]), 0).arraySync(),
      };
    });
    expectClose(
      ln,
      [[-1.3416407864998738, -0.4472135954999579, 0.4472135954999579, 1.3416407864998738]],
      1e-6,
    );
    expectClose(
      rms,
      [[0.3651483716701107, 0.7302967433402214, 1.0954451150103321, 1.4605934866804429]],
      1e-6,
    );
  });

  const next = random(SEED + 3);
  const rows = 3;
  const width = 8;
  const eps = 1e-5;
  const x = randomMatrix(rows, width, () => next() * 6 - 2); // off-centre, so the mean matters
  const gamma = Array.from({ length: width }, () => 0.5 + next());
  const beta = Array.from({ length: width }, () => next() - 0.5);
  const upstream = randomMatrix(rows, width, next);
  // Scalar losses sum(norm(x) ∘ upstream), as functions of everything that has a gradient.
  const lnLoss = (xs: number[], g = gamma, b = beta) =>
    elementwiseProductSum(
      chunk(xs, width).map((row) => layerNormRef(row, g, b, eps)),
      upstream,
    );
  const rmsLoss = (xs: number[], w = gamma) =>
    elementwiseProductSum(
      chunk(xs, width).map((row) => rmsNormRef(row, w, eps)),
      upstream,
    );

  const run = () =>
    tf.tidy(() => {
      const up = tf.tensor2d(upstream);
      const ln = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(layerNormTf(a, g, b, eps), up));
      const rms = (a: tf.Tensor, w: tf.Tensor) => tf.sum(tf.mul(rmsNormTf(a, w, eps), up));
      const inputs = [tf.tensor2d(x), tf.tensor1d(gamma), tf.tensor1d(beta)] as const;
      const lnGrads = tf.grads((a, g, b) => ln(a!, g!, b!))([...inputs]);
      const rmsGrads = tf.grads((a, w) => rms(a!, w!))([inputs[0], inputs[1]]);
      return {
        ln: layerNormTf(...inputs, eps).arraySync(),
        rms: rmsNormTf(inputs[0], inputs[1], eps).arraySync(),
        lnGrads: lnGrads.map((t) => t.arraySync()),
        rmsGrads: rmsGrads.map((t) => t.arraySync()),
      };
    });

  it('forward and gradients (x, gain, bias) match float64 references', () => {
    const got = run();
    const flat = x.flat();
    expectClose(
      got.ln,
      x.map((row) => layerNormRef(row, gamma, beta, eps)),
      REF_TOLERANCE,
      'layer norm',
    );
    expectClose(
      got.rms,
      x.map((row) => rmsNormRef(row, gamma, eps)),
      REF_TOLERANCE,
      'rms norm',
    );
    expectClose(
      got.lnGrads[0],
      chunk(numericGradient(lnLoss, flat), width),
      REF_TOLERANCE,
      'ln dx',
    );
    expectClose(
      got.lnGrads[1],
      numericGradient((g) => lnLoss(flat, g), gamma),
      REF_TOLERANCE,
      'ln dgamma',
    );
    expectClose(
      got.lnGrads[2],
      numericGradient((b) => lnLoss(flat, gamma, b), beta),
      REF_TOLERANCE,
      'ln dbeta',
    );
    expectClose(
      got.rmsGrads[0],
      chunk(numericGradient(rmsLoss, flat), width),
      REF_TOLERANCE,
      'rms dx',
    );
    expectClose(
      got.rmsGrads[1],
      numericGradient((w) => rmsLoss(flat, w), gamma),
      REF_TOLERANCE,
      'rms dweight',
    );
  });

  if (backend !== 'cpu') {
    it('agrees with the cpu backend', async () => {
      const here = run();
      const onCpu = await onBackend('cpu', run);
      expectClose(here.ln, onCpu.ln, CPU_TOLERANCE, 'ln');
      expectClose(here.rms, onCpu.rms, CPU_TOLERANCE, 'rms');
      for (const [i, g] of here.lnGrads.entries()) {
        expectClose(g, onCpu.lnGrads[i], CPU_TOLERANCE, `ln grad ${i}`);
      }
      for (const [i, g] of here.rmsGrads.entries()) {
        expectClose(g, onCpu.rmsGrads[i], CPU_TOLERANCE, `rms grad ${i}`);
      }
    });
  }
});

// GELU two ways: the exact erf form is torch's nn.GELU() default, which RecursiveLink uses
// (`self.act = nn.GELU()` in the official modeling.py); the tanh form is GPT-2's. SiLU is Llama's.
function geluExactTf(x: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
}

function geluTanhTf(x: tf.Tensor): tf.Tensor {
  const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(inner)));
}

function siluTf(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.sigmoid(x));
}

/** erf by its Maclaurin series, exact to float64 rounding for |x| <= 3 (60 terms). */
function erfRef(x: number): number {
  let term = x;
  let sum = x;
  for (let n = 1; n < 60; n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

const geluExactRef = (x: number) => 0.5 * x * (1 + erfRef(x / Math.SQRT2));
const geluTanhRef = (x: number) =>
  0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
const siluRef = (x: number) => x / (1 + Math.exp(-x));
// d/dx x·Φ(x) = Φ(x) + x·φ(x)
const geluExactDerivative = (x: number) =>
  0.5 * (1 + erfRef(x / Math.SQRT2)) + (x * Math.exp(-0.5 * x * x)) / Math.sqrt(2 * Math.PI);

describeEachBackend('GELU (erf and tanh) and SiLU', (backend) => {
  it('values at -1, 0, 1, 2 (hand-computed)', () => {
    // From the defining formulas in float64 (Python math.erf / math.tanh).
    const { exact, approx, silu } = tf.tidy(() => {
      const x = tf.tensor1d([-1, 0, 1, 2]);
      return {
        exact: geluExactTf(x).arraySync(),
        approx: geluTanhTf(x).arraySync(),
        silu: siluTf(x).arraySync(),
      };
    });
    expectClose(
      exact,
      [-0.15865525393145707, 0, 0.8413447460685429, 1.9544997361036416],
      2e-6,
      'erf',
    );
    expectClose(
      approx,
      [-0.15880800939172324, 0, 0.8411919906082768, 1.954597694087775],
      2e-6,
      'tanh',
    );
    expectClose(
      silu,
      [-0.2689414213699951, 0, 0.7310585786300049, 1.7615941559557649],
      2e-6,
      'silu',
    );
    // The two GELUs differ by ~1.5e-4 at 1: a model must pick the one its reference used.
    expect(Math.abs((exact as number[])[2]! - (approx as number[])[2]!)).toBeGreaterThan(1e-4);
  });

  const next = random(SEED + 4);
  const xs = Array.from({ length: 64 }, () => next() * 6 - 3); // [-3, 3]
  const run = () =>
    tf.tidy(() => {
      const x = tf.tensor1d(xs);
      const out = (f: (t: tf.Tensor) => tf.Tensor) => ({
        value: f(x).arraySync(),
        grad: tf
          .grad((t: tf.Tensor) => tf.sum(f(t)))(x)
          .arraySync(),
      });
      return { exact: out(geluExactTf), approx: out(geluTanhTf), silu: out(siluTf) };
    });

  it('forward and derivative on [-3, 3] match float64 references', () => {
    const got = run();
    const derivative = (f: (v: number) => number) =>
      xs.map((v) => numericGradient(([u]) => f(u!), [v])[0]!);
    expectClose(got.exact.value, xs.map(geluExactRef), REF_TOLERANCE, 'gelu erf');
    expectClose(got.exact.grad, xs.map(geluExactDerivative), REF_TOLERANCE, 'gelu erf grad');
    expectClose(got.approx.value, xs.map(geluTanhRef), REF_TOLERANCE, 'gelu tanh');
    expectClose(got.approx.grad, derivative(geluTanhRef), REF_TOLERANCE, 'gelu tanh grad');
    expectClose(got.silu.value, xs.map(siluRef), REF_TOLERANCE, 'silu');
    expectClose(got.silu.grad, derivative(siluRef), REF_TOLERANCE, 'silu grad');
  });

  if (backend !== 'cpu') {
    it('agrees with the cpu backend', async () => {
      const here = run();
      const onCpu = await onBackend('cpu', run);
      for (const key of ['exact', 'approx', 'silu'] as const) {
        expectClose(here[key].value, onCpu[key].value, CPU_TOLERANCE, `${key} value`);
        expectClose(here[key].grad, onCpu[key].grad, CPU_TOLERANCE, `${key} grad`);
      }
    });
  }
});
