/**
 * A fresh process that resumes the inner-loop run of innerSetup.ts from a checkpoint and prints
 * the losses of the steps it runs, as JSON on the last stdout line.
 * Usage: node --import tsx specs/train/innerResumeWorker.ts <checkpointDir> <totalSteps>
 */
import { initBackend } from '../../runtime/backend/index.ts';
import { innerRun } from './innerSetup.ts';

const [dir, total] = process.argv.slice(2);
await initBackend({ backend: 'wasm', strict: true, log: false });
const run = await innerRun(Number(total));
await run.trainer.resume(dir!);
const resumedAt = run.trainer.step;
run.trainer.run();
process.stdout.write(`${JSON.stringify({ resumedAt, history: run.trainer.history })}\n`);
run.dispose();
