/**
 * `rmas topics`, `rmas worker` and `rmas submit`: distributed mode (connectors/distributed). Every
 * agent of a topology runs as its own worker process; latent states travel between agents on Kafka
 * topics; the recursion is a cycle of topics. A stage scales out by starting more workers of its
 * agent (they share the agent's consumer group). `topics` creates the topology's topics, `submit`
 * writes questions to its requests topic and prints the answers as `run` does.
 */
import type { TopologyIR } from '../../dsl/ir.ts';
import { loadConfig } from '../config.ts';
import { CliError, EXIT_CODES, type ExitCode } from '../errors.ts';
import type { Output } from '../output.ts';
import { readQuestions } from '../questions.ts';
import { answerTotals, printAnswers } from './run.ts';

export interface WorkerOptions {
  agent: string;
  brokers: string;
  group?: string;
  links?: string;
  seed?: number;
  batchSize?: number;
  exactlyOnce?: boolean;
  /** Exactly-once: this worker's stable slot among the agent's workers (default the host name). */
  instance?: string;
  topicPrefix?: string;
  /** Create the topology's topics first, with this many partitions each. */
  createTopics?: number;
  /**
   * Stop (drain, commit, exit 0) once the worker has read nothing and run no stage pass for this
   * long since it joined its group: a bounded run for scripts and tests. Default: serve until
   * SIGINT/SIGTERM.
   */
  idleExitMs?: number;
}

export interface TopicsOptions {
  brokers: string;
  /** Create the missing topics with this many partitions each. */
  create?: number;
  topicPrefix?: string;
}

export interface SubmitOptions {
  brokers: string;
  question?: string[];
  input?: string;
  wait?: boolean;
  timeoutMs?: number;
  topicPrefix?: string;
  createTopics?: number;
  usage?: boolean;
}

/** The Kafka client's own log (JSON lines on stderr) only with --verbose. */
async function kafkaLogs(verbose: boolean): Promise<{ logLevel: number }> {
  const { logLevel } = await import('kafkajs');
  return { logLevel: verbose ? logLevel.WARN : logLevel.NOTHING };
}

/**
 * Creates the topology's topics that do not exist yet (requests, every agent's inbox, answers,
 * dead letters). Returns their names.
 * @example await createTopologyTopics(ir, '127.0.0.1:9092', 'rmas', 3)
 */
export async function createTopologyTopics(
  ir: TopologyIR,
  brokers: string,
  prefix: string | undefined,
  partitions: number,
  verbose = false,
): Promise<readonly string[]> {
  const { distributedKafka, distributedTopics } = await import(
    '../../connectors/distributed/index.ts'
  );
  const topics = distributedTopics(ir, prefix);
  const admin = distributedKafka(brokers, 'rmas-admin', await kafkaLogs(verbose)).admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.all.filter((topic) => !existing.has(topic));
    if (missing.length > 0) {
      await admin.createTopics({
        topics: missing.map((topic) => ({ topic, numPartitions: partitions })),
        waitForLeaders: true,
      });
    }
  } finally {
    await admin.disconnect();
  }
  return topics.all;
}

/** One topic of a topology, as `rmas topics` reports it. */
export interface TopicStatus {
  topic: string;
  /** Its partitions; null when it does not exist. */
  partitions: number | null;
  /** Created by this call. */
  created: boolean;
}

/**
 * Lists the topology's topics with their partitions, creating the missing ones first when
 * `options.create` (their partition count) is given.
 * @example await topics('cli/examples/sequential.yaml', { brokers: '127.0.0.1:9092', create: 8 }, out);
 */
export async function topics(
  configFile: string,
  options: TopicsOptions,
  out: Output,
): Promise<ExitCode> {
  const ir = (await loadConfig(configFile)).resolvedIR;
  const { distributedKafka, distributedTopics } = await import(
    '../../connectors/distributed/index.ts'
  );
  const names = distributedTopics(ir, options.topicPrefix).all;
  const admin = distributedKafka(
    options.brokers,
    'rmas-admin',
    await kafkaLogs(out.verbose),
  ).admin();
  await admin.connect();
  let report: TopicStatus[];
  try {
    const existing = new Set(await admin.listTopics());
    const missing = names.filter((topic) => !existing.has(topic));
    if (options.create !== undefined && missing.length > 0) {
      await admin.createTopics({
        topics: missing.map((topic) => ({ topic, numPartitions: options.create! })),
        waitForLeaders: true,
      });
    }
    const created = new Set(options.create !== undefined ? missing : []);
    const present = names.filter((topic) => existing.has(topic) || created.has(topic));
    const metadata =
      present.length > 0 ? (await admin.fetchTopicMetadata({ topics: present })).topics : [];
    const partitions = new Map(metadata.map((t) => [t.name, t.partitions.length]));
    report = names.map((topic) => ({
      topic,
      partitions: partitions.get(topic) ?? null,
      created: created.has(topic),
    }));
  } finally {
    await admin.disconnect();
  }
  if (out.json) out.emit({ topology: ir.name, topics: report });
  else {
    const width = Math.max(...names.map((n) => n.length));
    for (const t of report) {
      const state =
        t.partitions === null
          ? 'missing'
          : `${t.partitions} partition${t.partitions === 1 ? '' : 's'}${t.created ? ', created' : ''}`;
      out.print(`${t.topic.padEnd(width)}  ${state}`);
    }
    if (report.some((t) => t.partitions === null)) {
      out.note(
        `rmas: create the missing topics with: rmas topics ${configFile} --create <partitions>`,
      );
    }
  }
  return EXIT_CODES.ok;
}

/**
 * Serves one agent until SIGINT or SIGTERM (or `idleExitMs` without work), then drains, commits
 * and stops.
 * @example await worker('cli/examples/sequential.yaml', { agent: 'planner', brokers: '127.0.0.1:9092' }, out);
 */
export async function worker(
  configFile: string,
  options: WorkerOptions,
  out: Output,
  signal?: AbortSignal,
): Promise<void> {
  const config = await loadConfig(configFile);
  const ir = config.resolvedIR;
  if (!ir.agents.some((a) => a.name === options.agent)) {
    throw new CliError('USAGE', `--agent ${options.agent}: no such agent in "${ir.name}"`, {
      hint: `pick one of: ${ir.agents.map((a) => a.name).join(', ')}`,
    });
  }
  const links = options.links ?? config.run.links;
  const seed = options.seed ?? config.run.seed;
  const batchSize = options.batchSize ?? config.run.maxBatchSize;
  if (options.createTopics !== undefined) {
    await createTopologyTopics(
      ir,
      options.brokers,
      options.topicPrefix,
      options.createTopics,
      out.verbose,
    );
  }
  const { runWorker } = await import('../../connectors/distributed/index.ts');
  const { initBackend } = await import('../../runtime/index.ts');
  await initBackend({ log: out.verbose ? (line) => out.debug(line) : false });
  const running = await runWorker({
    ir,
    agent: options.agent,
    brokers: options.brokers,
    guarantee: options.exactlyOnce ? 'exactly-once' : 'at-least-once',
    kafkaConfig: await kafkaLogs(out.verbose),
    links: links !== undefined ? { dir: links } : { seed: seed ?? 0 },
    ...(seed !== undefined ? { seed } : {}),
    ...(batchSize !== undefined ? { maxBatchSize: batchSize } : {}),
    ...(options.group !== undefined ? { groupId: options.group } : {}),
    ...(options.instance !== undefined ? { instance: options.instance } : {}),
    ...(options.topicPrefix !== undefined ? { topicPrefix: options.topicPrefix } : {}),
    onBatch: (event) =>
      out.debug(
        `rmas: ${options.agent} ${event.stage}: ${event.requestIds.length} request(s) in ${event.durationMs.toFixed(0)} ms`,
      ),
  });
  const stop = () => void running.stop();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  signal?.addEventListener('abort', stop, { once: true });
  let idleTimer: NodeJS.Timeout | undefined;
  try {
    await running.ready;
    out.note(
      `rmas: worker "${options.agent}" of "${ir.name}" is in group ${running.groupId}, reading ${running.topics.inboxes[options.agent]}` +
        ` (${options.exactlyOnce ? 'exactly-once' : 'at-least-once'}); ` +
        (options.idleExitMs !== undefined
          ? `it stops after ${options.idleExitMs} ms without work, or on Ctrl-C`
          : 'Ctrl-C stops it after the work in flight'),
    );
    if (options.idleExitMs !== undefined) {
      idleTimer = stopWhenIdle(running.metrics, options.idleExitMs, () => {
        out.note(`rmas: worker "${options.agent}": no work for ${options.idleExitMs} ms, stopping`);
        stop();
      });
    }
    if (out.json)
      out.emit({
        event: 'ready',
        agent: options.agent,
        groupId: running.groupId,
        topics: running.topics,
      });
    await running.done;
  } finally {
    clearInterval(idleTimer);
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  const m = running.metrics;
  if (out.json) out.emit({ event: 'stopped', agent: options.agent, metrics: m });
  else {
    out.note(
      `rmas: worker "${options.agent}" stopped: ${m.batches} batches, ${m.groups} requests, ${m.latentsSent} latents sent, ` +
        `${m.answers} answers (${m.errorAnswers} errors), ${m.duplicates} duplicates`,
    );
  }
}

/**
 * Calls `onIdle` once the worker's counters of messages read and stage passes have not moved for
 * `idleMs`. Returns the polling timer (clear it when the worker stops).
 */
function stopWhenIdle(
  metrics: { batches: number; source: { received: number } },
  idleMs: number,
  onIdle: () => void,
): NodeJS.Timeout {
  const activity = () => metrics.source.received + metrics.batches;
  let seen = activity();
  let since = performance.now();
  const timer = setInterval(
    () => {
      if (activity() !== seen) {
        seen = activity();
        since = performance.now();
      } else if (performance.now() - since >= idleMs) {
        clearInterval(timer);
        onIdle();
      }
    },
    Math.min(250, idleMs),
  );
  return timer;
}

/**
 * Sends questions to a running distributed topology and prints the answers; exit 1 when some
 * request has no answer in time, or an error answer, or a dead letter.
 * @example await submit('cli/examples/sequential.yaml', { brokers: '127.0.0.1:9092', question: ['2+2?'] }, out);
 */
export async function submit(
  configFile: string,
  options: SubmitOptions,
  out: Output,
): Promise<ExitCode> {
  const config = await loadConfig(configFile);
  const ir = config.resolvedIR;
  const questions = await readQuestions({
    ...(options.question !== undefined ? { questions: options.question } : {}),
    ...(options.input !== undefined ? { input: options.input } : {}),
  });
  if (options.createTopics !== undefined) {
    await createTopologyTopics(
      ir,
      options.brokers,
      options.topicPrefix,
      options.createTopics,
      out.verbose,
    );
  }
  const { submitRequests } = await import('../../connectors/distributed/index.ts');
  const wait = options.wait !== false;
  const bar = wait ? out.progress(questions.length, 'answers') : undefined;
  let received = 0;
  const started = performance.now();
  let result: Awaited<ReturnType<typeof submitRequests>>;
  try {
    result = await submitRequests({
      ir,
      brokers: options.brokers,
      // Sent as `<id>@<submission>` (workers skip ids they have seen), answered under `<id>`.
      requests: questions.map((q) => ({ requestId: q.id, input: q.text })),
      wait,
      kafkaConfig: await kafkaLogs(out.verbose),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.topicPrefix !== undefined ? { topicPrefix: options.topicPrefix } : {}),
      onAnswer: (answer) => bar?.update(++received, answer.requestId),
    });
  } finally {
    bar?.stop();
  }
  const wallMs = performance.now() - started;
  const order = new Map(questions.map((q, i) => [q.id, i]));
  const answers = [...result.answers].sort(
    (a, b) => order.get(a.requestId)! - order.get(b.requestId)!,
  );
  const failed = answers.filter((a) => a.error !== undefined).length;
  const deadLetters = result.deadLetters.map(({ original: _original, ...record }) => record);
  const { missing } = result;
  if (out.json) {
    out.emit({
      topology: ir.name,
      submission: result.submission,
      topics: result.topics,
      answers: answers.map((a) => ({ ...a, totals: answerTotals(a) })),
      deadLetters,
      missing,
      duplicateAnswers: result.duplicateAnswers,
      summary: { questions: questions.length, answered: answers.length, failed, wallMs },
    });
  } else if (!wait) {
    out.print(
      `${questions.length} request(s) written to ${result.topics.requests}, as <id>@${result.submission}`,
    );
  } else {
    printAnswers(answers, questions, out, options.usage === true);
    for (const d of deadLetters) {
      out.print(
        `${d.requestId}: dead letter [${d.code}]${d.path ? ` at ${d.path}` : ''}: ${d.message}`,
      );
    }
    out.print(
      `\n${answers.length}/${questions.length} answered${failed > 0 ? `, ${failed} with errors` : ''}` +
        `${missing.length > 0 ? `, ${missing.length} missing (${missing.slice(0, 5).join(', ')})` : ''}` +
        ` in ${(wallMs / 1000).toFixed(1)} s`,
    );
  }
  if (wait && missing.length > 0) {
    out.note(
      `rmas: no answer in time for ${missing.length} request(s): are workers running for every agent of "${ir.name}"? ` +
        `(rmas worker ${configFile} --agent <name>; raise --timeout-ms for long jobs)`,
    );
  }
  const bad = failed > 0 || deadLetters.length > 0 || (wait && missing.length > 0);
  return bad ? EXIT_CODES.failure : EXIT_CODES.ok;
}
