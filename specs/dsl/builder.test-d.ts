/**
 * Type tests: the mistakes the types can catch do not compile. Each `@ts-expect-error` marks a
 * line that must fail to type-check; vitest fails this file if one of them type-checks.
 */
import { describe, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import {
  type AgentNames,
  type DecoderName,
  deliberation,
  distillation,
  mixture,
  sequential,
  type Topology,
  type TopologyIR,
  topology,
} from '../../dsl/index.ts';
import type { topologyIRSchema } from '../../dsl/schema.ts';

const m = { model: 'tiny-8', hiddenSize: 8 };

const three = topology('seq')
  .agent('planner', { ...m, prompt: 'Plan {{question}} {{feedback}}' })
  .agent('critic', { ...m, prompt: 'Check {{question}} {{latent:planner}}' })
  .agent('solver', { ...m, prompt: 'Solve {{question}} {{latent:critic}}' });

describe('builder types', () => {
  it('infers agent names and the decoder from the builder', () => {
    const t = three
      .edge('planner', 'critic')
      .edge('critic', 'solver')
      .feedback('solver', 'planner')
      .decode('solver')
      .build();
    expectTypeOf(t).toEqualTypeOf<Topology<'planner' | 'critic' | 'solver', 'solver'>>();
    expectTypeOf<AgentNames<typeof t>>().toEqualTypeOf<'planner' | 'critic' | 'solver'>();
    expectTypeOf<DecoderName<typeof t>>().toEqualTypeOf<'solver'>();
  });

  it('rejects an unknown agent name in an edge', () => {
    // @ts-expect-error 'plannr' is not an agent of the topology
    three.edge('plannr', 'critic');
    // @ts-expect-error 'judge' is not an agent of the topology
    three.feedback('solver', 'judge');
  });

  it('rejects decoding from an agent outside the graph', () => {
    // @ts-expect-error 'judge' is not an agent of the topology
    three.decode('judge');
  });

  it('rejects a second agent with the same name', () => {
    // @ts-expect-error agent "planner" is already declared
    three.agent('planner', { ...m, prompt: '{{question}}' });
  });

  it('rejects a latent slot that no edge fills', () => {
    const missingEdge = three
      .edge('planner', 'critic')
      .feedback('solver', 'planner')
      .decode('solver');
    // @ts-expect-error slot {{latent:critic}} of "solver" is filled by no edge
    missingEdge.build();
    const missingFeedback = three
      .edge('planner', 'critic')
      .edge('critic', 'solver')
      .decode('solver');
    // @ts-expect-error slot {{feedback}} of "planner" is filled by no feedback edge
    missingFeedback.build();
    const ghost = topology()
      .agent('a', { ...m, prompt: '{{question}} {{latent:ghost}}' })
      .decode('a');
    // @ts-expect-error slot {{latent:ghost}} names no agent, so no edge can fill it
    ghost.build();
  });

  it('rejects a feedback edge that closes no loop', () => {
    const open = topology()
      .agent('a', { ...m, prompt: '{{question}}' })
      .agent('b', { ...m, prompt: '{{latent:a}}' })
      .agent('c', { ...m, prompt: '{{question}} {{feedback}}' })
      .edge('a', 'b')
      .feedback('b', 'c')
      .decode('b');
    // @ts-expect-error feedback b->c closes no loop: no forward path from "c" to "b"
    open.build();
    const closed = topology()
      .agent('a', { ...m, prompt: '{{question}} {{feedback}}' })
      .agent('b', { ...m, prompt: '{{latent:a}}' })
      .edge('a', 'b')
      .feedback('b', 'a')
      .decode('b');
    expectTypeOf(closed.build()).toEqualTypeOf<Topology<'a' | 'b', 'b'>>();
    // An agent feeding itself closes a loop of length zero (a recursive single agent).
    const self = topology()
      .agent('a', { ...m, prompt: '{{question}} {{feedback}}' })
      .feedback('a', 'a')
      .decode('a');
    expectTypeOf(self.build()).toEqualTypeOf<Topology<'a', 'a'>>();
  });

  it('rejects an edge whose target has no slot for it, and unknown slots', () => {
    const noSlot = three
      .edge('planner', 'critic')
      .edge('critic', 'solver')
      .edge('planner', 'solver')
      .feedback('solver', 'planner')
      .decode('solver');
    // @ts-expect-error edge planner->solver: the prompt of "solver" has no {{latent:planner}} slot
    noSlot.build();
    const unknownSlot = topology()
      .agent('a', { ...m, prompt: '{{question}} {{answer}}' })
      .decode('a');
    // @ts-expect-error unknown slot {{answer}}
    unknownSlot.build();
  });

  it('requires a decoder before build', () => {
    const noDecoder = three
      .edge('planner', 'critic')
      .edge('critic', 'solver')
      .feedback('solver', 'planner');
    // @ts-expect-error no decoder: call .decode(<agent>) before .build()
    noDecoder.build();
  });

  it('leaves prompts typed as plain string to validate', () => {
    const fromFile: string = '{{latent:nobody}}';
    const t = topology()
      .agent('a', { ...m, prompt: fromFile })
      .decode('a')
      .build();
    expectTypeOf(t).toEqualTypeOf<Topology<'a', 'a'>>();
  });

  it('names the problem in the error type', () => {
    const open = topology()
      .agent('a', { ...m, prompt: '{{question}} {{latent:b}}' })
      .decode('a');
    expectTypeOf(open.build).toEqualTypeOf<{
      problem: 'rmas: agent "a": slot {{latent:b}} is filled by no edge';
    }>();
  });
});

describe('pattern types', () => {
  it('types each pattern by its roles and decoder', () => {
    expectTypeOf(sequential({ planner: m, critic: m, solver: m })).toEqualTypeOf<
      Topology<'planner' | 'critic' | 'solver', 'solver'>
    >();
    expectTypeOf(mixture({ specialists: { math: m, code: m }, summarizer: m })).toEqualTypeOf<
      Topology<'math' | 'code' | 'summarizer', 'summarizer'>
    >();
    expectTypeOf(distillation({ expert: m, learner: m })).toEqualTypeOf<
      Topology<'expert' | 'learner', 'learner'>
    >();
    expectTypeOf(deliberation({ reflector: m, toolCaller: m })).toEqualTypeOf<
      Topology<'reflector' | 'toolCaller', 'toolCaller'>
    >();
  });

  it('checks custom role prompts against the slots the pattern fills', () => {
    const good = 'P {{question}} {{feedback}}';
    const noFeedback = 'P {{question}}';
    const extra = '{{latent:planner}} {{latent:solver}}';
    const mathOnly = '{{question}} {{latent:math}}';
    sequential({ planner: { ...m, prompt: good }, critic: m, solver: m });
    // @ts-expect-error the planner's prompt needs {{feedback}}
    sequential({ planner: { ...m, prompt: noFeedback }, critic: m, solver: m });
    // @ts-expect-error the critic may only read {{latent:planner}} (and {{question}})
    sequential({ planner: m, critic: { ...m, prompt: extra }, solver: m });
    // @ts-expect-error the summarizer needs a {{latent:code}} slot for the code specialist
    mixture({ specialists: { math: m, code: m }, summarizer: { ...m, prompt: mathOnly } });
    // @ts-expect-error a specialist cannot be named like the summarizer
    mixture({ specialists: { summarizer: m }, summarizer: m });
    // @ts-expect-error the learner needs {{latent:expert}}
    distillation({ expert: m, learner: { ...m, prompt: noFeedback } });
    // @ts-expect-error the tool-caller needs {{latent:reflector}}
    deliberation({ reflector: m, toolCaller: { ...m, prompt: good } });
  });
});

describe('IR types', () => {
  it('the zod schema parses to exactly the IR type', () => {
    expectTypeOf<z.output<typeof topologyIRSchema>>().toEqualTypeOf<TopologyIR>();
  });
});
