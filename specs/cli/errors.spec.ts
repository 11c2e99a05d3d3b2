import { describe, expect, it } from 'vitest';
import { CliError, describeError, EXIT_CODES } from '../../cli/errors.ts';
import { DistributedError } from '../../connectors/distributed/distributedError.ts';
import { KafkaConnectorError } from '../../connectors/kafka/kafkaConnectorError.ts';
import { WireError } from '../../connectors/wire/wireError.ts';
import { TopologyError } from '../../dsl/index.ts';
import { ModelError } from '../../models/errors.ts';
import { ToolError } from '../../operators/tools/toolError.ts';
import { UnknownBackendError } from '../../runtime/backend/errors.ts';
import { RuntimeError } from '../../runtime/errors.ts';
import { TrainError } from '../../train/errors.ts';

const quiet = { verbose: false };

describe('describeError', () => {
  it('says file and field of a model error, what to do, and exits 2', () => {
    const error = new ModelError('MISSING_FILE', 'file does not exist', {
      file: '/models/qwen/tokenizer.json',
    });
    const d = describeError(error, quiet);
    expect(d.exitCode).toBe(EXIT_CODES.usage);
    expect(d.text).toContain('/models/qwen/tokenizer.json');
    expect(d.text).toContain('→ a model folder needs config.json');
    expect(d.text).not.toContain('    at ');
    expect(d.json.code).toBe('MISSING_FILE');
  });

  it('lists the issues of a topology error with their paths', () => {
    const error = new TopologyError([
      { code: 'unknown-agent', path: ['edges', 1, 'to'], message: 'no agent is named "c"' },
    ]);
    const d = describeError(error, quiet);
    expect(d.exitCode).toBe(2);
    expect(d.text).toContain('edges[1].to: no agent is named "c"');
    expect(d.text).toContain('rmas inspect');
  });

  it('maps runtime codes to the config field to change', () => {
    const d = describeError(
      new RuntimeError(
        'AGENT_MISMATCH',
        'agent "solver" declares hidden size 96, but its model has 192',
      ),
      quiet,
    );
    expect(d.exitCode).toBe(2);
    expect(d.text).toContain('hiddenSize');
    const failed = describeError(new RuntimeError('WORKER_FAILED', 'worker exited'), quiet);
    expect(failed.exitCode).toBe(EXIT_CODES.failure);
  });

  it('tells a retriable broker failure from a fenced producer', () => {
    const retriable = describeError(new KafkaConnectorError('send_failed', 'timeout', true), quiet);
    expect(retriable.text).toContain('KAFKA_BROKERS');
    const fenced = describeError(
      new KafkaConnectorError('producer_fenced', 'fenced', false),
      quiet,
    );
    expect(fenced.text).toContain('transactional id');
    expect(fenced.exitCode).toBe(1);
  });

  it('names the message type and field path of a wire error', () => {
    const d = describeError(
      new WireError(
        'shape_mismatch',
        'product 6 != data length 4',
        'shape[1]',
        'rmas.v1.LatentState',
      ),
      quiet,
    );
    expect(d.text).toContain('rmas.v1.LatentState at shape[1] [shape_mismatch]');
  });

  it('covers tool, train and backend errors', () => {
    expect(describeError(new ToolError('TOOL_TIMEOUT', 'ran 1000 ms'), quiet).text).toContain(
      'a tool failed [TOOL_TIMEOUT]',
    );
    expect(describeError(new TrainError('NON_FINITE_LOSS', 'loss is NaN'), quiet).text).toContain(
      '--lr',
    );
    const backend = describeError(new UnknownBackendError('gpu', 'RMAS_BACKEND'), quiet);
    expect(backend.text).toContain('RMAS_BACKEND=wasm');
    expect(backend.exitCode).toBe(2);
  });

  it('says what to check when the broker cannot be reached or distributed mode is misconfigured', () => {
    const refused = Object.assign(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:1'), {
      name: 'KafkaJSConnectionError',
    });
    const d = describeError(refused, quiet);
    expect(d.exitCode).toBe(1);
    expect(d.text).toContain('--brokers (or KAFKA_BROKERS)');
    const misconfigured = describeError(
      new DistributedError(
        'invalid_topic_name',
        'topology name "a b" cannot be part of a Kafka topic name',
      ),
      quiet,
    );
    expect(misconfigured.exitCode).toBe(2);
    expect(misconfigured.text).toContain('--topic-prefix');
  });

  it('says which file a system error is about', () => {
    const error = Object.assign(new Error("ENOENT: no such file or directory, open 'x.jsonl'"), {
      code: 'ENOENT',
      path: 'x.jsonl',
    });
    const d = describeError(error, quiet);
    expect(d.text).toContain('no such file or folder: x.jsonl');
    expect(d.exitCode).toBe(2);
  });

  it('prints the stack and the causes only with --verbose', () => {
    const cause = new Error('inner cause');
    const error = new CliError('FAILED', 'outer', { cause, hint: 'do this' });
    const quietText = describeError(error, quiet).text;
    expect(quietText).toBe('rmas: outer\n  → do this');
    const verbose = describeError(error, { verbose: true }).text;
    expect(verbose).toContain('CliError: outer\n    at ');
    expect(verbose).toContain('caused by: Error: inner cause');
  });

  it('suggests --verbose for an unexpected error', () => {
    const d = describeError(new TypeError('x is undefined'), quiet);
    expect(d.exitCode).toBe(1);
    expect(d.text).toContain('rerun with --verbose');
  });
});
