/**
 * `rmas worker` and `rmas submit`: the distributed mode of issue 8, where every agent of a
 * topology runs as its own worker process and latent states travel between them on Kafka topics.
 * The options are parsed and checked here; the engine (connectors' distributed mode) is not in
 * this build yet, so both commands end with an actionable message and exit code 3.
 */
import { loadConfig } from '../config.ts';
import { CliError } from '../errors.ts';
import type { Output } from '../output.ts';

export interface WorkerOptions {
  agent: string;
  brokers: string;
  group?: string;
  links?: string;
  exactlyOnce?: boolean;
}

export interface SubmitOptions {
  brokers: string;
  question?: string[];
  input?: string;
  wait?: boolean;
  timeoutMs?: number;
}

const NOT_YET =
  'distributed mode (one worker process per agent over Kafka) is not in this build yet';

/**
 * Checks a worker's options against its topology, then reports that the engine is missing.
 * @example await worker('cli/examples/sequential.yaml', { agent: 'planner', brokers: '127.0.0.1:9092' }, out);
 */
export async function worker(
  configFile: string,
  options: WorkerOptions,
  out: Output,
): Promise<never> {
  const { ir } = await loadConfig(configFile);
  if (!ir.agents.some((a) => a.name === options.agent)) {
    throw new CliError('USAGE', `--agent ${options.agent}: no such agent in "${ir.name}"`, {
      hint: `pick one of: ${ir.agents.map((a) => a.name).join(', ')}`,
    });
  }
  out.debug(`rmas: worker for ${options.agent} of ${ir.name} on ${options.brokers}`);
  throw new CliError('UNAVAILABLE', NOT_YET, {
    hint: `run the whole topology in one process meanwhile: rmas run ${configFile} --input questions.jsonl`,
  });
}

/**
 * Checks a submission's options, then reports that the engine is missing.
 * @example await submit('cli/examples/sequential.yaml', { brokers: '127.0.0.1:9092', question: ['2+2?'] }, out);
 */
export async function submit(
  configFile: string,
  options: SubmitOptions,
  out: Output,
): Promise<never> {
  const { ir } = await loadConfig(configFile);
  out.debug(`rmas: submit to ${ir.name} on ${options.brokers}`);
  throw new CliError('UNAVAILABLE', NOT_YET, {
    hint: `answer the questions in one process meanwhile: rmas run ${configFile} ${
      options.input !== undefined ? `--input ${options.input}` : '--question "…"'
    }`,
  });
}
