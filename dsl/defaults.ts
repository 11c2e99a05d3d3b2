import type { DecodeIR, LinkIR, RoundsIR } from './ir.ts';

/**
 * What the builder and `parseIR` fill in when a field is left out. The IR itself always holds
 * every value explicitly. Functions, so that every caller gets its own copy.
 */
export const DEFAULTS = {
  /** The paper's main results use 3 rounds; epsilon 0 disables early stopping. */
  rounds: (): RoundsIR => ({ max: 3, epsilon: 0 }),
  /** The release CLI's default latent length. */
  latentSteps: 32,
  link: (): LinkIR => ({ variant: 'official', init: 'kaiming' }),
  decode: (): Omit<DecodeIR, 'agent'> => ({
    maxNewTokens: 256,
    temperature: 0,
    topP: 1,
    maxToolRounds: 5,
  }),
  name: 'topology',
};
