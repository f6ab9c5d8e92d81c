/**
 * Where a shared engine listens, and the pieces both ends of its socket use. One engine serves
 * one index: its address is derived from a hash of the index's store folder. On Linux and macOS
 * it is a Unix domain socket (mode 0600) in a folder only this user may enter (0700, owned by
 * this uid, checked on every use); on Windows a named pipe. Never TCP.
 *
 * No native module here: the VS Code extension host imports this file.
 */
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, lstatSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { LoupeError } from '../core/types.js';

/** The files of one shared engine. */
export interface EngineAddress {
  /** Hash of the store folder (16 hex digits). */
  key: string;
  /** The socket (or named pipe) to connect to. */
  socket: string;
  /** The private folder holding socket, start lock and log (also on Windows, for the lock and log). */
  dir: string;
  /** Held while a client starts an engine, so two clients never start two. */
  startLock: string;
  /** The detached engine's stdout and stderr. */
  log: string;
}

/**
 * The run folder: `LOUPE_RUN_DIR`, else `$XDG_RUNTIME_DIR/loupe` (a per-user tmpfs on Linux),
 * else `~/.cache/loupe/run` (`%LOCALAPPDATA%\loupe\run` on Windows).
 */
export function runDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.LOUPE_RUN_DIR) return path.resolve(env.LOUPE_RUN_DIR);
  if (process.platform === 'win32') return path.join(env.LOCALAPPDATA ?? path.join(os.homedir(), 'AppData', 'Local'), 'loupe', 'run');
  if (env.XDG_RUNTIME_DIR && path.isAbsolute(env.XDG_RUNTIME_DIR)) return path.join(env.XDG_RUNTIME_DIR, 'loupe');
  return path.join(os.homedir(), '.cache', 'loupe', 'run');
}

/** The address of the engine serving the index in `storeDir`. */
export function engineAddress(storeDir: string, env: NodeJS.ProcessEnv = process.env): EngineAddress {
  const dir = runDir(env);
  // Case-insensitive file systems: one index, one engine, whatever the spelling.
  const norm =
    process.platform === 'win32' || process.platform === 'darwin' ? path.resolve(storeDir).toLowerCase() : path.resolve(storeDir);
  const key = createHash('sha256').update(norm).digest('hex').slice(0, 16);
  // Named pipes share one machine-wide namespace: the user's name keeps two users' pipes apart
  // (the pipe's default ACL already admits only its creator, administrators and SYSTEM).
  const user = createHash('sha256').update(os.userInfo().username).digest('hex').slice(0, 8);
  const socket = process.platform === 'win32' ? `\\\\.\\pipe\\loupe-${user}-${key}` : path.join(dir, `${key}.sock`);
  return { key, socket, dir, startLock: path.join(dir, `${key}.start`), log: path.join(dir, `${key}.log`) };
}

/**
 * Creates the run folder if needed and makes sure only this user can enter it: a folder (not a
 * link) owned by this uid, mode 0700 (tightened if looser). Anything else is refused, not used.
 */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (process.platform === 'win32') return;
  const st = lstatSync(dir);
  const uid = process.getuid?.();
  if (!st.isDirectory())
    throw new LoupeError(`${dir} is not a folder; Loupe keeps its engine sockets there. Remove it or set LOUPE_RUN_DIR.`, 'run-dir-unsafe');
  if (uid !== undefined && st.uid !== uid)
    throw new LoupeError(
      `${dir} belongs to another user (uid ${st.uid}); Loupe will not put its engine socket there. Set LOUPE_RUN_DIR to a folder of yours.`,
      'run-dir-unsafe',
    );
  if ((st.mode & 0o077) !== 0) chmodSync(dir, 0o700);
}

/** What is at a socket path. */
export type SocketProbe =
  /** Nothing. */
  | 'absent'
  /** A socket with an engine accepting connections. */
  | 'live'
  /** A socket nobody listens on (an engine that was killed). */
  | 'stale'
  /** Something that is not a socket of ours (a plain file, a link, another user's socket). */
  | 'foreign';

/** Looks at a socket path without trusting it: only a socket owned by this user is tried. */
export function probeSocket(socket: string, timeoutMs = 1000): Promise<SocketProbe> {
  if (process.platform !== 'win32') {
    let st;
    try {
      st = lstatSync(socket);
    } catch {
      return Promise.resolve('absent');
    }
    const uid = process.getuid?.();
    if (!st.isSocket() || (uid !== undefined && st.uid !== uid)) return Promise.resolve('foreign');
  }
  return new Promise((resolve) => {
    const s = net.connect(socket);
    const done = (r: SocketProbe): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(r);
    };
    // A live engine that does not accept within the timeout is busy, not dead.
    const timer = setTimeout(() => done('live'), timeoutMs);
    s.once('connect', () => done('live'));
    s.once('error', (e: NodeJS.ErrnoException) => done(e.code === 'ENOENT' ? 'absent' : 'stale'));
  });
}

/**
 * Clears the way for a new engine: removes a stale socket or a foreign file at the socket path
 * (never a folder). Returns what was there; `live` means another engine serves and nothing was removed.
 */
export async function clearSocketPath(socket: string): Promise<SocketProbe> {
  const probe = await probeSocket(socket);
  if (probe === 'stale' || probe === 'foreign') {
    if (process.platform === 'win32') return probe;
    const st = lstatSync(socket, { throwIfNoEntry: false });
    if (st?.isDirectory()) throw new LoupeError(`${socket} is a folder; remove it so a Loupe engine can listen there.`, 'run-dir-unsafe');
    rmSync(socket, { force: true });
  }
  return probe;
}

/** Makes a listening socket user-only (the folder already is; this closes the gap if it is ever moved). */
export function restrictSocket(socket: string): void {
  if (process.platform !== 'win32') chmodSync(socket, 0o600);
}

/**
 * Takes the start lock (a file holding our PID, created exclusively). A lock whose process is gone,
 * or older than `staleMs`, is taken over. Returns a release function, or null when another live
 * process holds it (the caller waits for its engine instead).
 */
export function tryStartLock(file: string, staleMs = 60_000): (() => void) | null {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(file, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let pid = NaN;
    let age = 0;
    try {
      pid = Number(readFileSync(file, 'utf8').trim());
      age = Date.now() - statSync(file).mtimeMs;
    } catch {
      // removed meanwhile: try again
    }
    if (Number.isInteger(pid) && pid > 0 && alive(pid) && age < staleMs) return null;
    rmSync(file, { force: true });
  }
  return null;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Longest line accepted from a peer (a search result list is a few KiB; an answer event less). */
const MAX_LINE = 64 * 1024 * 1024;

/**
 * Newline-delimited JSON over a stream socket: `send` writes one message per line, and every
 * complete line received is parsed and handed to `onMessage`. A line that is not JSON, or too
 * long, ends the connection (a peer speaking something else is not guessed at).
 */
export class JsonLines {
  private buf = '';

  constructor(
    private readonly socket: net.Socket,
    onMessage: (m: unknown) => void,
    onBad?: (why: string) => void,
  ) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buf += chunk;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        if (!line.trim()) continue;
        let m: unknown;
        try {
          m = JSON.parse(line);
        } catch {
          onBad?.('a line that is not JSON');
          socket.destroy();
          return;
        }
        onMessage(m);
        if (socket.destroyed) return;
      }
      if (this.buf.length > MAX_LINE) {
        onBad?.('a line over 64 MiB');
        socket.destroy();
      }
    });
  }

  /** Writes one message; false when the socket is gone. */
  send(m: unknown): boolean {
    if (this.socket.destroyed || !this.socket.writable) return false;
    this.socket.write(JSON.stringify(m) + '\n');
    return true;
  }
}
