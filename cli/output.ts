/**
 * Where a command's output goes: human text or one JSON document on stdout (`--json`), notes and
 * progress bars on stderr. Progress bars draw only on a terminal and never with `--json`, so pipes,
 * CI logs and machine output stay clean.
 */
import cliProgress from 'cli-progress';

export interface OutputOptions {
  json: boolean;
  verbose: boolean;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WriteStream | NodeJS.WritableStream;
}

export interface Progress {
  /** Moves to `done` of total; `detail` is shown after the counter (e.g. 'q3 · 2 rounds'). */
  update(done: number, detail?: string): void;
  /** Adds to the total (when more work is discovered). */
  setTotal(total: number): void;
  stop(): void;
  readonly visible: boolean;
}

export interface Output {
  readonly json: boolean;
  readonly verbose: boolean;
  /** Human output (stdout); nothing with `--json`. */
  print(text: string): void;
  /** The machine output (stdout, one JSON document per call); nothing without `--json`. */
  emit(value: unknown): void;
  /** A note for the user (stderr); nothing with `--json`. */
  note(text: string): void;
  /** Details for `--verbose` (stderr). */
  debug(text: string): void;
  /** A progress bar with ETA on stderr, when stderr is a terminal and not `--json`. */
  progress(total: number, label: string): Progress;
}

/**
 * @example
 * const out = createOutput({ json: false, verbose: false });
 * const bar = out.progress(10, 'questions');
 * bar.update(1, 'q1'); bar.stop();
 * out.print('done');
 */
export function createOutput(options: OutputOptions): Output {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const isTTY = (stderr as NodeJS.WriteStream).isTTY === true;
  return {
    json: options.json,
    verbose: options.verbose,
    print(text) {
      if (!options.json) stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    },
    emit(value) {
      if (options.json) stdout.write(`${JSON.stringify(value)}\n`);
    },
    note(text) {
      if (!options.json) stderr.write(`${text}\n`);
    },
    debug(text) {
      if (options.verbose) stderr.write(`${text}\n`);
    },
    progress(total, label) {
      if (options.json || !isTTY) return silentProgress;
      return terminalProgress(total, label, stderr as NodeJS.WriteStream);
    },
  };
}

const silentProgress: Progress = { update() {}, setTotal() {}, stop() {}, visible: false };

function terminalProgress(total: number, label: string, stream: NodeJS.WriteStream): Progress {
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: `${label} {bar} {value}/{total} | {detail} | ETA {eta_formatted}`,
      hideCursor: true,
      etaBuffer: 20,
      clearOnComplete: false,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { detail: '' });
  let stopped = false;
  return {
    visible: true,
    update(done, detail = '') {
      bar.update(done, { detail });
    },
    setTotal(next) {
      bar.setTotal(next);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}
