/**
 * A one-line progress bar for training runs (cli-progress): step, loss, samples/s and ETA, on
 * stderr. Silent when stderr is not a terminal (CI, pipes, tests) or when asked to be.
 */
import cliProgress from 'cli-progress';

export interface ProgressOptions {
  /** Never draw. Default: draw only when the stream is a TTY. */
  quiet?: boolean;
  /** Default process.stderr. */
  stream?: NodeJS.WriteStream;
  /** Shown before the bar (e.g. 'outer'). */
  label?: string;
}

export interface ProgressBar {
  /** Moves to `step` (optimizer steps done) with the latest loss and throughput. */
  update(step: number, values: { loss: number; samplesPerSecond: number }): void;
  stop(): void;
  /** Whether anything is drawn. */
  readonly visible: boolean;
}

/**
 * @example
 * const bar = progressBar(100, { label: 'inner' });
 * bar.update(1, { loss: 0.93, samplesPerSecond: 12.5 });
 * bar.stop();
 */
export function progressBar(total: number, options: ProgressOptions = {}): ProgressBar {
  const stream = options.stream ?? process.stderr;
  if (options.quiet || !stream.isTTY) {
    return { update() {}, stop() {}, visible: false };
  }
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: `${options.label ? `${options.label} ` : ''}{bar} {value}/{total} | loss {loss} | {speed} samples/s | ETA {eta_formatted}`,
      hideCursor: true,
      etaBuffer: 20,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { loss: '-', speed: '-' });
  return {
    visible: true,
    update(step, { loss, samplesPerSecond }) {
      bar.update(step, { loss: loss.toFixed(4), speed: samplesPerSecond.toFixed(1) });
    },
    stop() {
      bar.stop();
    },
  };
}
