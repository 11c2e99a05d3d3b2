import { describe, expect, it } from 'vitest';
import { resolveLinkSpec } from '../../operators/links/recursiveLink.ts';
import {
  decodingVsLatentStepFlops,
  denseFlopsPerPosition,
  forwardFlops,
  linkFlops,
} from '../../operators/usage/flops.ts';
import {
  groupUsage,
  sumUsage,
  type UsageEntry,
  UsageLedger,
} from '../../operators/usage/ledger.ts';
import { tinyConfig } from './fakes.ts';

const config = {
  ...tinyConfig(10, 4),
  numAttentionHeads: 2,
  numKeyValueHeads: 1,
  headDim: 2,
  intermediateSize: 8,
  numHiddenLayers: 3,
};

describe('FLOP model', () => {
  it('dense FLOPs per position: 2·(q + k + v + o + 3·d·I)·L', () => {
    // q 4·2·2 = 16, k and v 4·1·2 = 8 each, o 2·2·4 = 16 -> 48; MLP 3·4·8 = 96; (48 + 96)·2·3
    expect(denseFlopsPerPosition(config)).toBe(864);
  });

  it('forward FLOPs: positions 2, 3, 4 attend to 3, 4, 5 positions; one logit row', () => {
    // 3·864 + 4·H·h·(3 + 4 + 5)·L + 2·d·V = 2592 + 4·2·2·12·3 (= 576) + 80
    expect(forwardFlops(config, { pastLength: 2, newPositions: 3, logitPositions: 1 })).toBe(
      2592 + 576 + 80,
    );
    // A latent step (no logits) on a 10-position cache: 864 + 16·11·3.
    expect(forwardFlops(config, { pastLength: 10, newPositions: 1, logitPositions: 0 })).toBe(
      864 + 528,
    );
  });

  it('link FLOPs: 2·(in·hidden + hidden·out) (+ 2·in·out for an outer residual)', () => {
    expect(linkFlops(resolveLinkSpec({ kind: 'inner', inDim: 4 }))).toBe(64);
    expect(linkFlops(resolveLinkSpec({ kind: 'outer', inDim: 4, outDim: 6 }))).toBe(
      2 * (4 * 12 + 12 * 6 + 4 * 6),
    );
    expect(linkFlops(resolveLinkSpec({ kind: 'inner', variant: 'linear_adapter', inDim: 4 }))).toBe(
      32,
    );
    expect(
      linkFlops(resolveLinkSpec({ kind: 'outer', variant: 'outer_adapter', inDim: 4, outDim: 6 })),
    ).toBe(2 * (4 * 6 + 6 * 6));
  });

  it("Prop. 3.1's per-step terms: 2·d·|V| against the inner link's ≈ 4·d²", () => {
    const big = { ...config, hiddenSize: 256, vocabSize: 16384 };
    const r = decodingVsLatentStepFlops(big, resolveLinkSpec({ kind: 'inner', inDim: 256 }));
    expect(r.vocabProjection).toBe(2 * 256 * 16384);
    expect(r.innerLink).toBe(4 * 256 * 256);
    expect(r.ratio).toBe(16384 / (2 * 256));
  });
});

describe('usage ledger', () => {
  const entry = (requestId: string, agent: string, round: number, n: number): UsageEntry => ({
    requestId,
    agent,
    round,
    phase: 'latent',
    promptTokens: n,
    latentInputs: 2 * n,
    generatedTokens: 3 * n,
    latentSteps: 4 * n,
    flops: 5 * n,
    wallTimeMs: 6 * n,
  });

  it('sums per request, per agent and per run', () => {
    const ledger = new UsageLedger();
    ledger.recordAll([
      entry('a', 'planner', 1, 1),
      entry('a', 'critic', 1, 2),
      entry('b', 'planner', 2, 10),
    ]);
    expect(ledger.forRequest('a')).toEqual({
      promptTokens: 3,
      latentInputs: 6,
      generatedTokens: 9,
      latentSteps: 12,
      flops: 15,
      wallTimeMs: 18,
      turns: 2,
    });
    expect(ledger.byRequest().get('b')!.flops).toBe(50);
    expect(ledger.totals().promptTokens).toBe(13);
    expect(groupUsage(ledger.entries, (e) => e.agent).get('planner')!.latentSteps).toBe(44);
    expect(sumUsage([]).turns).toBe(0);
  });
});
