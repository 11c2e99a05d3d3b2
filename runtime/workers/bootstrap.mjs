// Entry of every runtime worker thread: registers tsx (so the worker can run the TypeScript
// sources, as the main thread does under tsx or vitest), then loads the worker module.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
