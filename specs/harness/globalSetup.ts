import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestProject } from 'vitest/node';
import { KafkaBroker } from './kafkaBroker.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `http://127.0.0.1:<port>`: ask it for the shared broker (see specs/harness/kafka.ts). */
    kafkaHarnessUrl: string;
  }
}

/**
 * One Kafka broker for the whole run, started only if a test asks for it.
 *
 * Why lazily, on request: most runs (`npx vitest run specs/models`, ...) contain no Kafka test and
 * must not pay for a JVM. Guessing from the CLI filters which files will run would duplicate
 * vitest's file matching and break with `-t`, workspaces or editor integrations; starting the
 * broker in the background would still cost a core on these 2-core machines. So this setup only
 * opens a tiny HTTP endpoint on 127.0.0.1 (≈ 1 ms) and hands its URL to the test files; the first
 * `kafkaBrokers()` call in any worker makes this process start the broker (once, shared by all
 * workers) and every caller gets the same address. A failed start is remembered and reported to
 * every asker, so Kafka specs fail fast with the broker log's path instead of retrying for minutes.
 *
 * With `KAFKA_BROKERS` set, nothing is started: the test files read that variable directly.
 * Teardown stops the broker if one was started; if this process dies instead, the broker's
 * wrapper script notices and takes the JVM down (scripts/kafka/run-broker.sh).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.env['KAFKA_BROKERS']) {
    project.provide('kafkaHarnessUrl', '');
    return async () => {};
  }

  let broker: KafkaBroker | undefined;
  let started: Promise<string[]> | undefined;
  const sharedBroker = (): Promise<string[]> => {
    started ??= (async () => {
      const begin = Date.now();
      broker = new KafkaBroker();
      await broker.start();
      console.log(
        `[kafka] Apache Kafka ${broker.version} ready at ${broker.brokers.join(',')} in ` +
          `${Date.now() - begin} ms (log: ${broker.logFile})`,
      );
      return broker.brokers;
    })();
    return started;
  };

  const server = createServer((request, response) => {
    if (request.url !== '/brokers') {
      response.writeHead(404).end();
      return;
    }
    sharedBroker().then(
      (brokers) => {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ brokers }));
      },
      (error: unknown) => {
        response.writeHead(500, { 'content-type': 'application/json' });
        response.end(
          JSON.stringify({ error: String(error instanceof Error ? error.message : error) }),
        );
      },
    );
  });
  // A cold start resolves jars with Maven: no request timeout on our side.
  server.requestTimeout = 0;
  server.headersTimeout = 0;
  await listen(server);
  const { port } = server.address() as AddressInfo;
  project.provide('kafkaHarnessUrl', `http://127.0.0.1:${port}`);

  return async () => {
    const closed = new Promise((resolve) => server.close(resolve));
    server.closeAllConnections();
    await closed;
    if (started) await started.catch(() => undefined);
    await broker?.destroy();
  };
}

function listen(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
}
