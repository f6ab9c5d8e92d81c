/**
 * The one-shot fast path of `loupe search` (dist/quick.mjs, tried first by bin/loupe.js): when the
 * index's shared engine runs, ask it, with nothing loaded but the socket client — no model, no
 * native module, not the full CLI bundle. Anything it does not handle (no engine running, a model
 * given, options it does not know, a usage error) returns null and the full CLI runs instead, so
 * output and errors stay the full CLI's.
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { EngineClient } from '../adapters/engine-client.js';
import { prestartOnnxWorker } from '../adapters/onnx-prestart.js';
import type { SearchMode } from '../core/engine.js';
import type { SearchResult } from '../core/types.js';

/**
 * One result as one line of `loupe search` output: score, path:lines, symbol. A path or symbol
 * holding a control character (a newline in a file name) is quoted as JSON, so it stays one line.
 */
export function resultLine(r: Pick<SearchResult, 'score' | 'path' | 'startLine' | 'endLine' | 'symbol'>): string {
  // eslint-disable-next-line no-control-regex
  const oneLine = (s: string): string => (/[\u0000-\u001f\u007f]/.test(s) ? JSON.stringify(s) : s);
  return `${r.score.toFixed(3)}  ${oneLine(r.path)}:${r.startLine}-${r.endLine}${r.symbol ? `  ${oneLine(r.symbol)}` : ''}`;
}

/** Runs `search` through a running engine; null when the full CLI should handle the command. */
export async function quickSearch(
  argv: string[],
  io = { out: (s: string) => process.stdout.write(s + '\n'), err: (s: string) => process.stderr.write(s + '\n') },
): Promise<number | null> {
  if (argv[0] !== 'search' || process.env.LOUPE_NO_ENGINE === '1') return null;
  let parsed;
  try {
    parsed = parseArgs({
      args: argv.slice(1),
      allowPositionals: true,
      strict: true,
      options: {
        k: { type: 'string', short: 'k' },
        mode: { type: 'string' },
        json: { type: 'boolean' },
        store: { type: 'string' },
        cpu: { type: 'boolean' },
        verbose: { type: 'boolean', short: 'v' },
      },
    });
  } catch {
    return null;
  }
  const {
    values: v,
    positionals: [dir, ...rest],
  } = parsed;
  const query = rest.join(' ').trim();
  const k = v.k === undefined ? 10 : Number(v.k);
  const mode = (v.mode ?? 'hybrid') as SearchMode;
  if (!dir || !query || !Number.isInteger(k) || k < 1 || !['hybrid', 'dense', 'lexical'].includes(mode)) return null;
  const root = path.resolve(dir);
  const client = new EngineClient({ shared: 'loupe search', connectOnly: true, maxRestarts: 0 });
  try {
    const hello = await client.attach({ root, storeDir: v.store ? path.resolve(v.store) : undefined });
    if (!hello.root) return null;
    const status = await client.request('status', {});
    if (!status.chunks) return null;
    const results: SearchResult[] = await client.request('search', { query, k, mode });
    if (v.verbose)
      io.err(`[info] searching in the running engine (PID ${hello.pid}, ${hello.clients} client${hello.clients === 1 ? '' : 's'} now)`);
    if (v.json) io.out(JSON.stringify(results));
    else if (!results.length) io.out('no matches');
    else for (const r of results) io.out(resultLine(r));
    return 0;
  } catch {
    // No engine, or it went away: the full CLI decides (in process, with its errors).
    return null;
  } finally {
    await client.close(1000).catch(() => undefined);
  }
}

/**
 * When the full CLI is about to run a search in this process (no engine answered): starts the
 * first ONNX Runtime lane's thread now, so it boots while the CLI bundle loads. Not for a search
 * that names llama.cpp (`--backend llama`, a `.gguf` model); an index built by llama.cpp only
 * leaves the thread unused (it keeps no process alive).
 */
export function prestartSearchLane(argv: string[]): void {
  if (argv[0] !== 'search' || process.env.LOUPE_NO_PRESTART === '1') return;
  const value = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    if (i >= 0) return argv[i + 1];
    return argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
  };
  if (value('--backend') === 'llama') return;
  const model = value('--model');
  if (model !== undefined && !model.toLowerCase().endsWith('.onnx')) return;
  prestartOnnxWorker();
}
