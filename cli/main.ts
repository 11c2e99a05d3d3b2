/**
 * Entry point of the `rmas` command (through cli/bin.js, or `tsx cli/main.ts` as `npm start`
 * does). Everything lives in program.ts; this file only hands it the process.
 */
import { runCli } from './program.ts';

process.exitCode = await runCli(process.argv);
