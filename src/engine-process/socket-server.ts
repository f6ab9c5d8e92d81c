/**
 * Serves an EngineHost on the shared engine's local socket (engine-socket.ts): one peer per
 * connection, newline-delimited JSON, `hello` first. The engine exits after `idleMs` with no
 * client, and removes its socket when it ends.
 */
import { lstatSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { clearSocketPath, ensurePrivateDir, JsonLines, restrictSocket, type EngineAddress } from '../adapters/engine-socket.js';
import { isRequest } from '../core/protocol.js';
import { LoupeError } from '../core/types.js';
import type { EngineHost, Peer } from './host.js';

/** Default idle period before a shared engine with no client exits. */
export const DEFAULT_IDLE_MS = 5 * 60_000;

export interface SocketServerOptions {
  /** Exit after this long with no client (0: never; `loupe serve` and `loupe index` in process). */
  idleMs: number;
  /** Called when the idle period ran out. */
  onIdle: () => void;
}

/** A listening shared engine. */
export interface SharedServer {
  /** Stops listening and removes the socket (connections are ended). */
  close(): Promise<void>;
}

/**
 * Listens on `addr.socket` after clearing a stale socket or foreign file there. Throws
 * `engine-running` when another engine already serves this index.
 */
export async function listenShared(host: EngineHost, addr: EngineAddress, opts: SocketServerOptions): Promise<SharedServer> {
  ensurePrivateDir(addr.dir);
  const found = await clearSocketPath(addr.socket);
  if (found === 'live') throw new LoupeError(`Another Loupe engine already serves this index (${addr.socket}).`, 'engine-running');
  if (found === 'stale' || found === 'foreign')
    host.logger.warn(
      `removed a ${found === 'stale' ? 'stale socket (an engine that stopped without cleaning up)' : 'file that was not an engine socket'} at ${addr.socket}`,
    );

  const sockets = new Set<net.Socket>();
  let idleTimer: NodeJS.Timeout | undefined;
  const armIdle = (): void => {
    clearTimeout(idleTimer);
    if (opts.idleMs > 0 && host.peers.size === 0) idleTimer = setTimeout(() => opts.onIdle(), opts.idleMs);
  };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    clearTimeout(idleTimer);
    const peer: Peer = { label: 'client', send: () => undefined };
    const lines = new JsonLines(
      socket,
      (m) => {
        if (isRequest(m)) void host.handle(m, peer);
      },
      (why) => host.logger.warn(`a client sent ${why}; connection closed`),
    );
    peer.send = (m) => void lines.send(m);
    host.attach(peer);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      sockets.delete(socket);
      void host.detach(peer).finally(armIdle);
    });
  });
  // The socket is created user-only (0600) rather than narrowed after the fact; the folder is 0700 anyway.
  const oldMask = process.platform === 'win32' ? undefined : process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(addr.socket, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    if (oldMask !== undefined) process.umask(oldMask);
  }
  restrictSocket(addr.socket);
  const ino = process.platform === 'win32' ? 0 : lstatSync(addr.socket).ino;
  armIdle();
  return {
    close: async () => {
      clearTimeout(idleTimer);
      // End, then destroy what is still open: a response written just before (to `shutdown`)
      // goes out first. Destroying at once lost it on Windows, where a pipe write completes later
      // (seen under Wine: test/e2e/platforms.e2e.ts); a Unix socket write had already gone.
      for (const s of sockets) s.end();
      const force = setTimeout(() => {
        for (const s of sockets) s.destroy();
      }, 500);
      await new Promise<void>((r) => server.close(() => r()));
      clearTimeout(force);
      // Remove our socket, not one a successor engine created meanwhile.
      if (process.platform !== 'win32') {
        const st = lstatSync(addr.socket, { throwIfNoEntry: false });
        if (st && st.ino === ino) rmSync(addr.socket, { force: true });
      }
    },
  };
}
