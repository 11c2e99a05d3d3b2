/**
 * `rmas/arbitraries`: fast-check arbitraries for property tests of rmas and of users' own code —
 * valid topologies (the four patterns and free-form graphs), tensors as plain data with their edge
 * cases, and the rmas.v1 wire messages. Every arbitrary is seeded by fast-check's runner, so a
 * failure replays from the seed and path it prints.
 *
 * @example
 * import fc from 'fast-check';
 * import { topologyArbitrary, tensorArbitrary } from 'rmas/arbitraries';
 * fc.assert(fc.property(topologyArbitrary({ rounds: { min: 1, max: 2 } }), (ir) => {
 *   expect(validate(ir)).toEqual([]);
 * }), { seed: 42, numRuns: 50 });
 */
export {
  agentNameArbitrary,
  type TopologyConstraints,
  type TopologyKind,
  topologyArbitrary,
} from '../dsl/arbitraries.ts';
export {
  elementBitsArbitrary,
  FLOAT32_EDGE_BITS,
  float32Bits,
  float32BitsArbitrary,
  type RepresentableIn,
  type TensorConstraints,
  type TensorData,
  type TensorValues,
  tensorArbitrary,
} from './tensor.ts';
export {
  agentUsageArbitrary,
  type LatentStateConstraints,
  wireAnswerArbitrary,
  wireErrorRecordArbitrary,
  wireLatentStateArbitrary,
  wireRequestArbitrary,
} from './wire.ts';
