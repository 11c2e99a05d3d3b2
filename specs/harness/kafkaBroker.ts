import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { ensureKafkaJars, KAFKA_VERSION, rmasCacheDir } from './kafkaJars.ts';

const execFileAsync = promisify(execFile);

const RUN_BROKER = fileURLToPath(new URL('../../scripts/kafka/run-broker.sh', import.meta.url));
// KafkaRaftServer logs this once the broker has joined its own quorum and serves clients.
const READY_LINE = 'Kafka Server started';
const KEPT_LOG_FILES = 20;

export interface KafkaBrokerOptions {
  /** Apache Kafka release, resolved from Maven Central on first use. Default: `KAFKA_VERSION`. */
  version?: string;
  /** Holds server.properties and data/. Default: a fresh temp folder, removed by `destroy()`. */
  workDir?: string;
  /** Broker log (JVM stdout+stderr, appended across restarts). Default: `<cache>/kafka-logs/<time>-<pid>-<random>.log`. */
  logFile?: string;
  /** Client port on 127.0.0.1. Default: a free port chosen at the first start, kept across restarts. */
  port?: number;
  /** KRaft controller port on 127.0.0.1. Default: a free port, kept across restarts. */
  controllerPort?: number;
  /** JVM maximum heap. Default 512 MiB. */
  heapMb?: number;
  /** server.properties entries added to (or overriding) the fast test defaults below. */
  properties?: Record<string, string | number | boolean>;
  /** Default 60 s. */
  startTimeoutMs?: number;
  /** Graceful-shutdown budget before SIGKILL. Default 20 s. */
  stopTimeoutMs?: number;
}

/** Single-node settings: everything replicated once, groups rebalance at once, few threads. */
const TEST_PROPERTIES: Record<string, string | number | boolean> = {
  'num.partitions': 1,
  'default.replication.factor': 1,
  'min.insync.replicas': 1,
  'offsets.topic.replication.factor': 1,
  'offsets.topic.num.partitions': 1,
  'transaction.state.log.replication.factor': 1,
  'transaction.state.log.min.isr': 1,
  'transaction.state.log.num.partitions': 1,
  'group.initial.rebalance.delay.ms': 0,
  // After a crash (SIGKILL) the restarted broker must wait for its old session to expire before it
  // can register again: 9 s by default. Short heartbeats keep a 4 s session safe under load.
  'broker.heartbeat.interval.ms': 500,
  'broker.session.timeout.ms': 4000,
  'auto.create.topics.enable': true,
  'num.network.threads': 2,
  'num.io.threads': 2,
  'background.threads': 2,
  'num.recovery.threads.per.data.dir': 1,
  // The log cleaner allocates this buffer up front (128 MiB by default).
  'log.cleaner.dedupe.buffer.size': 16 * 1024 * 1024,
};

const LOG4J_PROPERTIES = `log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.org.apache.kafka.clients=WARN
`;

/**
 * A real Apache Kafka broker (KRaft, combined broker+controller, one node) on 127.0.0.1, run from
 * jars resolved with Maven. `stop()` + `start()` (or `restart()`) keep the data and the ports, so
 * clients reconnect to the same address and find their topics and committed offsets again.
 * The JVM cannot outlive the Node process that started it (see scripts/kafka/run-broker.sh).
 *
 * @example
 * const broker = await KafkaBroker.start();
 * const kafka = new Kafka({ clientId: 'test', brokers: broker.brokers });
 * await broker.restart();   // same port, same topics
 * await broker.destroy();   // stop and delete its data
 */
export class KafkaBroker {
  readonly version: string;
  readonly logFile: string;
  private readonly options: KafkaBrokerOptions;
  private workDirPath: string | undefined;
  private readonly ownsWorkDir: boolean;
  private clientPort: number | undefined;
  private quorumPort: number | undefined;
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private stopping = false;
  private clusterIdValue: string | undefined;

  constructor(options: KafkaBrokerOptions = {}) {
    this.options = options;
    this.version = options.version ?? KAFKA_VERSION;
    this.workDirPath = options.workDir;
    this.ownsWorkDir = options.workDir === undefined;
    this.clientPort = options.port;
    this.quorumPort = options.controllerPort;
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    this.logFile =
      options.logFile ??
      join(
        rmasCacheDir(),
        'kafka-logs',
        `${stamp}-${process.pid}-${randomBytes(3).toString('hex')}.log`,
      );
  }

  /** Creates a broker and waits until it serves clients. */
  static async start(options: KafkaBrokerOptions = {}): Promise<KafkaBroker> {
    const broker = new KafkaBroker(options);
    try {
      await broker.start();
    } catch (error) {
      await broker.destroy();
      throw error;
    }
    return broker;
  }

  /** Bootstrap addresses for clients, e.g. `['127.0.0.1:40123']`. Stable across restarts. */
  get brokers(): string[] {
    if (this.clientPort === undefined) throw new Error('KafkaBroker: not started yet, no port');
    return [`127.0.0.1:${this.clientPort}`];
  }

  get port(): number | undefined {
    return this.clientPort;
  }

  /** The KRaft cluster id written at format time (what `admin.describeCluster()` reports). */
  get clusterId(): string | undefined {
    return this.clusterIdValue;
  }

  get workDir(): string | undefined {
    return this.workDirPath;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Starts the JVM (formatting the storage on the first start) and resolves once it serves clients. */
  async start(): Promise<void> {
    if (this.child) return;
    const libs = await ensureKafkaJars(this.version);
    const workDir = await this.prepareWorkDir();
    if (this.clientPort === undefined || this.quorumPort === undefined) {
      const [a, b] = await freePorts(2);
      this.clientPort ??= a;
      this.quorumPort ??= b;
    }
    const propertiesFile = join(workDir, 'server.properties');
    const log4jFile = join(workDir, 'log4j.properties');
    await writeFile(propertiesFile, this.serverProperties(join(workDir, 'data')));
    await writeFile(log4jFile, LOG4J_PROPERTIES);
    await mkdir(join(this.logFile, '..'), { recursive: true });
    if (!existsSync(this.logFile)) await pruneOldLogs(join(this.logFile, '..'));
    const log4jFlag = `-Dlog4j.configuration=file:${log4jFile}`;
    const classPath = join(libs, '*');

    await this.formatStorageOnce(workDir, classPath, log4jFlag, propertiesFile);

    const logFrom = existsSync(this.logFile) ? statSync(this.logFile).size : 0;
    const logFd = openSync(this.logFile, 'a');
    const heapMb = this.options.heapMb ?? 512;
    const child = spawn(
      RUN_BROKER,
      [
        'java',
        `-Xmx${heapMb}m`,
        '-Xms64m',
        // One core each for the broker and the tests on these 2-core machines: no parallel GC.
        '-XX:+UseSerialGC',
        '-Djava.awt.headless=true',
        '-Djava.net.preferIPv4Stack=true',
        log4jFlag,
        '-cp',
        classPath,
        'kafka.Kafka',
        propertiesFile,
      ],
      // Own process group, so stop() can always take down the wrapper and the JVM together.
      {
        cwd: workDir,
        detached: true,
        stdio: ['pipe', logFd, logFd],
        // Throw-away data is deleted by the wrapper if this process dies without destroy().
        env: this.ownsWorkDir ? { ...process.env, RMAS_BROKER_TEMP_DIR: workDir } : process.env,
      },
    );
    closeSync(logFd);
    this.child = child;
    this.stopping = false;
    // Neither the child nor our end of its stdin pipe keeps this process alive. However this
    // process ends (exit, signal, crash, SIGKILL) the pipe closes and the wrapper takes the JVM
    // down, so no exit hook is needed here.
    child.unref();
    (child.stdin as { unref?: () => void } | null)?.unref?.();
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        if (this.child === child) this.child = undefined;
        if (!this.stopping) {
          console.error(
            `Kafka broker ${this.brokers.join(',')} exited unexpectedly (code ${code}, signal ${signal}); log: ${this.logFile}`,
          );
        }
        resolve();
      });
      child.once('error', (error) => {
        console.error(`Kafka broker could not be spawned: ${error.message}; log: ${this.logFile}`);
        if (this.child === child) this.child = undefined;
        resolve();
      });
    });

    try {
      const deadline = Date.now() + (this.options.startTimeoutMs ?? 60_000);
      await this.waitUntilReady(logFrom, deadline);
      await this.waitForCoordinators(deadline);
    } catch (error) {
      await this.stop({ kill: true });
      throw error;
    }
  }

  /**
   * Stops the broker: SIGTERM (a clean shutdown, as a deployment would do) or, with `kill`, SIGKILL
   * (a crash). Resolves once the JVM has exited, so the port and the data are free again.
   */
  async stop(options: { kill?: boolean } = {}): Promise<void> {
    const child = this.child;
    const exited = this.exited;
    if (!child || !exited || child.pid === undefined) return;
    this.stopping = true;
    const pid = child.pid;
    if (options.kill) killGroup(pid, 'SIGKILL');
    else child.kill('SIGTERM');
    const timeoutMs = this.options.stopTimeoutMs ?? 20_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      exited.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      killGroup(pid, 'SIGKILL');
      await exited;
    }
    this.child = undefined;
  }

  /** `stop()` then `start()`: same ports, same data dir, same cluster id. */
  async restart(options: { kill?: boolean } = {}): Promise<void> {
    await this.stop(options);
    await this.start();
  }

  /** Stops the broker and deletes its work dir if this object created it. The log file stays. */
  async destroy(): Promise<void> {
    await this.stop();
    if (this.ownsWorkDir && this.workDirPath) {
      await rm(this.workDirPath, { recursive: true, force: true });
      this.workDirPath = undefined;
    }
  }

  private async prepareWorkDir(): Promise<string> {
    if (!this.workDirPath) this.workDirPath = await mkdtemp(join(tmpdir(), 'rmas-kafka-'));
    await mkdir(join(this.workDirPath, 'data'), { recursive: true });
    return this.workDirPath;
  }

  private serverProperties(dataDir: string): string {
    const entries: Record<string, string | number | boolean> = {
      'process.roles': 'broker,controller',
      'node.id': 1,
      'controller.quorum.voters': `1@127.0.0.1:${this.quorumPort}`,
      listeners: `PLAINTEXT://127.0.0.1:${this.clientPort},CONTROLLER://127.0.0.1:${this.quorumPort}`,
      'advertised.listeners': `PLAINTEXT://127.0.0.1:${this.clientPort}`,
      'controller.listener.names': 'CONTROLLER',
      'inter.broker.listener.name': 'PLAINTEXT',
      'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      'log.dirs': dataDir,
      ...TEST_PROPERTIES,
      ...this.options.properties,
    };
    return Object.entries(entries)
      .map(([key, value]) => `${key}=${value}`)
      .join('\n')
      .concat('\n');
  }

  private async formatStorageOnce(
    workDir: string,
    classPath: string,
    log4jFlag: string,
    propertiesFile: string,
  ): Promise<void> {
    const meta = join(workDir, 'data', 'meta.properties');
    if (existsSync(meta)) {
      this.clusterIdValue ??= /cluster\.id=(\S+)/.exec(await readFile(meta, 'utf8'))?.[1];
      return;
    }
    const clusterId = newClusterId();
    try {
      await execFileAsync('java', [
        '-Xmx256m',
        '-XX:+UseSerialGC',
        log4jFlag,
        '-cp',
        classPath,
        'kafka.tools.StorageTool',
        'format',
        '--cluster-id',
        clusterId,
        '--config',
        propertiesFile,
        '--ignore-formatted',
      ]);
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string; message: string };
      throw new Error(
        `Formatting Kafka storage in ${workDir} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`,
      );
    }
    this.clusterIdValue = clusterId;
  }

  private async waitUntilReady(logFrom: number, deadline: number): Promise<void> {
    const timeoutMs = this.options.startTimeoutMs ?? 60_000;
    for (;;) {
      const log = await readFile(this.logFile).catch(() => Buffer.alloc(0));
      if (log.subarray(logFrom).includes(READY_LINE)) return;
      if (!this.child) {
        throw new Error(
          `Kafka broker exited during start-up; log: ${this.logFile}\n${tail(log.subarray(logFrom))}`,
        );
      }
      if (Date.now() > deadline) {
        throw new Error(
          `Kafka broker not ready after ${timeoutMs} ms; log: ${this.logFile}\n${tail(log.subarray(logFrom))}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /**
   * Waits until the group and transaction coordinators serve requests. Right after a (re)start
   * the broker first creates (or reloads) __consumer_offsets and __transaction_state and answers
   * COORDINATOR_LOAD_IN_PROGRESS meanwhile. kafkajs treats that answer to a JoinGroup as a
   * consumer crash and restarts the consumer, which then re-delivers what it had not committed.
   * Each internal topic has a single partition here (see TEST_PROPERTIES), so one answered
   * DescribeGroups and one idempotent-producer start mean every group and producer is served.
   */
  private async waitForCoordinators(deadline: number): Promise<void> {
    const kafka = new Kafka({
      clientId: 'rmas-harness-warm-up',
      brokers: this.brokers,
      logLevel: logLevel.NOTHING,
      retry: { retries: 0 },
    });
    const admin = kafka.admin({ retry: { retries: 0 } });
    const producer = kafka.producer({
      idempotent: true, // kafkajs insists on retries for idempotence: one, the loop does the rest
      maxInFlightRequests: 1,
      retry: { retries: 1, initialRetryTime: 50 },
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    let groupsServed = false;
    let lastProblem = '';
    try {
      for (;;) {
        try {
          if (!groupsServed) {
            await admin.connect();
            await admin.describeGroups(['rmas-harness-warm-up']);
            groupsServed = true;
          }
          await producer.connect(); // InitProducerId: served by the transaction coordinator
          return;
        } catch (error) {
          lastProblem = error instanceof Error ? error.message : String(error);
        }
        if (!this.child) {
          throw new Error(`Kafka broker exited during start-up; log: ${this.logFile}`);
        }
        if (Date.now() > deadline) {
          throw new Error(
            `Kafka group coordinator not ready in time (${lastProblem}); log: ${this.logFile}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    } finally {
      await admin.disconnect();
      await producer.disconnect();
    }
  }
}

/** A KRaft cluster id: 16 random bytes, base64url without padding (Kafka's `Uuid.toString`). */
function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/** Ports the OS reports free right now; all held open together so they differ. */
async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', resolve);
      });
    }
    return servers.map((server) => {
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('no TCP address');
      return address.port;
    });
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

async function pruneOldLogs(dir: string): Promise<void> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.log'));
  names.sort();
  for (const name of names.slice(0, Math.max(0, names.length - KEPT_LOG_FILES))) {
    await rm(join(dir, name), { force: true });
  }
}

function tail(log: Buffer, lines = 40): string {
  return log.toString('utf8').split('\n').slice(-lines).join('\n');
}
