/**
 * The private knowledge of the benchmark's agents: a small world drawn from a fixed seed. The
 * planner's network knows some of it (its registers, its functions, where people live and work),
 * the critic's network knows the rest (its registers and functions, where companies are, which
 * city is in which country), and the solver knows none of it. Each agent learns its part from its
 * role texts and knowledge texts, so a question needs what two agents know: no single agent can
 * answer it alone, and the hand-off (latent or text) must carry the missing part.
 *
 * Names are words that both preset tokenizers (bytebpe-2k, spbpe-2k) hold as one token, so a
 * name is one position for every agent.
 */
import { SeededRandom } from '../../train/rng.ts';

/** The seed of the shipped world; the shipped weights learned this world. */
export const WORLD_SEED = 20260428;

/** Digit-valued registers; values in 0..9 (all arithmetic is mod 10). */
const PLANNER_REGISTERS = [
  'age',
  'app',
  'arg',
  'bet',
  'com',
  'con',
  'cor',
  'day',
  'det',
  'dif',
  'ele',
  'exp',
];
const CRITIC_REGISTERS = [
  'ind',
  'int',
  'key',
  'lat',
  'len',
  'loc',
  'mat',
  'met',
  'pat',
  'pos',
  'reg',
  'ref',
];
/** One-argument functions f(x) = (a·x + b) mod 10. */
const PLANNER_FUNCTIONS = ['back', 'call', 'check', 'count', 'find', 'hand', 'make', 'match'];
const CRITIC_FUNCTIONS = ['get', 'init', 'iter', 'run', 'take', 'sing', 'wrapp', 'repl'];
const PEOPLE = [
  'ali',
  'man',
  'she',
  'him',
  'her',
  'men',
  'user',
  'agent',
  'helper',
  'people',
  'who',
  'you',
  'year',
  'life',
  'time',
  'work',
  'good',
  'great',
  'little',
  'long',
  'old',
  'new',
  'right',
  'single',
  'special',
  'standard',
  'true',
  'zero',
  'three',
  'two',
  'one',
  'first',
  'last',
  'main',
  'custom',
  'generic',
  'global',
  'static',
].filter((name, i, all) => all.indexOf(name) === i);
const COMPANIES = [
  'data',
  'code',
  'model',
  'object',
  'class',
  'method',
  'instance',
  'message',
  'version',
  'option',
  'command',
  'pattern',
];
const CITIES = [
  'path',
  'file',
  'stream',
  'frame',
  'module',
  'buffer',
  'matrix',
  'layer',
  'vector',
  'tensor',
  'token',
  'source',
  'string',
  'tuple',
  'dict',
  'list',
];
const COUNTRIES = [
  'world',
  'kafka',
  'torch',
  'support',
  'runtime',
  'group',
  'collection',
  'sequence',
];

/** f(x) = (a·x + b) mod 10. */
export interface DigitFunction {
  a: number;
  b: number;
}

/** Everything the agents know, split by who knows it. */
export interface World {
  seed: number;
  /** register -> digit, known to the planner. */
  plannerRegisters: ReadonlyMap<string, number>;
  /** register -> digit, known to the critic. */
  criticRegisters: ReadonlyMap<string, number>;
  plannerFunctions: ReadonlyMap<string, DigitFunction>;
  criticFunctions: ReadonlyMap<string, DigitFunction>;
  /** person -> city and person -> company, known to the planner. */
  livesIn: ReadonlyMap<string, string>;
  worksFor: ReadonlyMap<string, string>;
  /** company -> city and city -> country, known to the critic. */
  basedIn: ReadonlyMap<string, string>;
  cityCountry: ReadonlyMap<string, string>;
}

/**
 * The world of a seed (the shipped agents learned `makeWorld(WORLD_SEED)`).
 *
 * @example
 * const world = makeWorld(WORLD_SEED);
 * world.plannerRegisters.get('age'); // a digit
 */
export function makeWorld(seed: number = WORLD_SEED): World {
  const rng = new SeededRandom(seed);
  const digits = (names: readonly string[]) => new Map(names.map((n) => [n, rng.int(10)] as const));
  const functions = (names: readonly string[]) =>
    new Map(names.map((n) => [n, { a: 1 + rng.int(9), b: rng.int(10) }] as const));
  const pick = <T>(items: readonly T[]) => items[rng.int(items.length)]!;
  const plannerRegisters = digits(PLANNER_REGISTERS);
  const criticRegisters = digits(CRITIC_REGISTERS);
  const plannerFunctions = functions(PLANNER_FUNCTIONS);
  const criticFunctions = functions(CRITIC_FUNCTIONS);
  const livesIn = new Map(PEOPLE.map((p) => [p, pick(CITIES)] as const));
  const worksFor = new Map(PEOPLE.map((p) => [p, pick(COMPANIES)] as const));
  const basedIn = new Map(COMPANIES.map((c) => [c, pick(CITIES)] as const));
  // Every country gets at least one city, so every country can be an answer.
  const shuffledCities = rng.shuffle(CITIES);
  const cityCountry = new Map(
    shuffledCities.map(
      (c, i) => [c, i < COUNTRIES.length ? COUNTRIES[i]! : pick(COUNTRIES)] as const,
    ),
  );
  return {
    seed,
    plannerRegisters,
    criticRegisters,
    plannerFunctions,
    criticFunctions,
    livesIn,
    worksFor,
    basedIn,
    cityCountry,
  };
}

/** (a·x + b) mod 10 */
export function applyDigitFunction(f: DigitFunction, x: number): number {
  return (f.a * x + f.b) % 10;
}
