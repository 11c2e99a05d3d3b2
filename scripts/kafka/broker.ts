// A real Apache Kafka broker on 127.0.0.1 for development, the same one the test suite runs.
//
//   npx tsx scripts/kafka/broker.ts            start one on a free port, Ctrl-C stops it
//   npx tsx scripts/kafka/broker.ts 9092       start one on port 9092
//   npx tsx scripts/kafka/broker.ts --fetch    only resolve the jars into the cache (warm a CI cache)
//
// Point the tests at it with KAFKA_BROKERS=127.0.0.1:<port> npx vitest run specs/connectors
import { KafkaBroker } from '../../specs/harness/kafkaBroker.ts';
import { ensureKafkaJars, KAFKA_VERSION } from '../../specs/harness/kafkaJars.ts';

const argument = process.argv[2];
if (argument === '--fetch') {
  const begin = Date.now();
  const libs = await ensureKafkaJars(KAFKA_VERSION);
  console.log(`Apache Kafka ${KAFKA_VERSION} jars in ${libs} (${Date.now() - begin} ms)`);
} else {
  const port = argument === undefined ? undefined : Number(argument);
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
    console.error(`Not a port: ${argument}`);
    process.exit(2);
  }
  const begin = Date.now();
  const broker = await KafkaBroker.start(port === undefined ? {} : { port });
  console.log(
    `Apache Kafka ${broker.version} at ${broker.brokers.join(',')} ready in ${Date.now() - begin} ms` +
      `\nlog: ${broker.logFile}\ndata: ${broker.workDir}\nCtrl-C stops it and deletes its data.`,
  );
  // The broker does not keep this process alive by itself (see KafkaBroker.start).
  const keepAlive = setInterval(() => {}, 60_000);
  const shutdown = async (): Promise<void> => {
    clearInterval(keepAlive);
    await broker.destroy();
    process.exit(0);
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}
