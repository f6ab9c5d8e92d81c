import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { EngineMethods, EventMessage, MethodName, OpenParams, ResponseMessage } from '../core/protocol.js';
import { LoupeError } from '../core/types.js';

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
}

/** Raised for requests that were in flight when the engine process died. */
export class EngineCrashedError extends LoupeError {
  constructor(detail: string) {
    super(`The Loupe engine process stopped unexpectedly (${detail}); it is being restarted from its last committed batch.`, 'engine-crashed');
  }
}

/**
 * Talks to the engine process: typed requests, events, and restart after a crash. A restarted
 * engine is re-opened with the last `open` parameters (a user's pause included) and recovers
 * from its store.
 */
export class EngineClient {
  private child: ChildProcess | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly listeners = new Set<(e: EventMessage) => void>();
  private readonly exitListeners = new Set<(info: { code: number | null; signal: string | null; restarting: boolean }) => void>();
  private openParams: OpenParams | undefined;
  private restarts: number[] = [];
  private closing = false;
  private ready: Promise<void> | undefined;

  constructor(private readonly opts: EngineClientOptions = {}) {}

  /** Subscribes to engine events. */
  onEvent(listener: (e: EventMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Subscribes to engine-process exits (crashes included). */
  onExit(listener: (info: { code: number | null; signal: string | null; restarting: boolean }) => void): () => void {
    this.exitListeners.add(listener);
    return () => this.exitListeners.delete(listener);
  }

  /** PID of the running engine process (for tests and diagnostics). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  private spawn(): void {
    const script = this.opts.serverScript ?? fileURLToPath(new URL('../engine-process/server.js', import.meta.url));
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
    child.on('message', (m: ResponseMessage | EventMessage) => {
      if (m.type === 'response') {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.ok) p.resolve(m.result);
        else {
          const err = m.error.aborted ? Object.assign(new Error(m.error.message), { name: 'AbortError' }) : new LoupeError(m.error.message, m.error.code ?? 'engine-error');
          p.reject(err);
        }
      } else if (m.type === 'event') {
        for (const l of this.listeners) l(m);
      }
    });
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      this.ready = undefined;
      const detail = signal ? `signal ${signal}` : `exit code ${code}`;
      for (const p of this.pending.values()) p.reject(new EngineCrashedError(`${detail}${stderr ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`));
      this.pending.clear();
      const restarting = !this.closing && this.mayRestart();
      for (const l of this.exitListeners) l({ code, signal, restarting });
      if (restarting) void this.ensureStarted().catch(() => undefined);
    });
    this.child = child;
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
    this.spawn();
    const params = this.openParams;
    this.ready = params ? this.raw('open', params).then(() => undefined) : Promise.resolve();
    return this.ready;
  }

  private raw<M extends MethodName>(method: M, params: EngineMethods[M][0]): Promise<EngineMethods[M][1]> {
    const child = this.child;
    if (!child?.connected) return Promise.reject(new EngineCrashedError('not running'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ type: 'request', id, method, params });
    });
  }

  /** Opens (or re-opens) the engine on a folder. */
  async open(params: OpenParams): Promise<EngineMethods['open'][1]> {
    this.closing = false;
    // A restart re-opens what this one built: rebuilding again would drop it.
    const { rebuild: _, ...replay } = params;
    this.openParams = replay;
    if (!this.child) this.spawn();
    const opened = this.raw('open', params);
    this.ready = opened.then(() => undefined);
    // The caller gets the failure; requests waiting on `ready` get it too, and nothing is unhandled.
    this.ready.catch(() => undefined);
    return opened;
  }

  /** Sends a request, starting (or restarting) the process if needed. */
  async request<M extends Exclude<MethodName, 'open'>>(method: M, params: EngineMethods[M][0]): Promise<EngineMethods[M][1]> {
    if (this.closing) throw new LoupeError('The engine is closed.', 'closed');
    await this.ensureStarted();
    const result = await this.raw(method, params);
    // A pause is engine state: replay it with `open` after a restart.
    if (this.openParams && (method === 'pause' || method === 'resume')) {
      const { paused: _, ...rest } = this.openParams;
      this.openParams = method === 'pause' ? { ...rest, paused: params as EngineMethods['pause'][0] } : rest;
    }
    return result;
  }

  /** Asks the engine to finish and exit; kills it if it does not within `timeoutMs`. */
  async close(timeoutMs = 5000): Promise<void> {
    this.closing = true;
    const child = this.child;
    if (!child) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    try {
      if (child.connected) await Promise.race([this.raw('close', {}), new Promise((r) => setTimeout(r, timeoutMs))]);
    } catch {
      // already gone
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  }
}
