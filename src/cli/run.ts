/** Entry of the bundled CLI (dist/cli.mjs): runs the command line and exits with its code. */
import { settlePrestartedWorker } from '../adapters/onnx-prestart.js';
import { main } from './main.js';

// `loupe search … | head`: once the reader has gone, there is nobody left to tell; exit quietly.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  // Commands report user mistakes themselves; whatever reaches here is a fault: one line, and the
  // stack with --verbose.
  const verbose = process.argv.includes('--verbose') || process.argv.includes('-v');
  process.stderr.write(
    `loupe: ${(e as Error)?.message ?? String(e)}${verbose ? `\n${(e as Error)?.stack ?? ''}` : ' (--verbose shows the details)'}\n`,
  );
  process.exitCode = 1;
} finally {
  // bin/loupe.js may have started an ONNX Runtime thread for a search that never ran (a usage
  // error, a missing index): it must finish loading before the process ends.
  await settlePrestartedWorker();
}
