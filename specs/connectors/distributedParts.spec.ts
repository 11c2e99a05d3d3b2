// Distributed mode's parts without a broker: who sends what to whom (routes, checked against
// hand-unrolled rounds), topic names, usage merging, the fan-in join, and the hand-off records
// with every way an inbound record can be refused.
import { describe, expect, it } from 'vitest';
import {
  answerUsageOf,
  distributedTopics,
  GroupAcks,
  hopHeaders,
  type InputSlot,
  LatentJoin,
  latentRecord,
  mergeUsageRows,
  readInbound,
  topologyRoutes,
  triggerRecord,
  type UsageRow,
} from '../../connectors/distributed/index.ts';
import type { OutputRecord, SourceMessage } from '../../connectors/index.ts';
import {
  encodeLatentState,
  topologyCatalog,
  WireError,
  type WireRequest,
} from '../../connectors/index.ts';
import { looseTopology, type TopologyIR } from '../../dsl/index.ts';

const model = { path: '/nowhere' };

function sequentialIR(): TopologyIR {
  return looseTopology('seq')
    .agent('planner', { model, hiddenSize: 4, prompt: '{{question}} {{feedback}}', latentSteps: 2 })
    .agent('critic', { model, hiddenSize: 4, prompt: '{{question}} {{latent:planner}}' })
    .agent('solver', { model, hiddenSize: 4, prompt: '{{question}} {{latent:critic}}' })
    .edge('planner', 'critic')
    .edge('critic', 'solver')
    .feedback('solver', 'planner')
    .rounds({ max: 3 })
    .decode('solver')
    .toIR();
}

function mixtureIR(): TopologyIR {
  return looseTopology('mix')
    .agent('math', { model, hiddenSize: 16, prompt: '{{question}} {{feedback}}', latentSteps: 1 })
    .agent('code', { model, hiddenSize: 8, prompt: '{{question}} {{feedback}}', latentSteps: 1 })
    .agent('summarizer', {
      model,
      hiddenSize: 24,
      prompt: '{{question}} {{latent:math}} {{latent:code}}',
      latentSteps: 1,
    })
    .edge('math', 'summarizer')
    .edge('code', 'summarizer')
    .feedback('summarizer', 'math')
    .feedback('summarizer', 'code')
    .rounds({ max: 2 })
    .decode('summarizer')
    .toIR();
}

const forward = (source: string): InputSlot => ({ kind: 'forward', source });
const feedback = (source: string): InputSlot => ({ kind: 'feedback', source });

describe('routes', () => {
  it('unroll the sequential pattern: a chain each round, the solver feeding the planner the next', () => {
    // order and last-round agents as buildPlan computes them for this IR, written out by hand
    const routes = topologyRoutes(sequentialIR(), {
      order: ['planner', 'critic', 'solver'],
      finalAgents: ['planner', 'critic'],
    });
    const planner = routes.get('planner')!;
    const critic = routes.get('critic')!;
    const solver = routes.get('solver')!;
    expect([planner.readsRequests, critic.readsRequests, solver.readsRequests]).toEqual([
      true,
      false,
      false,
    ]);
    expect(planner.inputsOf(1)).toEqual([]);
    expect(planner.inputsOf(2)).toEqual([feedback('solver')]);
    expect(critic.inputsOf(3)).toEqual([forward('planner')]);
    expect(solver.inputsOf(2)).toEqual([forward('critic')]);
    expect(planner.hopsAfter(1)).toEqual([
      { kind: 'latent', edge: 'forward', to: 'critic', round: 1 },
    ]);
    expect(solver.hopsAfter(1)).toEqual([
      { kind: 'latent', edge: 'feedback', to: 'planner', round: 2 },
    ]);
    expect(solver.hopsAfter(2)).toEqual([
      { kind: 'latent', edge: 'feedback', to: 'planner', round: 3 },
    ]);
    expect(solver.hopsAfter(3)).toEqual([{ kind: 'answer' }]);
    expect([solver.stageOf(2), solver.stageOf(3), critic.stageOf(3)]).toEqual([
      'latent',
      'decode',
      'latent',
    ]);
    expect([planner.runsIn(3), planner.runsIn(4), planner.runsIn(0)]).toEqual([true, false, false]);
  });

  it('unroll the mixture pattern: a fan-in each round, the summarizer feeding both specialists', () => {
    const routes = topologyRoutes(mixtureIR(), {
      order: ['math', 'code', 'summarizer'],
      finalAgents: ['math', 'code'],
    });
    const summarizer = routes.get('summarizer')!;
    expect(summarizer.inputsOf(1)).toEqual([forward('math'), forward('code')]);
    expect(summarizer.inputsOf(2)).toEqual([forward('math'), forward('code')]);
    expect(summarizer.hopsAfter(1)).toEqual([
      { kind: 'latent', edge: 'feedback', to: 'math', round: 2 },
      { kind: 'latent', edge: 'feedback', to: 'code', round: 2 },
    ]);
    expect(summarizer.hopsAfter(2)).toEqual([{ kind: 'answer' }]);
    expect(routes.get('code')!.inputsOf(2)).toEqual([feedback('summarizer')]);
    expect(routes.get('code')!.hopsAfter(2)).toEqual([
      { kind: 'latent', edge: 'forward', to: 'summarizer', round: 2 },
    ]);
  });

  it('start agents without inputs by a trigger, and skip agents the last round does not need', () => {
    // a -> c <- b, a -> d, c => a (feedback); c decodes after 2 rounds. b has no input in any
    // round (started by requests, then by a's trigger); d does not reach c, so it skips round 2.
    const ir = looseTopology('tri')
      .agent('a', { model, hiddenSize: 4, prompt: '{{question}} {{feedback}}' })
      .agent('b', { model, hiddenSize: 4, prompt: '{{question}}' })
      .agent('c', { model, hiddenSize: 4, prompt: '{{question}} {{latent:a}} {{latent:b}}' })
      .agent('d', { model, hiddenSize: 4, prompt: '{{question}} {{latent:a}}' })
      .edge('a', 'c')
      .edge('b', 'c')
      .edge('a', 'd')
      .feedback('c', 'a')
      .rounds({ max: 2 })
      .decode('c')
      .toIR();
    const routes = topologyRoutes(ir, { order: ['a', 'b', 'c', 'd'], finalAgents: ['a', 'b'] });
    expect(routes.get('b')!.readsRequests).toBe(true);
    expect(routes.get('b')!.inputsOf(2)).toEqual([]);
    expect(routes.get('a')!.hopsAfter(1)).toEqual([
      { kind: 'latent', edge: 'forward', to: 'c', round: 1 },
      { kind: 'latent', edge: 'forward', to: 'd', round: 1 },
      { kind: 'trigger', to: 'b', round: 2 },
    ]);
    expect(routes.get('a')!.hopsAfter(2)).toEqual([
      { kind: 'latent', edge: 'forward', to: 'c', round: 2 },
    ]);
    expect(routes.get('d')!.runsIn(2)).toBe(false);
    expect(routes.get('c')!.hopsAfter(1)).toEqual([
      { kind: 'latent', edge: 'feedback', to: 'a', round: 2 },
    ]);
  });
});

describe('topics', () => {
  it('name one inbox per agent under the prefix and topology name', () => {
    const topics = distributedTopics(mixtureIR(), 'acme');
    expect(topics.requests).toBe('acme.mix.requests');
    expect(topics.inboxes).toEqual({
      math: 'acme.mix.math.in',
      code: 'acme.mix.code.in',
      summarizer: 'acme.mix.summarizer.in',
    });
    expect(topics.all).toEqual([
      'acme.mix.requests',
      'acme.mix.math.in',
      'acme.mix.code.in',
      'acme.mix.summarizer.in',
      'acme.mix.answers',
      'acme.mix.dead-letters',
    ]);
  });

  it('refuse names Kafka cannot use', () => {
    const ir = { ...mixtureIR(), name: 'my topology' };
    expect(() => distributedTopics(ir)).toThrow(/topology name "my topology" cannot be part/);
    expect(() => distributedTopics(mixtureIR(), 'a/b')).toThrow(/topic prefix/);
  });
});

describe('usage rows', () => {
  const row = (by: string, byRound: number, agent: string, round: number, flops: number) => ({
    by,
    byRound,
    agent,
    round,
    promptTokens: 1,
    generatedTokens: 0,
    latentSteps: by === agent ? 1 : 0,
    flops,
    wallMs: 0,
  });

  it('count each stage once however many paths bring it, and sum per (agent, round)', () => {
    const viaMath: UsageRow[] = [row('math', 1, 'math', 1, 10), row('summarizer', 1, 'math', 1, 2)];
    const viaCode: UsageRow[] = [row('code', 1, 'code', 1, 7), row('summarizer', 1, 'math', 1, 2)];
    const merged = mergeUsageRows([viaMath, viaCode, [row('summarizer', 1, 'summarizer', 1, 5)]]);
    expect(merged).toHaveLength(4);
    // math r1: its own stage (10) + the transfer the summarizer computed (2), once.
    expect(answerUsageOf(merged, ['math', 'code', 'summarizer'])).toEqual([
      {
        agent: 'math',
        round: 1,
        promptTokens: 2,
        generatedTokens: 0,
        latentSteps: 1,
        flops: 12,
        wallMs: 0,
      },
      {
        agent: 'code',
        round: 1,
        promptTokens: 1,
        generatedTokens: 0,
        latentSteps: 1,
        flops: 7,
        wallMs: 0,
      },
      {
        agent: 'summarizer',
        round: 1,
        promptTokens: 1,
        generatedTokens: 0,
        latentSteps: 1,
        flops: 5,
        wallMs: 0,
      },
    ]);
  });

  it('order rows by round, then by execution order', () => {
    const rows = [row('b', 2, 'b', 2, 1), row('a', 2, 'a', 2, 1), row('b', 1, 'b', 1, 1)];
    expect(answerUsageOf(rows, ['a', 'b']).map((u) => `${u.agent}${u.round}`)).toEqual([
      'b1',
      'a2',
      'b2',
    ]);
  });
});

describe('the join', () => {
  const both = ['forward:math', 'forward:code'];

  it('hands out a group once every slot is filled, items in slot order', () => {
    const join = new LatentJoin<string>();
    expect(join.add('r1', 1, 'forward:code', both, 'c')).toEqual({ status: 'waiting' });
    expect(join.add('r2', 1, 'forward:math', both, 'm2')).toEqual({ status: 'waiting' });
    expect(join.size).toBe(2);
    const outcome = join.add('r1', 1, 'forward:math', both, 'm');
    expect(outcome.status).toBe('complete');
    expect(outcome.status === 'complete' && outcome.group.items).toEqual(['m', 'c']);
    expect(join.size).toBe(1);
    // A round is its own group: round 2 of r1 starts empty.
    expect(join.add('r1', 2, 'forward:math', both, 'm')).toEqual({ status: 'waiting' });
  });

  it('completes a round started by a request at once', () => {
    const outcome = new LatentJoin<string>().add('r1', 1, 'request', [], 'q');
    expect(outcome.status === 'complete' && outcome.group.items).toEqual(['q']);
  });

  it('treats a second live copy as a duplicate, and lets a redelivery replace a stale copy', () => {
    const stale = new Set<string>();
    const join = new LatentJoin<string>({ isLive: (item) => !stale.has(item) });
    join.add('r1', 1, 'forward:math', both, 'm#1');
    expect(join.add('r1', 1, 'forward:math', both, 'm#2')).toEqual({ status: 'duplicate' });
    stale.add('m#1');
    expect(join.add('r1', 1, 'forward:math', both, 'm#3')).toEqual({ status: 'waiting' });
    const outcome = join.add('r1', 1, 'forward:code', both, 'c');
    expect(outcome.status === 'complete' && outcome.group.items).toEqual(['m#3', 'c']);
  });

  it('drops stale items, emptied groups included', () => {
    const stale = new Set<string>();
    const join = new LatentJoin<string>({ isLive: (item) => !stale.has(item) });
    join.add('r1', 1, 'forward:math', both, 'a');
    join.add('r2', 1, 'forward:math', both, 'b');
    stale.add('a');
    expect(join.dropStale()).toEqual(['a']);
    expect(join.size).toBe(1);
  });

  it('remembers done groups (when asked) so late copies are duplicates', () => {
    const join = new LatentJoin<string>({ rememberDone: 2 });
    join.markDone('r1', 1);
    join.markDone('r2', 1);
    expect(join.add('r1', 1, 'forward:math', both, 'x')).toEqual({ status: 'duplicate' });
    join.markDone('r3', 1); // forgets r1
    expect(join.add('r1', 1, 'forward:math', both, 'x')).toEqual({ status: 'waiting' });
    expect(join.add('r2', 1, 'forward:math', both, 'x')).toEqual({ status: 'duplicate' });
  });

  it('evicts the oldest group and expires groups by first arrival', () => {
    let now = 1_000;
    const join = new LatentJoin<string>({ now: () => now });
    join.add('old', 1, 'forward:math', both, 'o');
    now = 1_500;
    join.add('new', 1, 'forward:math', both, 'n');
    join.add('old', 1, 'forward:math', both, 'o'); // a duplicate does not make it younger
    expect(join.evictOldest()).toEqual({
      requestId: 'old',
      round: 1,
      items: ['o'],
      firstSeenMs: 1_000,
    });
    now = 2_000;
    join.add('old', 1, 'forward:code', both, 'c'); // back, now the youngest
    now = 2_600; // new is 1,100 ms old, old 600 ms
    expect(join.expired(1_000).map((g) => g.requestId)).toEqual(['new']);
    expect(join.expired(1_000)).toEqual([]);
    expect(join.size).toBe(1);
  });
});

describe('group acknowledgements', () => {
  // Records of one partition; `acked` lists offsets in the order they were acknowledged.
  const partition = (offsets: number[], stale = new Set<number>()) => {
    const acked: number[] = [];
    const messages = new Map(
      offsets.map((offset) => [
        offset,
        {
          topic: 'in',
          partition: 0,
          offset: String(offset),
          key: null,
          value: null,
          headers: {},
          timestamp: '0',
          ack: () => acked.push(offset),
          isCurrent: () => !stale.has(offset),
        } satisfies SourceMessage,
      ]),
    );
    const acks = new GroupAcks();
    for (const message of messages.values()) acks.received(message);
    const done = (...group: number[]) => acks.done(group.map((o) => messages.get(o)!));
    return { acks, acked, done, messages };
  };

  it('release single records as soon as they are done, in any order', () => {
    const { acked, done, acks } = partition([1, 2, 3]);
    done(3);
    done(1);
    expect(acked).toEqual([3, 1]);
    expect(acks.held).toBe(1);
  });

  it('hold a group’s earlier input while a record between its inputs is unreleased', () => {
    const { acked, done } = partition([600, 650, 700]);
    done(600, 700); // 650 (another request) is still waiting
    expect(acked).toEqual([700]);
    done(650);
    expect(acked).toEqual([700, 650, 600]);
  });

  it('resolve overlapping groups from the highest offset down', () => {
    // A = {1, 3}, B = {2, 5}, 4 alone. Committing past 1 needs 3 released, which B's 2 blocks
    // until 5 and 4 are released.
    const { acked, done } = partition([1, 2, 3, 4, 5]);
    done(1, 3);
    expect(acked).toEqual([3]);
    done(2, 5);
    expect(acked).toEqual([3, 5]);
    done(4);
    expect(acked).toEqual([3, 5, 4, 2, 1]);
  });

  it('forget records made stale by a rewind, and block nothing on them', () => {
    const stale = new Set<number>();
    const { acked, done, acks, messages } = partition([10, 11, 12], stale);
    stale.add(11);
    done(10, 12);
    expect(acked).toEqual([12, 10]);
    // The partition is read again from 11: the stale copy is dropped.
    acks.received({ ...messages.get(11)!, isCurrent: () => true });
    expect(acks.held).toBe(1);
  });
});

describe('hand-off records', () => {
  const ir = mixtureIR();
  const routes = topologyRoutes(ir, {
    order: ['math', 'code', 'summarizer'],
    finalAgents: ['math', 'code'],
  });
  const served = { id: 'mix', version: 3 };
  const request: WireRequest = {
    requestId: 'r7',
    topologyId: 'mix',
    topologyVersion: 3,
    input: '2 + 2?',
    metadata: { team: 'qa' },
    deadlineUnixMs: 0,
  };
  const context = (agent: string) => ({
    agent,
    route: routes.get(agent)!,
    requestsTopic: 'rmas.mix.requests',
    served,
    catalog: topologyCatalog([
      {
        ...served,
        agents: {
          math: { hiddenSize: 16 },
          code: { hiddenSize: 8 },
          summarizer: { hiddenSize: 24 },
        },
      },
    ]),
    shapes: new Map<string, readonly [number, number]>([
      ['math', [1, 16]],
      ['code', [1, 8]],
      ['summarizer', [1, 24]],
    ]),
  });
  const usage: UsageRow[] = [
    {
      by: 'code',
      byRound: 1,
      agent: 'code',
      round: 1,
      promptTokens: 5,
      generatedTokens: 0,
      latentSteps: 1,
      flops: 99,
      wallMs: 1.5,
    },
  ];
  const codeValues = new Float32Array([1, -2.5, 0.25, 3e-8, -0, 7, 1e30, -1e-30]);

  const asRead = (record: OutputRecord, patch: Partial<SourceMessage> = {}): SourceMessage => ({
    topic: record.topic,
    partition: 0,
    offset: '0',
    key: Buffer.from(String(record.message.key)),
    value: record.message.value,
    headers: record.message.headers ?? {},
    timestamp: '0',
    ack: () => undefined,
    isCurrent: () => true,
    ...patch,
  });
  const fromCode = (patch: Partial<Parameters<typeof latentRecord>[0]> = {}) =>
    latentRecord({
      topic: 'rmas.mix.summarizer.in',
      served,
      request,
      from: 'code',
      to: 'summarizer',
      edge: 'forward',
      round: 1,
      shape: [1, 8],
      values: codeValues,
      usage,
      ...patch,
    });

  it('carry the latents bit for bit, the request and the usage', () => {
    const record = fromCode();
    expect(record.message.key).toBe('r7');
    expect(record.message.headers![hopHeaders.edge]).toBe('forward');
    const read = readInbound(asRead(record), context('summarizer'));
    expect(read).toEqual({
      kind: 'latent',
      request,
      round: 1,
      slot: { kind: 'forward', source: 'code' },
      values: codeValues,
      shape: [1, 8],
      usage,
    });
    expect(read.kind === 'latent' && Object.is(read.values[4], -0)).toBe(true);
  });

  it('deliver a feedback hand-off to the round after the one that produced it', () => {
    const record = latentRecord({
      topic: 'rmas.mix.math.in',
      served,
      request,
      from: 'summarizer',
      to: 'math',
      edge: 'feedback',
      round: 1,
      shape: [1, 24],
      values: new Float32Array(24).fill(0.5),
      usage: [],
    });
    const read = readInbound(asRead(record), context('math'));
    expect(read.kind === 'latent' && [read.round, read.slot]).toEqual([
      2,
      { kind: 'feedback', source: 'summarizer' },
    ]);
  });

  it('read round triggers and requests', () => {
    const trigger = triggerRecord({ topic: 'rmas.mix.math.in', request, round: 2 });
    // math has a feedback input in round 2, so nothing may start it by request then
    expect(() => readInbound(asRead(trigger), context('math'))).toThrow(WireError);
    const requests = { ...trigger, topic: 'rmas.mix.requests' };
    expect(readInbound(asRead(requests), context('math'))).toEqual({
      kind: 'request',
      request,
      round: 1,
      usage: [],
    });
  });

  const refusals: [string, () => SourceMessage, string, string][] = [
    [
      'bytes that are not protobuf',
      () => asRead(fromCode(), { value: Buffer.from([0xff, 0xff, 0xff]) }),
      'malformed_protobuf',
      '',
    ],
    [
      'another topology',
      () => asRead(fromCode({ served: { id: 'other', version: 3 } })),
      'unknown_topology',
      'topology_id',
    ],
    [
      'another version',
      () => asRead(fromCode({ served: { id: 'mix', version: 4 } })),
      'unknown_topology_version',
      'topology_version',
    ],
    [
      'another agent’s latents',
      () => asRead(fromCode({ to: 'math' })),
      'unknown_agent',
      'to_agent',
    ],
    [
      'a source the agent has no edge from',
      () => asRead(fromCode({ from: 'summarizer', shape: [1, 24], values: new Float32Array(24) })),
      'unknown_agent',
      'from_agent',
    ],
    ['a round past the last', () => asRead(fromCode({ round: 3 })), 'unknown_agent', 'from_agent'],
    [
      'too many latent steps',
      () => asRead(fromCode({ shape: [2, 8], values: new Float32Array(16) })),
      'shape_mismatch',
      'shape',
    ],
    [
      'the wrong hidden size',
      () => asRead(fromCode({ shape: [1, 4], values: new Float32Array(4) })),
      'hidden_size_mismatch',
      'shape[1]',
    ],
    [
      'a NaN',
      () => asRead(fromCode({ values: new Float32Array([1, 2, 3, Number.NaN, 5, 6, 7, 8]) })),
      'non_finite',
      'data[3]',
    ],
    [
      'no edge header',
      () => {
        const record = fromCode();
        const { [hopHeaders.edge]: _, ...headers } = record.message.headers!;
        return asRead(record, { headers });
      },
      'missing_field',
      'headers.rmas-edge',
    ],
    [
      'no request header',
      () => {
        const record = fromCode();
        const { [hopHeaders.request]: _, ...headers } = record.message.headers!;
        return asRead(record, { headers });
      },
      'missing_field',
      'headers.rmas-request',
    ],
    [
      'another request’s header',
      () => {
        const record = fromCode({ request: { ...request, requestId: 'r8' } });
        const state = encodeLatentState({
          requestId: 'r7',
          topologyId: 'mix',
          topologyVersion: 3,
          round: 1,
          fromAgent: 'code',
          toAgent: 'summarizer',
          shape: [1, 8],
          dtype: 'F32',
          data: new Uint8Array(32),
        });
        return asRead(record, { value: Buffer.from(state) });
      },
      'invalid_value',
      'headers.rmas-request.request_id',
    ],
    [
      'usage that is not JSON rows',
      () => {
        const record = fromCode();
        return asRead(record, {
          headers: { ...record.message.headers, [hopHeaders.usage]: '[{"agent":1}]' },
        });
      },
      'invalid_value',
      'headers.rmas-usage',
    ],
    [
      'a trigger for a round that needs inputs',
      () => asRead(triggerRecord({ topic: 'rmas.mix.summarizer.in', request, round: 2 })),
      'invalid_value',
      'headers.rmas-round',
    ],
  ];

  it.each(refusals)('refuse %s', (_, message, code, path) => {
    let error: unknown;
    try {
      readInbound(message(), context('summarizer'));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(WireError);
    expect([(error as WireError).code, (error as WireError).path]).toEqual([code, path]);
  });
});
