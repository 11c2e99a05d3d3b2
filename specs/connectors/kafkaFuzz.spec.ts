// Fuzz on the real broker: whatever bytes arrive, each input ends as exactly one answer or exactly
// one dead letter carrying its original bytes. Nothing is lost, nothing stops the pipeline.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { wireRequestArbitrary } from '../../arbitraries/index.ts';
import {
  decodeAnswer,
  decodeErrorRecord,
  encodeRequest,
  kafkaPipeline,
} from '../../connectors/index.ts';
import {
  createTestTopics,
  echoAnswer,
  echoCatalog,
  pipelineTopics,
  readTopic,
  useKafkaSession,
  waitUntil,
} from './kafkaTestKit.ts';

/** One fuzz input: its bytes, and whether it was built to be valid (then it must be answered). */
interface FuzzInput {
  value: Buffer | null;
  mustAnswer: boolean;
}

const validRequest = wireRequestArbitrary().map((r) => ({
  ...r,
  topologyId: 'echo',
  topologyVersion: 1,
}));

function arbInput(index: number): fc.Arbitrary<FuzzInput> {
  const withId = validRequest.map((r) => ({ ...r, requestId: `valid-${index}` }));
  return fc.oneof(
    withId.map((r) => ({ value: Buffer.from(encodeRequest(r)), mustAnswer: true })),
    // Random bytes: mostly malformed, sometimes a (semantically wrong) message.
    fc
      .uint8Array({ maxLength: 48 })
      .map((bytes) => ({ value: Buffer.from(bytes), mustAnswer: false })),
    // A valid encoding with one byte changed, truncated, or with garbage appended.
    fc
      .tuple(
        withId,
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        fc.constantFrom('flip', 'cut', 'append'),
      )
      .map(([r, at, byte, how]) => {
        const bytes = Buffer.from(encodeRequest(r));
        const i = at % bytes.length;
        if (how === 'flip') bytes[i] = byte;
        const value =
          how === 'cut'
            ? bytes.subarray(0, i)
            : how === 'append'
              ? Buffer.concat([bytes, Buffer.from([byte, byte])])
              : bytes;
        return { value, mustAnswer: false };
      }),
    // Well-formed but wrong: unknown topology or version, or far too large.
    validRequest.map((r) => ({
      value: Buffer.from(encodeRequest({ ...r, topologyId: 'nope' })),
      mustAnswer: false,
    })),
    validRequest.map((r) => ({
      value: Buffer.from(encodeRequest({ ...r, topologyVersion: 2 })),
      mustAnswer: false,
    })),
    validRequest.map((r) => ({
      value: Buffer.from(encodeRequest({ ...r, input: 'x'.repeat(5_000) })),
      mustAnswer: false,
    })),
    fc.constant({ value: null, mustAnswer: false }),
  );
}

const session = useKafkaSession('connectors-fuzz-spec');

describe('kafkaPipeline fuzz', () => {
  it('ends every input as one answer or one dead letter with its original bytes', async () => {
    const seed = 81_051;
    const count = 300;
    console.log(`kafka fuzz seed ${seed}, ${count} inputs`);
    const inputsArb = fc.tuple(...Array.from({ length: count }, (_, i) => arbInput(i)));
    await fc.assert(
      fc.asyncProperty(inputsArb, async (inputs) => {
        const topics = await createTestTopics(session.admin, 'fuzz', 2);
        const consumer = session.kafka.consumer({ groupId: topics.group, maxWaitTimeInMs: 100 });
        const producer = session.kafka.producer();
        await Promise.all([consumer.connect(), producer.connect()]);
        try {
          await producer.send({
            topic: topics.input,
            messages: inputs.map((input, i) => ({ key: `input-${i}`, value: input.value })),
          });
          const pipeline = kafkaPipeline({
            consumer,
            producer,
            ...pipelineTopics(topics),
            maxBatchSize: 16,
            wire: { catalog: echoCatalog, maxMessageBytes: 4_096 },
            process: async (requests) => requests.map(echoAnswer),
          });
          const running = pipeline.run();
          await waitUntil('every input committed', () => session.allCommitted(topics));
          await pipeline.stop();
          await running;

          const read = await readTopic(session.kafka, topics.input, { readCommitted: true });
          const answers = await readTopic(session.kafka, topics.output, { readCommitted: true });
          const letters = await readTopic(session.kafka, topics.deadLetters, {
            readCommitted: true,
          });
          // Every input is accounted for exactly once.
          expect(answers.length + letters.length).toBe(count);
          const lettered = new Set<string>();
          for (const letter of letters) {
            const record = decodeErrorRecord(letter.message.value!);
            const where = `${record.sourcePartition}/${record.sourceOffset}`;
            expect(lettered.has(where), `two dead letters for ${where}`).toBe(false);
            lettered.add(where);
            const source = read.find(
              (r) => `${r.partition}/${r.offset}` === where && record.sourceTopic === topics.input,
            );
            expect(source, where).toBeDefined();
            const index = Number(source!.message.key!.toString().slice('input-'.length));
            expect(inputs[index]!.mustAnswer, `valid input ${index} was dead-lettered`).toBe(false);
            expect([...record.original]).toEqual([...(inputs[index]!.value ?? [])]);
            expect(record.code).not.toBe('');
            expect(record.message).not.toBe('');
          }
          const answeredIds = new Set(answers.map((a) => decodeAnswer(a.message.value!).requestId));
          inputs.forEach((input, i) => {
            if (input.mustAnswer) expect(answeredIds.has(`valid-${i}`), `valid-${i}`).toBe(true);
          });
          console.log(`fuzz: ${answers.length} answered, ${letters.length} dead letters`, {
            ...pipeline.metrics.deadLettersByCode,
          });
        } finally {
          await Promise.allSettled([consumer.disconnect(), producer.disconnect()]);
        }
      }),
      // One run against the broker; no shrinking (each step would need the broker again).
      { seed, numRuns: 1, endOnFailure: true },
    );
  });
});
