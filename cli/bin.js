#!/usr/bin/env node
// The `rmas` command. The package ships TypeScript sources, so this launcher registers tsx's ESM
// loader and then runs cli/main.ts, which reads process.argv.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
