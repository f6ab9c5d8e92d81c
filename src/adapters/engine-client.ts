import { fork, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  PROTOCOL_VERSION,
  type EngineMethods,
  type EventMessage,
  type HelloResult,
  type MethodName,
  type OpenParams,
  type ResponseMessage,
} from '../core/protocol.js';
import { LoupeError } from '../core/types.js';
import { storeDirFor } from '../core/defaults.js';
import { engineAddress, ensurePrivateDir, JsonLines, probeSocket, tryStartLock, type EngineAddress } from './engine-socket.js';

export interface EngineClientOptions {
  /** Script of the engine process (default: the compiled server beside this file). */
  serverScript?: string;
  /** Node binary to run it with (default: this process's). */
  execPath?: string;
  /** Restarts allowed within `restartWindowMs` before giving up. */
  maxRestarts?: number;
  restartWindowMs?: number;
  /** Extra environment for the engine process. */
  env?: NodeJS.ProcessEnv;
  /**
   * Use the index's shared engine on its local socket (connect, or start it detached) instead of
   * forking a private one. The value names this client in the engine's log (`vscode`, `loupe mcp`).
   */
  shared?: string;
  /** Shared: never start an engine, only connect to a running one (`open` then throws `no-engine`). */
  connectOnly?: boolean;
  /** Shared: idle period of an engine this client starts (default: the engine's, 5 min). */
  idleMs?: number;
}

/** Raised for requests that were in flight when the engine process died. */
export class EngineCrashedError extends LoupeError {
  constructor(detail: string) {
    super(
      `The Loupe engine process stopped unexpectedly (${detail}); it is being restarted from its last committed batch.`,
      'engine-crashed',
    );
  }
}

/** The script of the engine process: the bundle's engine-server.mjs beside a bundle, else the compiled server.js. */
export function defaultServerScript(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const bundled = path.join(here, 'engine-server.mjs');
  return existsSync(bundled) ? bundled : fileURLToPath(new URL('../engine-process/server.js', import.meta.url));
}

/** A connection to an engine: a forked child's IPC channel or a shared engine's socket. */
interface Channel {
  send(m: unknown): boolean;
  /** Ends this client's connection (a forked engine: kills it after `timeoutMs` if it does not exit). */
  end(): void;
  readonly pid: number | undefined;
  /**
   * Shared: false until the engine answered `hello`. A connection lost before that (an engine
   * dying as it accepted) is the connecting loop's to retry, not a crash that starts a second one.
   */
  readonly greeted?: boolean;
}

/**
 * Talks to the engine process: typed requests, events, and restart after a crash. A restarted
 * engine is re-opened with the last `open` parameters (a user's pause included) and recovers
 * from its store.
 *
 * Shared mode (`shared`): the engine is the index's one engine for every client (the extension,
 * `loupe mcp`, `loupe search`…), reached on a local socket derived from the store folder. The
 * first client starts it detached; it exits when idle. `close` ends only this client's use.
 */
export class EngineClient {
  private child: ChildProcess | undefined;
  private channel: Channel | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly listeners = new Set<(e: EventMessage) => void>();
  private readonly exitListeners = new Set<(info: { code: number | null; signal: string | null; restarting: boolean }) => void>();
  private openParams: OpenParams | undefined;
  private restarts: number[] = [];
  private closing = false;
  /** This client asked the engine to shut down: its exit is no crash to restart from. */
  private stopping = false;
  private ready: Promise<void> | undefined;
  /** Shared mode: what the engine said at `hello`. */
  engineInfo: HelloResult | undefined;

  constructor(private readonly opts: EngineClientOptions = {}) {}

  /** Subscribes to engine events. */
  onEvent(listener: (e: EventMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Subscribes to engine-process exits (crashes included); shared mode: the connection closing. */
  onExit(listener: (info: { code: number | null; signal: string | null; restarting: boolean }) => void): () => void {
    this.exitListeners.add(listener);
    return () => this.exitListeners.delete(listener);
  }

  /** PID of the engine process (for tests and diagnostics). */
  get pid(): number | undefined {
    return this.channel?.pid;
  }

  private onMessage(m: ResponseMessage | EventMessage): void {
    if (m.type === 'response') {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else {
        const err = m.error.aborted
          ? Object.assign(new Error(m.error.message), { name: 'AbortError' })
          : new LoupeError(m.error.message, m.error.code ?? 'engine-error');
        p.reject(err);
      }
    } else if (m.type === 'event') {
      for (const l of this.listeners) l(m);
    }
  }

  /** The channel went away: fail what was in flight, and restart unless closing. */
  private onGone(channel: Channel, code: number | null, signal: string | null, stderr: string): void {
    if (this.channel !== channel) return;
    this.channel = undefined;
    const detail = signal ? `signal ${signal}` : code !== null ? `exit code ${code}` : 'connection closed';
    const failPending = (): void => {
      for (const p of this.pending.values())
        p.reject(new EngineCrashedError(`${detail}${stderr ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`));
      this.pending.clear();
    };
    if (channel.greeted === false) {
      // Lost during `hello`: connectShared, still running, tries again. Restarting from here as well
      // made two connections, two `open`s and two engines on one store in the engine process.
      failPending();
      return;
    }
    this.child = undefined;
    this.ready = undefined;
    failPending();
    // After a `shutdown` this client asked for, the next request starts an engine again (lazily).
    const restarting = !this.closing && !this.stopping && this.mayRestart();
    this.stopping = false;
    for (const l of this.exitListeners) l({ code, signal, restarting });
    if (restarting) void this.ensureStarted().catch(() => undefined);
  }

  private spawnForked(): void {
    const script = this.opts.serverScript ?? defaultServerScript();
    const child = fork(script, [], {
      execPath: this.opts.execPath,
      env: { ...process.env, ...this.opts.env },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const channel: Channel = {
      send: (m) => (child.connected ? child.send(m as object) : false),
      end: () => child.kill('SIGKILL'),
      pid: child.pid,
    };
    child.on('message', (m: ResponseMessage | EventMessage) => this.onMessage(m));
    child.on('exit', (code, signal) => this.onGone(channel, code, signal, stderr));
    this.child = child;
    this.channel = channel;
  }

  /** The shared engine's address for the open parameters. */
  address(params: OpenParams | undefined = this.openParams): EngineAddress {
    if (!params) throw new LoupeError('Open the engine first.', 'not-open');
    return engineAddress(storeDirFor(params.root, params.storeDir), { ...process.env, ...this.opts.env });
  }

  /** Shared mode: connects (starting the engine if allowed and needed) and says hello. */
  private async connectShared(params: OpenParams): Promise<void> {
    const addr = this.address(params);
    ensurePrivateDir(addr.dir);
    const deadline = Date.now() + 60_000;
    let starter: ChildProcess | undefined;
    let starterExit: string | undefined;
    for (let attempt = 0; ; attempt++) {
      // Closed meanwhile (a restart was under way): connect to nothing, start nothing.
      if (this.closing) throw new LoupeError('The engine client is closed.', 'closed');
      if (Date.now() > deadline)
        throw new LoupeError(
          `Could not reach or start the Loupe engine for ${params.root} (${addr.socket}); see ${addr.log}.`,
          'engine-unreachable',
        );
      const probe = await probeSocket(addr.socket);
      if (probe === 'live') {
        try {
          await this.attachSocket(addr);
          return;
        } catch (e) {
          const code = (e as LoupeError).code;
          if (code === 'version-skew' || code === 'engine-in-use') throw e;
          // version-skew-restart: the old engine is stopping; a refused connection: it just died.
          await sleep(150);
          continue;
        }
      }
      if (this.opts.connectOnly) throw new LoupeError(`No Loupe engine is running for ${params.root}.`, 'no-engine');
      if (starterExit) throw new LoupeError(`The Loupe engine did not start (${starterExit}): ${tail(addr.log)}`, 'engine-start-failed');
      if (starter) {
        await sleep(Math.min(50 * (attempt + 1), 300));
        continue;
      }
      const release = tryStartLock(addr.startLock);
      if (!release) {
        // Another client is starting it: wait for its socket.
        await sleep(100);
        continue;
      }
      try {
        if ((await probeSocket(addr.socket)) === 'live') continue;
        starter = this.startDetached(params, addr);
        starter.once('exit', (code, signal) => {
          starterExit = signal ? `signal ${signal}` : `exit code ${code}`;
          // Exit code 3: another engine won the race and serves; connect to it.
          if (code === 3) starterExit = undefined;
        });
        // Keep the lock until the socket answers (or the engine failed).
        const until = Date.now() + 30_000;
        while (Date.now() < until && !starterExit && (await probeSocket(addr.socket)) !== 'live') await sleep(40);
      } finally {
        release();
      }
    }
  }

  /** Starts a shared engine detached from this process (it outlives it), logging to the run folder. */
  private startDetached(params: OpenParams, addr: EngineAddress): ChildProcess {
    const script = this.opts.serverScript ?? defaultServerScript();
    const log = openSync(addr.log, 'a', 0o600);
    try {
      const args = [script, '--shared', '--store', storeDirFor(params.root, params.storeDir)];
      if (this.opts.idleMs !== undefined) args.push('--idle-ms', String(this.opts.idleMs));
      const child = spawn(this.opts.execPath ?? process.execPath, args, {
        detached: true,
        stdio: ['ignore', log, log],
        env: { ...process.env, ...this.opts.env },
        windowsHide: true,
      });
      child.unref();
      return child;
    } finally {
      closeSync(log);
    }
  }

  /** Connects to a live shared engine and says hello; throws its refusal. */
  private async attachSocket(addr: EngineAddress): Promise<void> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect(addr.socket);
      s.once('connect', () => {
        s.off('error', reject);
        resolve(s);
      });
      s.once('error', reject);
    });
    let helloPid: number | undefined;
    let greeted = false;
    const lines = new JsonLines(socket, (m) => this.onMessage(m as ResponseMessage | EventMessage));
    const channel: Channel = {
      send: (m) => lines.send(m),
      // Half-close, then let go: a busy or stuck engine must not keep this client's process alive.
      end: () => {
        socket.end();
        setTimeout(() => socket.destroy(), 1000).unref();
      },
      get pid() {
        return helloPid;
      },
      get greeted() {
        return greeted;
      },
    };
    socket.on('error', () => undefined);
    socket.on('close', () => this.onGone(channel, null, null, ''));
    this.channel = channel;
    try {
      const hello = await this.raw('hello', { protocol: PROTOCOL_VERSION, client: this.opts.shared ?? 'client' });
      helloPid = hello.pid;
      greeted = true;
      this.engineInfo = hello;
      // A connection that outlived this client's `close` would keep the engine (and this process) alive.
      if (this.closing) throw new LoupeError('The engine client is closed.', 'closed');
    } catch (e) {
      if (this.channel === channel) this.channel = undefined;
      socket.destroy();
      throw e;
    }
  }

  private mayRestart(): boolean {
    const now = Date.now();
    const win = this.opts.restartWindowMs ?? 60_000;
    this.restarts = this.restarts.filter((t) => now - t < win);
    if (this.restarts.length >= (this.opts.maxRestarts ?? 3)) return false;
    this.restarts.push(now);
    return true;
  }

  /** Starts the process (and re-opens the engine after a restart). */
  private ensureStarted(): Promise<void> {
    if (this.ready) return this.ready;
    const params = this.openParams;
    if (this.opts.shared) {
      if (!params) return Promise.reject(new LoupeError('Open the engine first.', 'not-open'));
      const ready = this.connectShared(params)
        .then(() => this.raw('open', params))
        .then(() => undefined);
      this.ready = ready;
      // Only this attempt's failure clears it: a newer one (a restart meanwhile) stays.
      ready.catch(() => {
        if (this.ready === ready) this.ready = undefined;
      });
      return ready;
    }
    this.spawnForked();
    this.ready = params ? this.raw('open', params).then(() => undefined) : Promise.resolve();
    return this.ready;
  }

  private raw<M extends MethodName>(method: M, params: EngineMethods[M][0]): Promise<EngineMethods[M][1]> {
    const channel = this.channel;
    if (!channel) return Promise.reject(new EngineCrashedError('not running'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      if (!channel.send({ type: 'request', id, method, params })) {
        this.pending.delete(id);
        reject(new EngineCrashedError('not running'));
      }
    });
  }

  /** Opens (or re-opens) the engine on a folder; shared mode connects to (or starts) the index's engine first. */
  async open(params: OpenParams): Promise<EngineMethods['open'][1]> {
    this.closing = false;
    // A restart re-opens what this one built: rebuilding again would drop it.
    const { rebuild: _, ...replay } = params;
    this.openParams = replay;
    if (this.opts.shared) {
      if (!this.channel) {
        const connecting = this.connectShared(params);
        const ready = connecting.then(() => undefined);
        this.ready = ready;
        try {
          await connecting;
        } catch (e) {
          if (this.ready === ready) this.ready = undefined;
          throw e;
        }
      }
    } else if (!this.channel) this.spawnForked();
    const opened = this.raw('open', params);
    this.ready = opened.then(() => undefined);
    // The caller gets the failure; requests waiting on `ready` get it too, and nothing is unhandled.
    this.ready.catch(() => undefined);
    return opened;
  }

  /**
   * Shared mode: connects to the running engine without opening anything (for `loupe search` to
   * see whether an engine already has the index open). Throws `no-engine` when none runs.
   */
  async attach(params: OpenParams): Promise<HelloResult> {
    this.closing = false;
    this.openParams = params;
    await this.connectShared(params);
    this.ready = Promise.resolve();
    return this.engineInfo!;
  }

  /** Sends a request, starting (or restarting) the process if needed. */
  async request<M extends Exclude<MethodName, 'open'>>(method: M, params: EngineMethods[M][0]): Promise<EngineMethods[M][1]> {
    if (this.closing) throw new LoupeError('The engine is closed.', 'closed');
    await this.ensureStarted();
    if (method === 'shutdown') this.stopping = true;
    const result = await this.raw(method, params);
    // A pause is engine state: replay it with `open` after a restart.
    if (this.openParams && (method === 'pause' || method === 'resume')) {
      const { paused: _, ...rest } = this.openParams;
      this.openParams = method === 'pause' ? { ...rest, paused: params as EngineMethods['pause'][0] } : rest;
    }
    return result;
  }

  /**
   * Forked: asks the engine to finish and exit; kills it if it does not within `timeoutMs`.
   * Shared: ends this client's use (its watch request) and disconnects; the engine goes on.
   */
  async close(timeoutMs = 5000): Promise<void> {
    this.closing = true;
    const channel = this.channel;
    if (!channel) return;
    if (this.opts.shared) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.raw('close', {}).catch(() => undefined), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
      clearTimeout(timer);
      // Resolved once the socket closed (onGone then cleared the channel and the pid).
      const gone = new Promise<void>((r) => {
        const off = this.onExit(() => {
          off();
          r();
        });
      });
      channel.end();
      await Promise.race([gone, new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
      clearTimeout(timer);
      return;
    }
    const child = this.child;
    if (!child) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    try {
      if (child.connected) await Promise.race([this.raw('close', {}), sleep(timeoutMs)]);
    } catch {
      // already gone
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The last lines of a log file, for an error message. */
function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-3).join(' | ');
  } catch {
    return 'no log';
  }
}
