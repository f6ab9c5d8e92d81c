/**
 * The engine as a separate process, in one of two ways:
 * - forked with an IPC channel (`child_process.fork`, the extension's own engine): one client,
 *   the protocol of src/core/protocol.ts as structured-clone messages;
 * - shared (`--shared --store <dir>`, started detached by the first client that needs the index,
 *   src/adapters/engine-client.ts): any number of clients on a local socket, exiting when idle.
 * Native work (llama.cpp, hnswlib, tree-sitter) happens here, so a native crash or a long
 * synchronous HNSW build never touches a host.
 */
import { setPriority } from 'node:os';
import { parseArgs } from 'node:util';
import { engineAddress } from '../adapters/engine-socket.js';
import { isRequest, type EngineMessage } from '../core/protocol.js';
import { EngineHost, type Peer } from './host.js';
import { DEFAULT_IDLE_MS, listenShared } from './socket-server.js';

// Indexing is background work: a front end (the VS Code extension) may ask the engine to run at a
// lower CPU priority so the editor wins when cores are contended. Set before any model loads, so
// the threads llama.cpp starts later inherit it.
const nice = Number(process.env.LOUPE_ENGINE_NICE);
if (Number.isInteger(nice) && nice > 0) {
  try {
    setPriority(Math.min(nice, 19));
  } catch {
    // not permitted here: run at normal priority
  }
}

const { values: args } = parseArgs({
  options: { shared: { type: 'boolean' }, store: { type: 'string' }, 'idle-ms': { type: 'string' } },
  strict: false,
});

if (args.shared) {
  const store = typeof args.store === 'string' ? args.store : '';
  if (!store) {
    process.stderr.write('loupe engine: --shared needs --store <dir>\n');
    process.exit(2);
  }
  const idleArg = Number(args['idle-ms'] ?? process.env.LOUPE_ENGINE_IDLE_MS);
  const idleMs = Number.isFinite(idleArg) && idleArg >= 0 ? idleArg : DEFAULT_IDLE_MS;
  let server: Awaited<ReturnType<typeof listenShared>> | undefined;
  const exit = (code: number): void => {
    void (server?.close() ?? Promise.resolve()).finally(() => process.exit(code));
  };
  // The log file (the run folder's <key>.log) gets warnings, errors and who connects; not every debug line.
  const host = new EngineHost({
    shared: true,
    onExit: () => exit(0),
    onLog: (level, message) => {
      if (level !== 'debug') process.stderr.write(`${new Date().toISOString()} [${level}] ${message}\n`);
    },
  });
  const stop = (): void => void host.shutdown();
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', stop);
  try {
    server = await listenShared(host, engineAddress(store), { idleMs, onIdle: stop });
    process.stderr.write(`${new Date().toISOString()} loupe engine ${process.pid} serving ${store} (idle exit after ${idleMs} ms)\n`);
  } catch (e) {
    process.stderr.write(`loupe engine: ${(e as Error).message}\n`);
    process.exit((e as { code?: string }).code === 'engine-running' ? 3 : 1);
  }
} else {
  if (!process.send) {
    process.stderr.write('loupe engine: must be started with an IPC channel (child_process.fork) or with --shared --store <dir>\n');
    process.exit(2);
  }
  const host = new EngineHost({ shared: false, onExit: () => process.exit(0) });
  const peer: Peer = { label: 'ipc', send: (m: EngineMessage) => void process.send?.(m) };
  host.attach(peer);
  process.on('message', (m) => {
    if (isRequest(m)) void host.handle(m, peer);
  });
  // The host going away closes the channel; nothing is left to serve.
  process.on('disconnect', () => {
    void host.dispose().finally(() => process.exit(0));
  });
}
