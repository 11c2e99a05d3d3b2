/** Hand-written IR pieces for the dsl specs (every field spelled out, nothing from the builder). */
import type { AgentIR, EdgeIR, TopologyIR } from '../../dsl/index.ts';

export function agent(name: string, prompt: string, extra: Partial<AgentIR> = {}): AgentIR {
  return {
    name,
    model: { preset: 'm' },
    hiddenSize: 8,
    prompt,
    latentSteps: 2,
    innerLink: { variant: 'official', init: 'kaiming' },
    output: 'latent',
    tools: [],
    ...extra,
  };
}

export function edge(
  from: string,
  to: string,
  kind: EdgeIR['kind'] = 'forward',
  extra: Partial<EdgeIR> = {},
): EdgeIR {
  return {
    from,
    to,
    kind,
    transport: 'latent',
    outerLink: { variant: 'official', init: 'kaiming' },
    ...extra,
  };
}

export function ir(agents: AgentIR[], edges: EdgeIR[], decoder: string, rounds = 2): TopologyIR {
  return {
    version: 1,
    name: 't',
    agents,
    edges,
    rounds: { max: rounds, epsilon: 0 },
    decode: { agent: decoder, maxNewTokens: 8, temperature: 0, topP: 1, maxToolRounds: 5 },
  };
}

/** a -> b, b -> a (feedback), b decodes: the smallest recursive topology. */
export function loop(rounds = 2): TopologyIR {
  return ir(
    [agent('a', '{{question}} {{feedback}}'), agent('b', '{{latent:a}}')],
    [edge('a', 'b'), edge('b', 'a', 'feedback')],
    'b',
    rounds,
  );
}
