#!/usr/bin/env node
// Entry point of the `loupe` command. `npm run build` compiles the CLI to out/ and bundles it into
// dist/cli.mjs; the bundle starts faster (one file to load instead of ~100 modules: ~0.2 CPU-s less
// for a one-shot `loupe search`), so it is used when it is at least as new as the compiled files.
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const out = new URL('../out/src/cli/main.js', import.meta.url);
const bundle = new URL('../dist/cli.mjs', import.meta.url);
const mtime = (u) => (existsSync(fileURLToPath(u)) ? statSync(fileURLToPath(u)).mtimeMs : -1);
if (mtime(bundle) >= 0 && mtime(bundle) >= mtime(out)) {
  await import(bundle.href);
} else if (mtime(out) >= 0) {
  const { main } = await import(out.href);
  process.exitCode = await main(process.argv.slice(2));
} else {
  process.stderr.write('loupe: not built yet; run `npm run build` in the Loupe folder first.\n');
  process.exit(1);
}
