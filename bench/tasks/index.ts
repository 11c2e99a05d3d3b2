/**
 * bench/tasks/: the benchmark's synthetic task families (math, code and search analogues) in which
 * no single agent can answer alone, their fixed-seed splits and the JSONL format they are stored
 * in (bench/tasks/README.md).
 *
 * @example
 * import { buildTaskSplits, isCorrect, readTaskFile } from './bench/tasks/index.ts';
 * const { test } = buildTaskSplits();                  // in memory, the shipped seed
 * const mine = readTaskFile('my.jsonl');               // { question, answer } per line
 * isCorrect('8 * 5 = 0', '0');                         // true
 */
export { arith } from './arith.ts';
export { code } from './code.ts';
export { DIGIT_OPS, digitOp, type TaskFamily, type TaskInstance } from './family.ts';
export {
  extractAnswer,
  isCorrect,
  type KnowledgeRecord,
  type PatternName,
  parseTaskJsonl,
  parseTaskRecord,
  readTaskFile,
  SPLITS,
  type Split,
  TaskFormatError,
  type TaskRecord,
  toJsonl,
} from './format.ts';
export { TASK_DATA_DIR } from './generate.ts';
export { SEARCH_TYPES, search } from './search.ts';
export {
  buildTaskSplits,
  DEFAULT_SPLIT_SIZES,
  FAMILIES,
  HELD_OUT_FRACTION,
  heldOutCompositions,
  type SplitSizes,
  type TaskSplits,
} from './splits.ts';
export {
  applyDigitFunction,
  type DigitFunction,
  makeWorld,
  WORLD_SEED,
  type World,
} from './world.ts';
