/**
 * Shared pieces of every benchmark: interleaved timing, medians, and the report writer that produces
 * bench/results/<name>.json and .md.
 *
 * @example
 * import { gflops, interleave, median, writeBenchReport } from './lib/index.ts';
 */
export {
  type BenchReport,
  type BenchReportInput,
  formatNumber,
  isMet,
  RESULTS_DIR,
  type Table,
  type Target,
  type TargetInput,
  writeBenchReport,
} from './report.ts';
export { type BenchSide, gflops, type InterleaveOptions, interleave, median } from './timing.ts';
