/**
 * mlx_lm.server's lifecycle. A server that is already running (a configured URL or the default
 * port) is used as it is and never stopped. Otherwise, where allowed (Apple Silicon with a Python
 * that has mlx-lm), Loupe starts one on 127.0.0.1 with the chosen model, waits for `/health`, and
 * stops it by its PID when done or idle — only ever the process it started itself.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import { LoupeError, silentLogger, type Logger } from '../../core/types.js';
import { probeServer } from './openai-chat.js';

/** mlx_lm.server's default port. */
export const MLX_DEFAULT_PORT = 8080;
export const MLX_DEFAULT_URL = `http://127.0.0.1:${MLX_DEFAULT_PORT}`;

/** Runs `python -c "import mlx_lm"`; resolves with mlx-lm's version or null. Never throws. */
export function pythonHasMlxLm(python: string, timeoutMs = 20_000): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(
      python,
      ['-c', 'import mlx_lm, sys; sys.stdout.write(getattr(mlx_lm, "__version__", "?"))'],
      { timeout: timeoutMs },
      (err, stdout) => {
        resolve(err ? null : String(stdout).trim() || '?');
      },
    );
  });
}

const pythonCache = new Map<string, { at: number; found: Promise<{ python: string; version: string } | null> }>();
/** How long a Python lookup is remembered (importing mlx_lm takes seconds). */
const PYTHON_CACHE_MS = 5 * 60_000;

/** The first Python with mlx-lm among candidates (LOUPE_MLX_PYTHON, then python3, python); remembered for a few minutes. */
export function findMlxPython(candidates?: string[]): Promise<{ python: string; version: string } | null> {
  const list = candidates ?? [process.env.LOUPE_MLX_PYTHON, 'python3', 'python'].filter((p): p is string => !!p);
  const key = list.join('\0');
  const hit = pythonCache.get(key);
  if (hit && Date.now() - hit.at < PYTHON_CACHE_MS) return hit.found;
  const found = (async () => {
    for (const python of list) {
      const version = await pythonHasMlxLm(python);
      if (version) return { python, version };
    }
    return null;
  })();
  pythonCache.set(key, { at: Date.now(), found });
  return found;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface MlxStartOptions {
  /** Python with mlx-lm. */
  python: string;
  /** A Hugging Face model id (mlx-community/…) or a local MLX model folder. */
  model: string;
  /** Port on 127.0.0.1 (default: a free one). */
  port?: number;
  /** How long to wait for `/health` (default 10 min: the first start may download the model). */
  startTimeoutMs?: number;
  /** Extra environment for the server (e.g. HF_HUB_OFFLINE=1). */
  env?: NodeJS.ProcessEnv;
  /** Extra mlx_lm.server arguments. */
  args?: string[];
  logger?: Logger;
}

/** Runs mlx_lm.server's main, and exits as soon as stdin reaches EOF (the parent died). */
const WATCH_PARENT_AND_RUN = [
  'import os, sys, threading, runpy',
  'def _watch():',
  '    sys.stdin.buffer.read()',
  '    os._exit(0)',
  'threading.Thread(target=_watch, daemon=True).start()',
  "sys.argv = ['mlx_lm.server'] + sys.argv[1:]",
  "runpy.run_module('mlx_lm.server', run_name='__main__', alter_sys=True)",
].join('\n');

/** Children we started, killed when this process exits so none is left orphaned. */
const started = new Set<ChildProcess>();
let exitHook = false;
function trackChild(child: ChildProcess): void {
  started.add(child);
  child.once('exit', () => started.delete(child));
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const c of started) c.kill('SIGKILL');
    });
  }
}

/** An mlx_lm.server that Loupe started (owned) or found running (not owned). */
export class MlxServer {
  private constructor(
    readonly url: string,
    readonly owned: boolean,
    private readonly child: ChildProcess | undefined,
    readonly model: string | undefined,
  ) {}

  /** PID of the server Loupe started (undefined for one it found). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** True while the process we started is alive (always true for a found server). */
  get alive(): boolean {
    return !this.child || (this.child.exitCode === null && this.child.signalCode === null);
  }

  /** Wraps a server found running at `url`; `stop()` will leave it alone. */
  static async attach(url: string, timeoutMs = 1500): Promise<MlxServer | null> {
    const probe = await probeServer(url, timeoutMs);
    return probe.running ? new MlxServer(url, false, undefined, probe.models?.[0]) : null;
  }

  /** Starts `python -m mlx_lm.server` on 127.0.0.1 and waits until `/health` answers 200. */
  static async start(o: MlxStartOptions): Promise<MlxServer> {
    const logger = o.logger ?? silentLogger;
    const port = o.port ?? (await freePort());
    const url = `http://127.0.0.1:${port}`;
    const serverArgs = ['--model', o.model, '--host', '127.0.0.1', '--port', String(port), ...(o.args ?? [])];
    logger.info(`Starting mlx_lm.server: ${o.python} -m mlx_lm.server ${serverArgs.join(' ')}`);
    // The server exits when its stdin closes, i.e. when this process is gone however it ended
    // (a SIGKILLed host runs no exit handlers): no orphaned server holding gigabytes of memory.
    const child = spawn(o.python, ['-c', WATCH_PARENT_AND_RUN, ...serverArgs], {
      env: { ...process.env, ...o.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    trackChild(child);
    let tail = '';
    const keep = (d: Buffer): void => {
      tail = (tail + d.toString()).slice(-4000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const server = new MlxServer(url, true, child, o.model);
    const deadline = Date.now() + (o.startTimeoutMs ?? 600_000);
    let spawnError: Error | undefined;
    child.once('error', (e) => (spawnError = e));
    for (;;) {
      if (spawnError)
        throw new LoupeError(`mlx_lm.server could not be started with ${o.python}: ${spawnError.message}`, 'server-start-failed');
      if (!server.alive) {
        const why = tail.trim().split('\n').slice(-5).join(' | ');
        throw new LoupeError(
          `mlx_lm.server exited during start-up (${child.exitCode ?? child.signalCode})${why ? `: ${why}` : ''}`,
          /not found|No such file|Repository Not Found|does not appear to have/i.test(why) ? 'model-missing' : 'server-start-failed',
        );
      }
      const p = await probeServer(url, 1000);
      if (p.healthy) break;
      if (p.healthStatus === 503) {
        // mlx_lm.server answers 503 once its generation thread died, typically loading the model.
        await new Promise((r) => setTimeout(r, 300)); // let the traceback reach stderr
        await server.stop();
        const why =
          tail
            .trim()
            .split('\n')
            .filter((l) => /Error|error|not found|No such/.test(l))
            .slice(-3)
            .join(' | ') || tail.trim().split('\n').slice(-3).join(' | ');
        throw new LoupeError(
          `mlx_lm.server could not load the model ${o.model}: ${why}`,
          /not found|No such file|Repository Not Found|does not appear|offline|LocalEntryNotFound|RepositoryNotFound|HFValidationError/i.test(
            why,
          )
            ? 'model-missing'
            : 'server-start-failed',
        );
      }
      if (Date.now() > deadline) {
        await server.stop();
        throw new LoupeError(
          `mlx_lm.server did not become healthy within ${Math.round((o.startTimeoutMs ?? 600_000) / 1000)} s.`,
          'server-timeout',
        );
      }
      await new Promise((r) => setTimeout(r, 150));
    }
    logger.info(`mlx_lm.server is up at ${url} (PID ${child.pid})`);
    return server;
  }

  /** Stops the server if Loupe started it (SIGTERM, then SIGKILL after `graceMs`); a found server is left running. */
  async stop(graceMs = 5000): Promise<void> {
    const child = this.child;
    if (!this.owned || !child || !this.alive) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }
}
