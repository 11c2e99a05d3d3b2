/**
 * The messages between the main thread and a runtime worker. Everything is structured-clone data:
 * the topology IR, links as serialized bytes (or a seed / folder to make them from), requests and
 * answers. Models are never sent: each worker loads its own from the IR's model references.
 */
import type { Mode } from '../../dsl/graph.ts';
import type { TopologyIR } from '../../dsl/ir.ts';
import type { LinkManifest } from '../../operators/links/linkStore.ts';
import type { SearchDocument } from '../../operators/tools/search.ts';
import type { BackendName } from '../backend/index.ts';
import type { BatchEvent, BatchingOptions } from '../engine.ts';
import type { Answer, Request } from '../messages.ts';

export type WorkerLinks =
  | { seed: number }
  | { dir: string }
  | { serialized: Array<{ id: string; manifest: LinkManifest; weights: Uint8Array }> };

export interface WorkerInit {
  /** The worker module to load (bootstrap.mjs imports it). */
  entry: string;
  index: number;
  ir: TopologyIR;
  mode: Mode;
  links: WorkerLinks;
  /** Seed of the presets' random weights and of sampling. */
  seed?: number;
  documents?: readonly SearchDocument[];
  handoffTokens?: number;
  batching: BatchingOptions;
  /** Most requests the worker holds (the pool never sends more). */
  capacity: number;
  backend?: BackendName | 'auto';
  reportBatches: boolean;
}

export type ToWorker = { type: 'request'; request: Request } | { type: 'close' };

export type FromWorker =
  | { type: 'ready'; backend: string }
  | { type: 'answer'; answer: Answer }
  | { type: 'batch'; event: BatchEvent }
  | { type: 'failed'; code: string; message: string }
  | { type: 'closed' };
