/**
 * models/: the agents' neural networks — transformer LMs, weights and tokenizers I/O.
 */
export * from './errors.ts';
export * from './safetensors.ts';
export type * from './types.ts';
