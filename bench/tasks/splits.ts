/**
 * Fixed-seed train / validation / test splits of every family, with held-out compositions: a
 * share of each family's compositions (operator triples, function pairs, question types per
 * person) never appears in train or validation, only in test. No test or validation question
 * occurs in train.
 */
import { SeededRandom } from '../../train/rng.ts';
import { arith } from './arith.ts';
import { code } from './code.ts';
import type { TaskFamily, TaskInstance } from './family.ts';
import type { KnowledgeRecord, Split, TaskRecord } from './format.ts';
import { SEARCH_TYPES, search } from './search.ts';
import { makeWorld, WORLD_SEED, type World } from './world.ts';

/** The families, in the order files list them. */
export const FAMILIES: readonly TaskFamily[] = [arith, code, search];

/** Questions per family and split, for families with many instances per composition. */
export interface SplitSizes {
  train: number;
  validation: number;
  test: number;
}

export const DEFAULT_SPLIT_SIZES: SplitSizes = { train: 1500, validation: 100, test: 200 };

/** Share of a sampled family's compositions kept for test only. */
export const HELD_OUT_FRACTION = 0.2;

export interface TaskSplits {
  world: World;
  train: TaskRecord[];
  validation: TaskRecord[];
  test: TaskRecord[];
  knowledge: KnowledgeRecord[];
}

function familySeed(seed: number, family: string, salt: number): number {
  let h = (seed ^ Math.imul(salt + 1, 0x9e3779b1)) >>> 0;
  for (const ch of family) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return h;
}

/**
 * Which compositions of a family are held out for test (and, for one-instance families, which
 * are kept for validation).
 *
 * @example heldOutCompositions(arith, makeWorld()).test.size // 5 of the 27 operator triples
 */
export function heldOutCompositions(
  family: TaskFamily,
  world: World,
): { test: Set<string>; validation: Set<string> } {
  const all = family.compositions(world);
  if (family === search) {
    // Each person keeps two question types for train and shows the third only in test.
    const test = new Set<string>();
    const validation = new Set<string>();
    const people = [...world.livesIn.keys()];
    people.forEach((person, i) => {
      test.add(`${SEARCH_TYPES[i % SEARCH_TYPES.length]}:${person}`);
      if (i % 8 === 7) validation.add(`${SEARCH_TYPES[(i + 1) % SEARCH_TYPES.length]}:${person}`);
    });
    return { test, validation };
  }
  const shuffled = new SeededRandom(familySeed(world.seed, family.name, 0)).shuffle(all);
  const count = Math.max(1, Math.round(all.length * HELD_OUT_FRACTION));
  return { test: new Set(shuffled.slice(0, count)), validation: new Set() };
}

function record(
  family: TaskFamily,
  split: Split,
  index: number,
  t: TaskInstance,
  heldOut: boolean,
): TaskRecord {
  return {
    id: `${family.name}-${split}-${String(index).padStart(4, '0')}`,
    family: family.name,
    split,
    question: t.question,
    answer: t.answer,
    roles: t.roles,
    composition: t.composition,
    heldOut,
  };
}

/** `count` questions of the given compositions (round-robin from a seeded order), none in `exclude`. */
function sampleMany(
  family: TaskFamily,
  world: World,
  compositions: readonly string[],
  count: number,
  rng: SeededRandom,
  exclude: ReadonlySet<string>,
): TaskInstance[] {
  const out: TaskInstance[] = [];
  const seen = new Set(exclude);
  for (let attempt = 0; out.length < count && attempt < count * 50; attempt++) {
    const composition = compositions[rng.int(compositions.length)]!;
    const t = family.sample(world, composition, rng);
    if (seen.has(t.question)) continue;
    seen.add(t.question);
    out.push(t);
  }
  return out;
}

/**
 * Builds every split from a seed (the shipped files are `buildTaskSplits()`): deterministic, in
 * memory, in milliseconds.
 *
 * @example
 * const { test } = buildTaskSplits();
 * test.filter((r) => r.heldOut).length; // questions of compositions train never saw
 */
export function buildTaskSplits(
  options: { seed?: number; sizes?: Partial<SplitSizes> } = {},
): TaskSplits {
  const world = makeWorld(options.seed ?? WORLD_SEED);
  const sizes = { ...DEFAULT_SPLIT_SIZES, ...options.sizes };
  const splits: Record<Split, TaskRecord[]> = { train: [], validation: [], test: [] };
  for (const family of FAMILIES) {
    const held = heldOutCompositions(family, world);
    const all = family.compositions(world);
    if (family.oneInstancePerComposition) {
      const rng = new SeededRandom(familySeed(world.seed, family.name, 1));
      const bySplit: Record<Split, string[]> = { train: [], validation: [], test: [] };
      for (const c of all) {
        bySplit[held.test.has(c) ? 'test' : held.validation.has(c) ? 'validation' : 'train'].push(
          c,
        );
      }
      for (const split of ['train', 'validation', 'test'] as const) {
        bySplit[split].forEach((c, i) => {
          splits[split].push(
            record(family, split, i, family.sample(world, c, rng), split !== 'train'),
          );
        });
      }
      continue;
    }
    const seen = all.filter((c) => !held.test.has(c));
    const heldOut = all.filter((c) => held.test.has(c));
    const rng = (salt: number) => new SeededRandom(familySeed(world.seed, family.name, salt));
    const train = sampleMany(family, world, seen, sizes.train, rng(2), new Set());
    const trainQuestions = new Set(train.map((t) => t.question));
    const validation = sampleMany(family, world, seen, sizes.validation, rng(3), trainQuestions);
    const exclude = new Set([...trainQuestions, ...validation.map((t) => t.question)]);
    const half = Math.floor(sizes.test / 2);
    const testHeld = sampleMany(family, world, heldOut, sizes.test - half, rng(4), exclude);
    const testSeen = sampleMany(family, world, seen, half, rng(5), exclude);
    splits.train.push(...train.map((t, i) => record(family, 'train', i, t, false)));
    splits.validation.push(...validation.map((t, i) => record(family, 'validation', i, t, false)));
    const test = [
      ...testHeld.map((t) => [t, true] as const),
      ...testSeen.map((t) => [t, false] as const),
    ];
    splits.test.push(...test.map(([t, isHeld], i) => record(family, 'test', i, t, isHeld)));
  }
  return { world, ...splits, knowledge: FAMILIES.flatMap((f) => f.knowledge(world)) };
}
