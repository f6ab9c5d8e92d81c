/**
 * How a CLI command reaches an engine: the index's shared engine when one runs (or is started,
 * for `loupe mcp`), or an engine host in this process that also serves the shared socket while
 * the command runs (`loupe index`, `loupe serve`), so other clients can search meanwhile.
 */
import { EngineClient, defaultServerScript } from '../adapters/engine-client.js';
import { engineAddress } from '../adapters/engine-socket.js';
import { storeDirFor } from '../core/defaults.js';
import type { EngineMethods, EventMessage, MethodName, OpenParams, RequestMessage } from '../core/protocol.js';
import { LoupeError, type Logger } from '../core/types.js';
import { EngineHost, type Peer } from '../engine-process/host.js';
import { listenShared, type SharedServer } from '../engine-process/socket-server.js';

/** What commands need of an engine, wherever it runs. */
export interface EngineConn {
  open(params: OpenParams): Promise<EngineMethods['open'][1]>;
  request<M extends Exclude<MethodName, 'open'>>(method: M, params: EngineMethods[M][0]): Promise<EngineMethods[M][1]>;
  onEvent(listener: (e: EventMessage) => void): () => void;
  /** Ends this command's use (an in-process host: closes the index and stops serving). */
  close(): Promise<void>;
  /** Where the engine runs, for `--verbose` and `status`. */
  readonly where: string;
  /** PID of the engine process. */
  readonly pid: number | undefined;
  /** Calls `listener` when the engine goes away under this command (a shared engine's process exits); none for an in-process host. */
  onGone?(listener: () => void): () => void;
}

/** The open parameters without the CLI-only logger and callbacks (they do not cross a socket). */
export function openParamsOf(cfg: OpenParams & { logger?: unknown; onCompute?: unknown }): OpenParams {
  const { logger: _l, onCompute: _c, ...params } = cfg;
  return params;
}

/** A client of the shared engine. */
export class SharedConn implements EngineConn {
  constructor(
    readonly client: EngineClient,
    readonly where: string,
  ) {}
  open(params: OpenParams) {
    return this.client.open(params);
  }
  request<M extends Exclude<MethodName, 'open'>>(method: M, params: EngineMethods[M][0]) {
    return this.client.request(method, params);
  }
  onEvent(listener: (e: EventMessage) => void) {
    return this.client.onEvent(listener);
  }
  close() {
    return this.client.close(3000);
  }
  onGone(listener: () => void) {
    return this.client.onExit(() => listener());
  }
  get pid() {
    return this.client.engineInfo?.pid;
  }
}

/** An engine host in this process, this command being one of its peers. */
export class LocalConn implements EngineConn {
  readonly host: EngineHost;
  private server: SharedServer | undefined;
  private readonly listeners = new Set<(e: EventMessage) => void>();
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private readonly peer: Peer;
  readonly where: string;

  constructor(serving: boolean) {
    this.host = new EngineHost({ shared: true, onExit: () => undefined });
    this.where = serving ? `in this process (PID ${process.pid}), shared with other clients` : `in this process (PID ${process.pid})`;
    this.peer = {
      label: 'loupe (in process)',
      greeted: true,
      send: (m) => {
        if (m.type === 'event') {
          for (const l of this.listeners) l(m);
          return;
        }
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.ok) p.resolve(m.result);
        else
          p.reject(
            m.error.aborted
              ? Object.assign(new Error(m.error.message), { name: 'AbortError' })
              : new LoupeError(m.error.message, m.error.code ?? 'engine-error'),
          );
      },
    };
    this.host.attach(this.peer);
  }

  get pid(): number {
    return process.pid;
  }

  /** The socket this host serves on (after `serve`). */
  socket = '';

  /** Serves this host on the index's socket for as long as the command runs. */
  async serve(params: OpenParams, logger: Logger): Promise<boolean> {
    const e = await this.tryServe(params);
    if (e) logger.warn(`not sharing this engine with other clients: ${e.message}`);
    return !e;
  }

  /** Listens on the index's socket; the error (another engine serving it, a socket folder problem) or null. */
  async tryServe(params: OpenParams): Promise<Error | null> {
    try {
      const addr = engineAddress(storeDirFor(params.root, params.storeDir));
      this.server = await listenShared(this.host, addr, { idleMs: 0, onIdle: () => undefined });
      this.socket = addr.socket;
      return null;
    } catch (e) {
      return e as Error;
    }
  }

  private call<M extends MethodName>(method: M, params: EngineMethods[M][0]): Promise<EngineMethods[M][1]> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      void this.host.handle({ type: 'request', id, method, params } as RequestMessage, this.peer);
    });
  }
  open(params: OpenParams) {
    return this.call('open', params);
  }
  request<M extends Exclude<MethodName, 'open'>>(method: M, params: EngineMethods[M][0]) {
    return this.call(method, params);
  }
  onEvent(listener: (e: EventMessage) => void) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  async close(): Promise<void> {
    await this.server?.close();
    await this.host.dispose();
  }
}

/** The running shared engine for this index, or null when none runs. */
export async function connectRunning(params: OpenParams, client: string): Promise<SharedConn | null> {
  const c = new EngineClient({ shared: client, connectOnly: true, maxRestarts: 0 });
  try {
    const hello = await c.attach(params);
    return new SharedConn(c, `in the running engine (PID ${hello.pid}, ${hello.clients} client${hello.clients === 1 ? '' : 's'} now)`);
  } catch (e) {
    if ((e as LoupeError).code === 'no-engine') return null;
    throw e;
  }
}

/** The shared engine for this index, started (detached) if none runs. */
export async function connectOrStart(params: OpenParams, client: string, opts: { idleMs?: number } = {}): Promise<SharedConn> {
  const c = new EngineClient({ shared: client, serverScript: defaultServerScript(), idleMs: opts.idleMs });
  await c.attach(params);
  return new SharedConn(c, `in the shared engine (PID ${c.engineInfo?.pid})`);
}

/**
 * True when a running engine went away under a request: `loupe index` and `loupe serve` stop
 * serving when they finish, whoever is connected. The index is still there to open in process.
 */
export function engineWentAway(e: unknown): boolean {
  const code = (e as LoupeError | undefined)?.code;
  return code === 'engine-crashed' || code === 'closed';
}
