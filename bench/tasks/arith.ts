/**
 * The math analogue (multi-step arithmetic, mod 10): `( age + bet ) * ( mat - loc )`, where the
 * planner knows the values of `age` and `bet`, the critic knows `mat` and `loc`, and the solver
 * knows neither. Sequential: the planner works out the left group, the critic the right group
 * (starting with the left result and the last operator: `8 * ; mat - loc = 7 - 2 = 5`), the solver
 * the last operation. Mixture: two specialists work out
 * one group each, the summarizer combines them. A composition is the triple of operators.
 */
import type { SeededRandom } from '../../train/rng.ts';
import { DIGIT_OPS, digitOp, type TaskFamily, type TaskInstance } from './family.ts';
import type { KnowledgeRecord } from './format.ts';
import type { World } from './world.ts';

function pickKey<T>(map: ReadonlyMap<string, T>, rng: SeededRandom): string {
  const keys = [...map.keys()];
  return keys[rng.int(keys.length)]!;
}

export const arith: TaskFamily = {
  name: 'arith',
  oneInstancePerComposition: false,

  compositions(): string[] {
    const out: string[] = [];
    for (const a of DIGIT_OPS)
      for (const b of DIGIT_OPS) for (const c of DIGIT_OPS) out.push(a + b + c);
    return out;
  },

  sample(world: World, composition: string, rng: SeededRandom): TaskInstance {
    const [op1, op2, op3] = composition.split('') as [string, string, string];
    const A = pickKey(world.plannerRegisters, rng);
    const B = pickKey(world.plannerRegisters, rng);
    const C = pickKey(world.criticRegisters, rng);
    const D = pickKey(world.criticRegisters, rng);
    const [a, b] = [world.plannerRegisters.get(A)!, world.plannerRegisters.get(B)!];
    const [c, d] = [world.criticRegisters.get(C)!, world.criticRegisters.get(D)!];
    const x = digitOp(op1, a, b);
    const y = digitOp(op3, c, d);
    const z = digitOp(op2, x, y);
    const left = `${A} ${op1} ${B} = ${a} ${op1} ${b} = ${x}`;
    const right = `${C} ${op3} ${D} = ${c} ${op3} ${d} = ${y}`;
    const final = `${x} ${op2} ${y} = ${z}`;
    return {
      question: `( ${A} ${op1} ${B} ) ${op2} ( ${C} ${op3} ${D} )`,
      answer: String(z),
      composition,
      roles: {
        sequential: { planner: left, critic: `${x} ${op2} ; ${right}`, solver: final },
        mixture: { left, right, summarizer: final },
      },
    };
  },

  knowledge(world: World): KnowledgeRecord[] {
    const recall = (agent: string, registers: ReadonlyMap<string, number>) =>
      [...registers].map(([name, value]) => ({
        agent,
        prompt: `recall ${name}`,
        target: `${name} = ${value}`,
      }));
    // The solver knows no register, but it knows mod-10 arithmetic: every table entry.
    const tables = DIGIT_OPS.flatMap((op) =>
      Array.from({ length: 100 }, (_, i) => {
        const [a, b] = [Math.floor(i / 10), i % 10];
        return {
          agent: 'solver',
          prompt: `recall ${a} ${op} ${b}`,
          target: `${a} ${op} ${b} = ${digitOp(op, a, b)}`,
        };
      }),
    );
    return [
      ...recall('planner', world.plannerRegisters),
      ...recall('critic', world.criticRegisters),
      ...tables,
    ];
  },
};
