/**
 * Distributed mode: every agent of a topology runs as its own worker process, latent states travel
 * between agents on Kafka topics, and the recursion is a cycle of topics (feedback edges write to
 * the next round). A stage scales out by starting more workers in its consumer group.
 * See the README's "Kafka deployment" section for a worked example.
 *
 * @example
 * await initBackend();
 * const worker = await runWorker({ ir, agent: 'critic', brokers: '127.0.0.1:9092' });
 * // elsewhere:
 * const { answers } = await submitRequests({ ir, brokers: '127.0.0.1:9092', requests: [{ input: 'What is 12 * 7?' }] });
 */
export { DistributedError, type DistributedErrorCode } from './distributedError.ts';
export { GroupAcks } from './groupAcks.ts';
export {
  hopHeaders,
  type Inbound,
  latentRecord,
  readInbound,
  triggerRecord,
} from './hopRecords.ts';
export { distributedKafka } from './kafkaClient.ts';
export {
  type JoinGroup,
  type JoinOutcome,
  LatentJoin,
  type LatentJoinOptions,
} from './latentJoin.ts';
export {
  type AgentRoute,
  type EdgeKind,
  type Hop,
  type InputSlot,
  type RouteShape,
  topologyRoutes,
} from './routes.ts';
export {
  type SubmitRequestsOptions,
  type SubmitResult,
  type SubmittedRequest,
  submitRequests,
} from './submit.ts';
export { type DistributedTopics, defaultGroupId, distributedTopics } from './topics.ts';
export {
  answerUsageOf,
  mergeUsageRows,
  stageUsageRows,
  type UsageRow,
} from './usageRows.ts';
export {
  type DistributedWorker,
  type RunWorkerOptions,
  runWorker,
  type WorkerBatchEvent,
  type WorkerMetrics,
} from './worker.ts';
