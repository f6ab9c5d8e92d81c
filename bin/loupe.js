#!/usr/bin/env node
// Entry point of the `loupe` command: the bundled CLI (dist/cli.mjs, made by `npm run build`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/cli.mjs', import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  process.stderr.write('loupe: not built yet; run `npm run build` in the Loupe folder first.\n');
  process.exit(1);
}
// A one-shot search asks a running engine with only the socket client loaded (dist/quick.mjs); it
// hands back to the full CLI (null) when no engine runs or the command needs more.
const quick = new URL('../dist/quick.mjs', import.meta.url);
let code = null;
if (process.argv[2] === 'search' && existsSync(fileURLToPath(quick))) {
  const q = await import(quick.href);
  code = await q.quickSearch(process.argv.slice(2));
  // No engine answered: the search runs in this process, and its ONNX Runtime thread starts now.
  if (code === null) q.prestartSearchLane(process.argv.slice(2));
}
if (code === null) await import(cli.href);
else process.exitCode = code;
