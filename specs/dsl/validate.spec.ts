import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { topologyArbitrary } from '../../dsl/arbitraries.ts';
import {
  assertValid,
  type Issue,
  TopologyError,
  type TopologyIR,
  validate,
} from '../../dsl/index.ts';
import { agent, edge, ir, loop } from './fixtures.ts';
import { propertySettings } from './property.ts';

const codesAndPaths = (issues: Issue[]) => issues.map((issue) => [issue.code, issue.path]);
const withChange = (change: (t: TopologyIR) => void, base = loop()): TopologyIR => {
  change(base);
  return base;
};

describe('validate: values and names', () => {
  it('accepts a valid topology', () => {
    expect(validate(loop())).toEqual([]);
  });

  it('rejects an unknown version, and nothing else about it', () => {
    expect(codesAndPaths(validate({ ...loop(), version: 2 }))).toEqual([
      ['unsupported-version', ['version']],
    ]);
    expect(codesAndPaths(validate({ agents: [] }))).toEqual([['unsupported-version', ['version']]]);
  });

  it('rejects what is not an object', () => {
    for (const value of [null, 3, 'x', [loop()]]) {
      expect(codesAndPaths(validate(value))).toEqual([['invalid-shape', []]]);
    }
  });

  it('checks rounds, latent steps, hidden sizes, epsilon and decoding settings', () => {
    const broken = withChange((t) => {
      t.rounds.max = 0;
      t.rounds.epsilon = -0.5;
      t.agents[0]!.latentSteps = -1;
      t.agents[1]!.hiddenSize = 2.5;
      t.decode.topP = 0;
      t.decode.temperature = -1;
    });
    // b's size 2.5 also differs from a's 8, but both edges have outer links: no mismatch.
    expect(codesAndPaths(validate(broken))).toEqual([
      ['invalid-latent-steps', ['agents', 0, 'latentSteps']],
      ['invalid-hidden-size', ['agents', 1, 'hiddenSize']],
      ['invalid-rounds', ['rounds', 'max']],
      ['invalid-epsilon', ['rounds', 'epsilon']],
      ['invalid-decode', ['decode', 'temperature']],
      ['invalid-decode', ['decode', 'topP']],
    ]);
    expect(validate(withChange((t) => (t.agents[0]!.latentSteps = 0)))).toEqual([]);
    for (const minCosine of [0, -0.2, 1.01]) {
      const stop = withChange((t) => (t.agents[1]!.latentStop = { minCosine }));
      expect(codesAndPaths(validate(stop))).toEqual([
        ['invalid-latent-stop', ['agents', 1, 'latentStop', 'minCosine']],
      ]);
    }
    expect(validate(withChange((t) => (t.agents[1]!.latentStop = { minCosine: 1 })))).toEqual([]);
    expect(codesAndPaths(validate(withChange((t) => (t.rounds.max = 1.5))))).toEqual([
      ['invalid-rounds', ['rounds', 'max']],
    ]);
  });

  it('reports duplicate agents, unknown agents in edges and an unknown decoder', () => {
    const broken = withChange((t) => {
      t.agents.push(agent('a', '{{question}}'));
      t.edges.push(edge('a', 'ghost'));
      t.decode.agent = 'judge';
    });
    expect(codesAndPaths(validate(broken))).toEqual([
      ['duplicate-agent', ['agents', 2, 'name']],
      ['unknown-agent', ['edges', 2, 'to']],
      ['unknown-agent', ['decode', 'agent']],
    ]);
    expect(validate(broken)[2]?.message).toBe(
      'the decoder "judge" is not an agent of the topology',
    );
  });

  it('reports an empty topology', () => {
    expect(codesAndPaths(validate(ir([], [], 'x')))).toEqual([
      ['no-agents', ['agents']],
      ['unknown-agent', ['decode', 'agent']],
    ]);
  });

  it('reports zod shape issues with their paths', () => {
    const json = JSON.parse(JSON.stringify(loop()));
    json.agents[0].hiddenSize = '8';
    json.agents[1].hiddensize = 8;
    json.edges[0].kind = 'sideways';
    const issues = validate(json);
    expect(codesAndPaths(issues)).toEqual([
      ['invalid-shape', ['agents', 0, 'hiddenSize']],
      ['invalid-shape', ['agents', 1]],
      ['invalid-shape', ['edges', 0, 'kind']],
    ]);
    expect(issues[1]?.message).toContain('hiddensize');
  });
});

describe('validate: slots', () => {
  it('reports slots that no edge fills', () => {
    const noFeedback = withChange((t) => t.edges.pop());
    expect(codesAndPaths(validate(noFeedback))).toEqual([
      ['unfilled-slot', ['agents', 0, 'prompt']],
    ]);
    expect(validate(noFeedback)[0]?.message).toBe(
      'agent "a": slot {{feedback}} is filled by no edge; add a feedback edge into "a"',
    );
    const ghost = withChange((t) => (t.agents[1]!.prompt = '{{latent:a}} {{latent:ghost}}'));
    expect(validate(ghost)).toEqual([
      {
        code: 'unfilled-slot',
        path: ['agents', 1, 'prompt'],
        message: 'agent "b": slot {{latent:ghost}} is filled by no edge; there is no agent "ghost"',
      },
    ]);
  });

  it('reports edges whose target has no slot for them', () => {
    const broken = withChange((t) => (t.agents[1]!.prompt = 'no slots here {{question}}'));
    expect(codesAndPaths(validate(broken))).toEqual([['edge-without-slot', ['edges', 0]]]);
  });

  it('reports unknown and malformed slots', () => {
    const broken = withChange((t) => (t.agents[1]!.prompt = '{{latent:a}} {{answer}} {{latent:a'));
    expect(codesAndPaths(validate(broken))).toEqual([
      ['malformed-slot', ['agents', 1, 'prompt']],
      ['unknown-slot', ['agents', 1, 'prompt']],
    ]);
  });

  it('reports a topology where no agent reads the question', () => {
    const broken = withChange((t) => (t.agents[0]!.prompt = '{{feedback}}'));
    expect(codesAndPaths(validate(broken))).toEqual([['question-unused', ['agents']]]);
  });
});

describe('validate: structure', () => {
  it('reports two feedback edges into one agent', () => {
    const t = ir(
      [
        agent('a', '{{question}} {{feedback}}'),
        agent('b', '{{latent:a}}'),
        agent('c', '{{latent:b}}'),
      ],
      [edge('a', 'b'), edge('b', 'c'), edge('c', 'a', 'feedback'), edge('b', 'a', 'feedback')],
      'c',
    );
    expect(codesAndPaths(validate(t))).toEqual([['ambiguous-feedback', ['edges', 3]]]);
  });

  it('reports duplicate edges', () => {
    const broken = withChange((t) => t.edges.push(edge('a', 'b')));
    expect(codesAndPaths(validate(broken))).toEqual([['duplicate-edge', ['edges', 2]]]);
  });

  it('reports a cycle of forward edges once', () => {
    const t = ir(
      [agent('a', '{{question}} {{latent:b}}'), agent('b', '{{latent:a}}')],
      [edge('a', 'b'), edge('b', 'a')],
      'b',
    );
    const issues = validate(t);
    expect(codesAndPaths(issues)).toEqual([['forward-cycle', ['edges', 1]]]);
    expect(issues[0]?.message).toBe(
      'forward edges form a cycle through "a", "b"; make one of them a feedback edge',
    );
  });

  it('reports a feedback edge that closes no loop', () => {
    const t = ir(
      [agent('a', '{{question}}'), agent('b', '{{latent:a}} {{feedback}}')],
      [edge('a', 'b'), edge('a', 'b', 'feedback')],
      'b',
    );
    expect(validate(t)).toEqual([
      {
        code: 'feedback-closes-no-loop',
        path: ['edges', 1],
        message:
          'feedback edge a->b (feedback) closes no loop: there is no forward path from "b" to "a"',
      },
    ]);
  });

  it('accepts an agent feeding itself back (a recursive single agent)', () => {
    const t = ir(
      [agent('a', '{{question}} {{feedback}}')],
      [edge('a', 'a', 'feedback', { outerLink: null })],
      'a',
      3,
    );
    expect(validate(t)).toEqual([]);
  });

  it('reports a recursion cycle without a way to the decoder, and agents that never reach it', () => {
    const t = ir(
      [
        agent('a', '{{question}}'),
        agent('b', '{{latent:a}}'),
        agent('c', '{{question}} {{feedback}}'),
        agent('d', '{{latent:c}}'),
        agent('e', '{{question}}'),
      ],
      [edge('a', 'b'), edge('c', 'd'), edge('d', 'c', 'feedback')],
      'b',
    );
    const issues = validate(t);
    expect(codesAndPaths(issues)).toEqual([
      ['cycle-without-exit', ['agents', 2]],
      ['unreachable-agent', ['agents', 4]],
    ]);
    expect(issues[0]?.message).toBe(
      'agents "c", "d" form a recursion cycle that never reaches the decoder "b"',
    );
  });

  it('reports hidden-size mismatches on edges without an outer link only', () => {
    const t = ir(
      [agent('a', '{{question}} {{feedback}}', { hiddenSize: 16 }), agent('b', '{{latent:a}}')],
      [edge('a', 'b', 'forward', { outerLink: null }), edge('b', 'a', 'feedback')],
      'b',
    );
    expect(validate(t)).toEqual([
      {
        code: 'hidden-size-mismatch',
        path: ['edges', 0, 'outerLink'],
        message: 'edge a->b has no outer link but maps hidden size 16 to 8; give it an outer link',
      },
    ]);
  });
});

describe('validate: differentiability and tools', () => {
  it('rejects a latent edge marked as text, naming the edge', () => {
    const broken = withChange((t) => (t.edges[0]!.transport = 'text'));
    expect(validate(broken)).toEqual([
      {
        code: 'discrete-latent-edge',
        path: ['edges', 0],
        message:
          'hand-off a->b passes through argmax decoding and tokenisation: no gradient crosses it',
      },
    ]);
  });

  it('rejects an agent that decodes mid-graph into a latent slot, naming its edges', () => {
    const broken = withChange((t) => {
      t.agents[0]!.output = 'text';
      t.decode.temperature = 0.7;
    });
    expect(validate(broken)).toEqual([
      {
        code: 'discrete-latent-edge',
        path: ['edges', 0],
        message: 'hand-off a->b passes through sampling: no gradient crosses it',
      },
    ]);
  });

  it('reports tools on an agent that never decodes', () => {
    const broken = withChange((t) => (t.agents[0]!.tools = ['javascript']));
    expect(codesAndPaths(validate(broken))).toEqual([
      ['tools-without-decoding', ['agents', 0, 'tools']],
    ]);
    expect(validate(withChange((t) => (t.agents[1]!.tools = ['javascript'])))).toEqual([]);
  });
});

describe('assertValid', () => {
  it('returns a valid IR and throws every issue at once otherwise', () => {
    expect(assertValid(loop())).toEqual(loop());
    const broken = withChange((t) => {
      t.rounds.max = 0;
      t.decode.agent = 'judge';
    });
    let thrown: unknown;
    try {
      assertValid(broken);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TopologyError);
    const error = thrown as TopologyError;
    expect(error.code).toBe('invalid-topology');
    expect(error.issues.map((i) => i.code)).toEqual(['invalid-rounds', 'unknown-agent']);
    expect(error.message).toContain('rounds.max');
    expect(error.message).toContain('decode.agent');
  });
});

describe('validate: properties', () => {
  it('never throws, whatever it is given', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.jsonValue()), (value) => {
        expect(Array.isArray(validate(value))).toBe(true);
      }),
      propertySettings('validate never throws (anything)', 200),
    );
  });

  it('never throws on a valid IR with a field replaced by junk', () => {
    const junk = fc.oneof(fc.jsonValue(), fc.constant(undefined));
    fc.assert(
      fc.property(topologyArbitrary(), junk, fc.nat(), fc.nat(), (t, value, pick, depth) => {
        // Walk down to a random object in the IR and overwrite one of its keys.
        let node: Record<string, unknown> = t as unknown as Record<string, unknown>;
        for (let level = 0; level <= depth % 3; level++) {
          const keys = Object.keys(node);
          const key = keys[pick % keys.length]!;
          const child = node[key];
          if (level === depth % 3 || typeof child !== 'object' || child === null) {
            node[key] = value;
            break;
          }
          node = child as Record<string, unknown>;
        }
        const issues = validate(t);
        expect(Array.isArray(issues)).toBe(true);
        for (const issue of issues) expect(typeof issue.message).toBe('string');
      }),
      propertySettings('validate never throws (junk field)', 200),
    );
  });

  // Each mutation of a valid IR must produce the issue the mutation implies.
  const mutations: [string, (t: TopologyIR) => [Issue['code'], Issue['path']] | undefined][] = [
    [
      'rounds 0',
      (t) => {
        t.rounds.max = 0;
        return ['invalid-rounds', ['rounds', 'max']];
      },
    ],
    [
      'negative m',
      (t) => {
        t.agents[0]!.latentSteps = -1;
        return ['invalid-latent-steps', ['agents', 0, 'latentSteps']];
      },
    ],
    [
      'latent stop minCosine above 1',
      (t) => {
        t.agents[0]!.latentStop = { minCosine: 2 };
        return ['invalid-latent-stop', ['agents', 0, 'latentStop', 'minCosine']];
      },
    ],
    [
      'duplicate agent',
      (t) => {
        t.agents.push({ ...t.agents[0]! });
        return ['duplicate-agent', ['agents', t.agents.length - 1, 'name']];
      },
    ],
    [
      'unknown decoder',
      (t) => {
        t.decode.agent = 'no such agent';
        return ['unknown-agent', ['decode', 'agent']];
      },
    ],
    [
      'unknown edge target',
      (t) => {
        if (t.edges.length === 0) return undefined;
        t.edges[0]!.to = 'no such agent';
        return ['unknown-agent', ['edges', 0, 'to']];
      },
    ],
    [
      'edge removed',
      (t) => {
        const removed = t.edges.pop();
        if (removed === undefined) return undefined;
        return [
          'unfilled-slot',
          ['agents', t.agents.findIndex((a) => a.name === removed.to), 'prompt'],
        ];
      },
    ],
    [
      'text edge',
      (t) => {
        if (t.edges.length === 0) return undefined;
        const last = t.edges.length - 1;
        t.edges[last]!.transport = 'text';
        return ['discrete-latent-edge', ['edges', last]];
      },
    ],
  ];
  for (const [name, mutate] of mutations) {
    it(`finds the issue a mutation implies: ${name}`, () => {
      fc.assert(
        fc.property(topologyArbitrary(), (t) => {
          const expected = mutate(t);
          if (expected === undefined) return;
          expect(codesAndPaths(validate(t))).toContainEqual(expected);
        }),
        propertySettings(`validate mutation: ${name}`, 60),
      );
    });
  }
});
