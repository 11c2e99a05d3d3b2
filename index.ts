/**
 * rmas: RecursiveMAS multi-agent systems that collaborate through embeddings, compiled to RxJS.
 * The public surface is the union of each layer's `index.ts`.
 */
export type * from './models/types.ts';
