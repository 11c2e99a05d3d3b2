import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  buildTaskSplits,
  extractAnswer,
  FAMILIES,
  isCorrect,
  parseTaskJsonl,
  TASK_DATA_DIR,
  TaskFormatError,
  type TaskRecord,
  toJsonl,
  WORLD_SEED,
  type World,
} from '../../bench/tasks/index.ts';
import { presetTokenizer } from '../../models/presets.ts';

const splits = buildTaskSplits();
const { world } = splits;
const all = [...splits.train, ...splits.validation, ...splits.test];
console.log(`task world seed ${WORLD_SEED}`);

// Independent references: they read the question text and the world's tables, and share no code
// with the generators (they do their own mod-10 arithmetic and parsing).
const mod10 = (v: number) => ((v % 10) + 10) % 10;
const apply = (op: string, a: number, b: number) =>
  mod10(op === '+' ? a + b : op === '-' ? a - b : a * b);

function registerValue(w: World, name: string): number {
  const v = w.plannerRegisters.get(name) ?? w.criticRegisters.get(name);
  if (v === undefined) throw new Error(`unknown register ${name}`);
  return v;
}

function referenceArith(w: World, question: string): string {
  const m = /^\( (\w+) ([-+*]) (\w+) \) ([-+*]) \( (\w+) ([-+*]) (\w+) \)$/.exec(question);
  if (m === null) throw new Error(`not an arith question: ${question}`);
  const [, a, op1, b, op2, c, op3, d] = m as unknown as string[];
  const left = apply(op1!, registerValue(w, a!), registerValue(w, b!));
  const right = apply(op3!, registerValue(w, c!), registerValue(w, d!));
  return String(apply(op2!, left, right));
}

function referenceCode(w: World, program: string): string {
  const vars: Record<string, number> = {};
  for (const statement of program.split(' ; ')) {
    let m = /^(\w) = (\d)$/.exec(statement);
    if (m) {
      vars[m[1]!] = Number(m[2]);
      continue;
    }
    m = /^(\w) = (\w+)\((\w)\)$/.exec(statement);
    if (m) {
      const f = w.plannerFunctions.get(m[2]!) ?? w.criticFunctions.get(m[2]!);
      if (f === undefined) throw new Error(`unknown function ${m[2]}`);
      vars[m[1]!] = (f.a * vars[m[3]!]! + f.b) % 10;
      continue;
    }
    m = /^print\((\w) ([-+*]) (\w)\)$/.exec(statement);
    if (m) return String(apply(m[2]!, vars[m[1]!]!, vars[m[3]!]!));
    throw new Error(`bad statement ${statement}`);
  }
  throw new Error('no print');
}

function referenceSearch(w: World, question: string): string {
  let m = /^which country does (\w+) live in \?$/.exec(question);
  if (m) return w.cityCountry.get(w.livesIn.get(m[1]!)!)!;
  m = /^which city is the employer of (\w+) in \?$/.exec(question);
  if (m) return w.basedIn.get(w.worksFor.get(m[1]!)!)!;
  m = /^which country is the employer of (\w+) in \?$/.exec(question);
  if (m) return w.cityCountry.get(w.basedIn.get(w.worksFor.get(m[1]!)!)!)!;
  throw new Error(`not a search question: ${question}`);
}

const reference: Record<string, (w: World, q: string) => string> = {
  arith: referenceArith,
  code: referenceCode,
  search: referenceSearch,
};

describe('task families', () => {
  it('has the three families in every split', () => {
    for (const split of [splits.train, splits.validation, splits.test]) {
      expect(new Set(split.map((r) => r.family))).toEqual(new Set(['arith', 'code', 'search']));
    }
  });

  it('every answer agrees with an independent evaluation of the question', () => {
    for (const r of all) expect(reference[r.family]!(world, r.question), r.id).toBe(r.answer);
  });

  it('a hand-checked example: mod-10 arithmetic with the world values', () => {
    const age = world.plannerRegisters.get('age')!;
    const bet = world.plannerRegisters.get('bet')!;
    const mat = world.criticRegisters.get('mat')!;
    const loc = world.criticRegisters.get('loc')!;
    // (age + bet) * (mat - loc) mod 10, written out
    const left = (age + bet) % 10;
    const right = (mat - loc + 10) % 10;
    expect(referenceArith(world, '( age + bet ) * ( mat - loc )')).toBe(
      String((left * right) % 10),
    );
  });

  it('no single agent can answer alone: each question needs planner and critic knowledge', () => {
    const plannerNames = new Set([
      ...world.plannerRegisters.keys(),
      ...world.plannerFunctions.keys(),
      ...world.livesIn.keys(),
    ]);
    const criticNames = new Set([
      ...world.criticRegisters.keys(),
      ...world.criticFunctions.keys(),
      ...world.basedIn.keys(),
      ...world.cityCountry.keys(),
    ]);
    for (const name of plannerNames) expect(criticNames.has(name), name).toBe(false);
    for (const r of all) {
      const words = new Set(r.question.split(/[\s()]+/));
      const planner = r.roles!.sequential!.planner!;
      const critic = r.roles!.sequential!.critic!;
      // The planner's hop is about one of its own names; the critic's hop uses one of its own.
      expect(
        [...words].some((w) => plannerNames.has(w)),
        r.id,
      ).toBe(true);
      expect(
        critic.split(/[\s()]+/).some((w) => criticNames.has(w)),
        r.id,
      ).toBe(true);
      // The planner's text uses none of the critic's registers or functions, and neither the
      // question nor the planner's text holds the answer of a search question.
      const criticOnly = new Set([
        ...world.criticRegisters.keys(),
        ...world.criticFunctions.keys(),
      ]);
      expect(
        planner.split(/[\s()]+/).some((w) => criticOnly.has(w)),
        r.id,
      ).toBe(false);
      if (r.family === 'search') {
        expect(words.has(r.answer) || planner.split(' ').includes(r.answer), r.id).toBe(false);
      }
    }
  });

  it('held-out compositions appear in test only, and no test question is in train', () => {
    const trainCompositions = new Set(
      [...splits.train, ...splits.validation].map((r) => `${r.family}/${r.composition}`),
    );
    const trainQuestions = new Set(splits.train.map((r) => r.question));
    const held = splits.test.filter((r) => r.heldOut);
    expect(held.length).toBeGreaterThan(splits.test.length / 3);
    for (const r of held)
      expect(trainCompositions.has(`${r.family}/${r.composition}`), r.id).toBe(false);
    for (const r of [...splits.test, ...splits.validation]) {
      expect(trainQuestions.has(r.question), r.id).toBe(false);
    }
    for (const family of FAMILIES) {
      expect(
        held.some((r) => r.family === family.name),
        family.name,
      ).toBe(true);
    }
  });

  it('is deterministic, and the shipped files are what the generator writes', () => {
    const again = buildTaskSplits();
    expect(toJsonl(again.test)).toBe(toJsonl(splits.test));
    for (const name of ['train', 'validation', 'test', 'knowledge'] as const) {
      const shipped = readFileSync(path.join(TASK_DATA_DIR, `${name}.jsonl`), 'utf8');
      expect(shipped, name).toBe(toJsonl(splits[name]));
    }
  });

  it('a different seed gives a different world', () => {
    const other = buildTaskSplits({
      seed: WORLD_SEED + 1,
      sizes: { train: 10, validation: 5, test: 10 },
    });
    expect(toJsonl(other.test)).not.toBe(toJsonl(splits.test));
    expect(other.train.filter((r) => r.family === 'arith')).toHaveLength(10);
  });

  it('every name is one token for both preset tokenizers', () => {
    const names = new Set<string>();
    for (const map of [
      world.plannerRegisters,
      world.criticRegisters,
      world.plannerFunctions,
      world.criticFunctions,
      world.livesIn,
      world.basedIn,
      world.cityCountry,
    ]) {
      for (const [k, v] of map) {
        names.add(k);
        if (typeof v === 'string') names.add(v);
      }
    }
    for (const tokenizerName of ['bytebpe-2k', 'spbpe-2k'] as const) {
      const tokenizer = presetTokenizer(tokenizerName);
      const base = tokenizer.encode('is', { addSpecialTokens: false }).length;
      for (const name of names) {
        expect(
          tokenizer.encode(`is ${name}`, { addSpecialTokens: false }).length - base,
          `${tokenizerName} ${name}`,
        ).toBe(1);
      }
    }
  });

  it('knowledge texts hold every fact, each with the network that owns it', () => {
    const facts = splits.knowledge;
    expect(facts.filter((k) => k.agent === 'planner' && k.prompt === 'recall age')[0]?.target).toBe(
      `age = ${world.plannerRegisters.get('age')}`,
    );
    const people = facts.filter((k) => k.agent === 'planner' && /lives in/.test(k.target));
    expect(people).toHaveLength(world.livesIn.size);
    expect(facts.filter((k) => k.agent === 'critic' && / is in /.test(k.target))).toHaveLength(
      world.cityCountry.size,
    );
  });
});

describe('task format', () => {
  it('extracts the answer after the last "=", else the trimmed text', () => {
    expect(extractAnswer('8 * 5 = 0')).toBe('0');
    expect(extractAnswer('x = 3 ; y = 4 = 7.')).toBe('7');
    expect(extractAnswer('  world ')).toBe('world');
    expect(isCorrect('1 + 3 = 4', '4')).toBe(true);
    expect(isCorrect('1 + 3 = 4', '5')).toBe(false);
    expect(isCorrect('world', 'World')).toBe(false);
  });

  it('reads a minimal user file with defaults', () => {
    const records = parseTaskJsonl(
      '{"question":"2+2?","answer":4}\n\n{"id":"q2","question":"x","answer":"y","family":"mine"}\n',
    );
    expect(records).toEqual<TaskRecord[]>([
      { id: 'line-1', family: 'custom', split: 'test', question: '2+2?', answer: '4' },
      { id: 'q2', family: 'mine', split: 'test', question: 'x', answer: 'y' },
    ]);
  });

  it.each([
    ['{"question": "q"', 'not JSON'],
    ['[1]', 'must be a JSON object'],
    ['{"answer":"a"}', '"question" must be a non-empty string'],
    ['{"question":"q"}', '"answer" must be a string'],
    ['{"question":"q","answer":"a","split":"dev"}', '"split" must be one of'],
    ['{"question":"q","answer":"a","roles":{"sequential":{"planner":3}}}', '"roles.sequential"'],
  ])('rejects %s with a typed error naming the line', (line, message) => {
    const text = `{"question":"ok","answer":"1"}\n${line}\n`;
    let error: unknown;
    try {
      parseTaskJsonl(text, 'my.jsonl');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TaskFormatError);
    expect((error as TaskFormatError).code).toBe('INVALID_TASK_RECORD');
    expect((error as TaskFormatError).line).toBe(2);
    expect((error as Error).message).toContain('my.jsonl:2');
    expect((error as Error).message).toContain(message);
  });

  it('rejects duplicate ids', () => {
    expect(() =>
      parseTaskJsonl(
        '{"id":"a","question":"q","answer":"1"}\n{"id":"a","question":"r","answer":"2"}\n',
      ),
    ).toThrow(/duplicate id a/);
  });
});
