#!/usr/bin/env node
// Entry point of the `loupe` command: the bundled CLI (dist/cli.mjs, made by `npm run build`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/cli.mjs', import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  process.stderr.write('loupe: not built yet; run `npm run build` in the Loupe folder first.\n');
  process.exit(1);
}
await import(cli.href);
