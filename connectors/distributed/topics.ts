/**
 * The topics of a topology in distributed mode. With the default prefix `rmas`:
 *
 * | topic                           | records                                    | written by            | read by                        |
 * | ------------------------------- | ------------------------------------------ | --------------------- | ------------------------------ |
 * | `rmas.<topology>.requests`      | rmas.v1.Request, key = request id          | submitters            | the agents without round-1 inputs |
 * | `rmas.<topology>.<agent>.in`    | rmas.v1.LatentState (and round triggers)   | the agents feeding it | that agent's workers           |
 * | `rmas.<topology>.answers`       | rmas.v1.Answer, key = request id           | the decoder's workers | submitters                     |
 * | `rmas.<topology>.dead-letters`  | rmas.v1.ErrorRecord                        | every worker          | operators, submitters          |
 *
 * Every record is keyed by its request id, so all the hand-offs of one request to one agent land
 * in the same partition of its inbox, hence in the same worker of the agent's group (the join of a
 * fan-in needs that). Partitions of an inbox bound how many workers of that agent share the load.
 */
import type { TopologyIR } from '../../dsl/index.ts';
import { DistributedError } from './distributedError.ts';

/** Kafka's topic name grammar (and its 249-character limit). */
const TOPIC_PART = /^[A-Za-z0-9._-]+$/;

export interface DistributedTopics {
  /** Requests from submitters: `<prefix>.<topology>.requests`. */
  readonly requests: string;
  /** Answers from the decoder: `<prefix>.<topology>.answers`. */
  readonly answers: string;
  /** Dead letters from every worker: `<prefix>.<topology>.dead-letters`. */
  readonly deadLetters: string;
  /** Agent name -> its inbox, `<prefix>.<topology>.<agent>.in`. */
  readonly inboxes: Readonly<Record<string, string>>;
  /** Every topic above, to create before starting workers. */
  readonly all: readonly string[];
}

/**
 * The topic names of a topology. Throws `DistributedError('invalid_topic_name')` when the prefix,
 * the topology name or an agent name has characters Kafka does not allow in topic names.
 *
 * @example
 * distributedTopics(ir).inboxes['critic'] // 'rmas.sequential.critic.in'
 */
export function distributedTopics(ir: TopologyIR, prefix = 'rmas'): DistributedTopics {
  for (const [what, part] of [
    ['topic prefix', prefix],
    ['topology name', ir.name],
  ] as const) {
    if (!TOPIC_PART.test(part)) {
      throw new DistributedError(
        'invalid_topic_name',
        `${what} ${JSON.stringify(part)} cannot be part of a Kafka topic name (letters, digits, '.', '_', '-' only)`,
      );
    }
  }
  const base = `${prefix}.${ir.name}`;
  const inboxes = Object.fromEntries(ir.agents.map((a) => [a.name, `${base}.${a.name}.in`]));
  const topics = {
    requests: `${base}.requests`,
    answers: `${base}.answers`,
    deadLetters: `${base}.dead-letters`,
    inboxes,
  };
  const all = [topics.requests, ...Object.values(inboxes), topics.answers, topics.deadLetters];
  const tooLong = all.find((topic) => topic.length > 249);
  if (tooLong !== undefined) {
    throw new DistributedError(
      'invalid_topic_name',
      `topic ${tooLong.slice(0, 40)}… is ${tooLong.length} characters, over Kafka's 249`,
    );
  }
  return { ...topics, all };
}

/**
 * The default consumer group of an agent's workers: `<prefix>.<topology>.<agent>`.
 *
 * @example defaultGroupId(ir, 'critic') // 'rmas.sequential.critic'
 */
export function defaultGroupId(ir: TopologyIR, agent: string, prefix = 'rmas'): string {
  return `${prefix}.${ir.name}.${agent}`;
}
