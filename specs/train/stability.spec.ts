import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPresetAgent } from '../../models/presets.ts';
import type { Agent } from '../../models/types.ts';
import { innerLinkStability, textHandoffStability } from '../../train/stability.ts';
import { useWasmAndCheckLeaks } from './wasm.ts';

useWasmAndCheckLeaks();

let agent: Agent;
beforeAll(async () => {
  agent = await createPresetAgent('tiny-planner-96', { seed: 1, random: true });
});
afterAll(() => agent.model.dispose());

describe('Theorem 4.1, measured on tiny-planner-96 (d = 96)', () => {
  it('an inner link at Kaiming init keeps ‖J‖₂ of order 1: within [1 − √(ln 20 / d), 10]', () => {
    // Tolerance: the theorem's lower bound at δ = 0.05 (0.82 for d = 96) and a loose upper bound
    // (1 + ‖W2‖·max GELU′·‖W1‖ ≈ 10 for square Kaiming matrices). Measured: ≈ 4.3 (res_adapter),
    // ≈ 2.8 (ln_res_adapter).
    for (const variant of ['res_adapter', 'ln_res_adapter'] as const) {
      const r = innerLinkStability(agent, { variant, seeds: 2, points: 3 });
      console.log(
        `${variant}: ‖J‖₂ median ${r.median.toFixed(3)} [${r.min.toFixed(3)}, ${r.max.toFixed(3)}]`,
      );
      expect(r.norms).toHaveLength(6);
      expect(r.min).toBeGreaterThanOrEqual(r.lowerBound);
      expect(r.max).toBeLessThanOrEqual(10);
    }
  });

  it('a text hand-off on confident tokens has ‖J‖₂ ≤ ‖W_in‖‖W_out‖(1 − ‖p‖²) ≤ ‖W_in‖‖W_out‖·H, ≈ 0', () => {
    const r = textHandoffStability(agent);
    const confident = r.confident.filter((p) => p.entropy <= 1e-3);
    expect(confident.length).toBeGreaterThanOrEqual(2);
    for (const p of r.confident) {
      console.log(
        `H = ${p.entropy.toExponential(2)}: ‖J‖₂ = ${p.norm.toExponential(2)} ≤ ${p.bound.toExponential(2)}`,
      );
      // 1e-3 relative slack for float32 Jacobians against the float64 bound.
      expect(p.norm).toBeLessThanOrEqual(p.bound * (1 + 1e-3) + 1e-30);
    }
    for (const p of confident) {
      expect(p.collision).toBeLessThanOrEqual(p.entropy);
      expect(p.norm).toBeLessThan(1e-5); // against ≈ 4 through the inner link
    }
    // The more confident, the smaller: O(ε).
    const norms = confident.map((p) => p.norm);
    for (let i = 1; i < norms.length; i++) expect(norms[i]!).toBeLessThan(norms[i - 1]!);
  });
});
