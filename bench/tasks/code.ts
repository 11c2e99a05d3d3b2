/**
 * The code analogue (tracing a small program, values mod 10):
 * `x = 4 ; x = back(x) ; y = 7 ; y = get(y) ; print(x + y)`. The planner knows what its library
 * functions (`back`, `find`, ...) compute, the critic knows its own (`get`, `run`, ...), the solver
 * knows neither. Sequential: the planner traces x, the critic traces y (starting with x and the print's operator: `7 + ; get(3) = 6 ; y = 6`), the solver
 * evaluates the print. Mixture: one specialist traces each variable, the summarizer prints. A
 * composition is the pair (first planner function, first critic function).
 */
import type { SeededRandom } from '../../train/rng.ts';
import { DIGIT_OPS, digitOp, type TaskFamily, type TaskInstance } from './family.ts';
import type { KnowledgeRecord } from './format.ts';
import { applyDigitFunction, type DigitFunction, type World } from './world.ts';

/** Traces `v = f(v)` for each function; returns the program lines, the trace and the result. */
function trace(
  variable: string,
  start: number,
  calls: readonly string[],
  functions: ReadonlyMap<string, DigitFunction>,
): { lines: string; steps: string; result: number } {
  let value = start;
  const lines = [`${variable} = ${start}`];
  const steps: string[] = [];
  for (const name of calls) {
    const next = applyDigitFunction(functions.get(name)!, value);
    lines.push(`${variable} = ${name}(${variable})`);
    steps.push(`${name}(${value}) = ${next}`);
    value = next;
  }
  steps.push(`${variable} = ${value}`);
  return { lines: lines.join(' ; '), steps: steps.join(' ; '), result: value };
}

export const code: TaskFamily = {
  name: 'code',
  oneInstancePerComposition: false,

  compositions(world: World): string[] {
    const out: string[] = [];
    for (const p of world.plannerFunctions.keys())
      for (const c of world.criticFunctions.keys()) out.push(`${p}>${c}`);
    return out;
  },

  sample(world: World, composition: string, rng: SeededRandom): TaskInstance {
    const [first, second] = composition.split('>') as [string, string];
    const pNames = [...world.plannerFunctions.keys()];
    const cNames = [...world.criticFunctions.keys()];
    const pCalls = [first, ...(rng.next() < 0.5 ? [pNames[rng.int(pNames.length)]!] : [])];
    const cCalls = [second, ...(rng.next() < 0.5 ? [cNames[rng.int(cNames.length)]!] : [])];
    const x = trace('x', rng.int(10), pCalls, world.plannerFunctions);
    const y = trace('y', rng.int(10), cCalls, world.criticFunctions);
    const op = DIGIT_OPS[rng.int(DIGIT_OPS.length)]!;
    const z = digitOp(op, x.result, y.result);
    const final = `${x.result} ${op} ${y.result} = ${z}`;
    return {
      question: `${x.lines} ; ${y.lines} ; print(x ${op} y)`,
      answer: String(z),
      composition,
      roles: {
        sequential: { planner: x.steps, critic: `${x.result} ${op} ; ${y.steps}`, solver: final },
        mixture: { left: x.steps, right: y.steps, summarizer: final },
      },
    };
  },

  knowledge(world: World): KnowledgeRecord[] {
    const recall = (agent: string, functions: ReadonlyMap<string, DigitFunction>) =>
      [...functions].flatMap(([name, f]) =>
        Array.from({ length: 10 }, (_, v) => ({
          agent,
          prompt: `recall ${name}(${v})`,
          target: `${name}(${v}) = ${applyDigitFunction(f, v)}`,
        })),
      );
    return [
      ...recall('planner', world.plannerFunctions),
      ...recall('critic', world.criticFunctions),
    ];
  },
};
