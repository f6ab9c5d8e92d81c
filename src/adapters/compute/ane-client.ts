/**
 * Client of the ANE helper (native/ane, Swift + Core ML, macOS on Apple Silicon only): JSON lines
 * over stdio, one request per line, responses in order. See native/ane/Sources/LoupeANE/main.swift
 * for the protocol. AneEmbedder turns it into an EmbedderPort; its vectors only join an index
 * after the parity gate (runAneParityGate) passed for that model.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { parityGate, type ParityReport } from '../../core/compute/dispatcher.js';
import { LoupeError, type EmbedderPort, type ModelProfile } from '../../core/types.js';

export const ANE_PROTOCOL = 1;

export interface AneHello {
  helper: string;
  protocol: number;
  /** True for a test stand-in, which computes nothing with Core ML. */
  standIn: boolean;
  os: string;
  computeUnits: string;
}

export interface AneLoaded {
  buckets: number[];
  batch: number;
  dims: number;
  loadMs: number;
}

type Pending = { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> };

/** Where the helper binary and the Core ML models are expected inside the package. */
export function defaultAnePaths(packageRoot: string): { helper: string; models: string } {
  return {
    helper: process.env.LOUPE_ANE_HELPER ?? path.join(packageRoot, 'native/ane/.build/release/loupe-ane-helper'),
    models: process.env.LOUPE_ANE_MODELS ?? path.join(packageRoot, 'models/coreml/all-MiniLM-L6-v2'),
  };
}

/** Why the ANE cannot be used here, or null if it may be tried. */
export function aneUnavailableReason(
  helperPath: string,
  modelsDir: string,
  platform = process.platform,
  arch = process.arch,
): string | null {
  if (platform !== 'darwin') return 'no Neural Engine: not macOS';
  if (arch !== 'arm64') return 'Neural Engine helper needs arm64 Node (this one runs under Rosetta or on Intel)';
  if (!existsSync(helperPath)) return `ANE helper not built (${helperPath}); see native/ane/README.md`;
  if (!existsSync(path.join(modelsDir, 'manifest.json')))
    return `Core ML model not found (${modelsDir}/manifest.json); see native/ane/README.md`;
  return null;
}

export class AneClient {
  private child: ChildProcess;
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private exited: Error | null = null;
  private stderr = '';

  private constructor(
    command: string,
    args: string[],
    private readonly timeoutMs: number,
  ) {
    this.child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const rl = createInterface({ input: this.child.stdout! });
    rl.on('line', (line) => this.onLine(line));
    this.child.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-2000);
    });
    this.child.on('error', (e) => this.fail(new LoupeError(`ANE helper could not start: ${e.message}`, 'ane-helper-failed')));
    this.child.on('exit', (code, sig) =>
      this.fail(
        new LoupeError(
          `ANE helper exited (${sig ?? `code ${code}`})${this.stderr ? `: ${this.stderr.trim().split('\n').at(-1)}` : ''}`,
          'ane-helper-exited',
        ),
      ),
    );
  }

  /** Starts a helper (`command args…`) and checks it speaks protocol 1. */
  static async start(command: string, args: string[] = [], timeoutMs = 30_000): Promise<{ client: AneClient; hello: AneHello }> {
    const client = new AneClient(command, args, timeoutMs);
    try {
      const hello = (await client.request('hello', {})) as unknown as AneHello;
      if (hello.helper !== 'loupe-ane' || hello.protocol !== ANE_PROTOCOL) {
        throw new LoupeError(
          `ANE helper speaks ${hello.helper} protocol ${hello.protocol}, Loupe needs loupe-ane protocol ${ANE_PROTOCOL}`,
          'ane-helper-protocol',
        );
      }
      return { client, hello };
    } catch (e) {
      client.close();
      throw e;
    }
  }

  private onLine(line: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line);
    } catch {
      this.fail(new LoupeError(`ANE helper wrote a line that is not JSON: ${line.slice(0, 80)}`, 'ane-helper-protocol'));
      this.child.kill();
      return;
    }
    const p = this.pending.get(msg.id as number);
    if (!p) return;
    this.pending.delete(msg.id as number);
    clearTimeout(p.timer);
    if (msg.ok === true) p.resolve(msg);
    else p.reject(new LoupeError(`ANE helper: ${String(msg.error ?? 'failed')}`, 'ane-helper-error'));
  }

  private fail(e: Error): void {
    this.exited ??= e;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(e);
    }
    this.pending.clear();
  }

  request(op: string, params: Record<string, unknown>, timeoutMs = this.timeoutMs): Promise<Record<string, unknown>> {
    if (this.exited) return Promise.reject(this.exited);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new LoupeError(`ANE helper did not answer ${op} within ${timeoutMs} ms`, 'ane-helper-timeout'));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.child.stdin!.write(JSON.stringify({ id, op, ...params }) + '\n');
    });
  }

  async load(dir: string): Promise<AneLoaded> {
    return (await this.request('load', { dir })) as unknown as AneLoaded;
  }

  /** Embeds token-id sequences; returns one Float32Array per sequence. */
  async embed(ids: number[][]): Promise<Float32Array[]> {
    if (!ids.length) return [];
    const r = await this.request('embed', { ids });
    const dims = r.dims as number;
    const count = r.count as number;
    const buf = Buffer.from(r.vectors as string, 'base64');
    if (count !== ids.length || buf.length !== count * dims * 4) {
      throw new LoupeError(
        `ANE helper returned ${count} vectors in ${buf.length} bytes for ${ids.length} inputs of ${dims} dims`,
        'ane-helper-protocol',
      );
    }
    const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
    return Array.from({ length: count }, (_, i) => all.slice(i * dims, (i + 1) * dims));
  }

  /** Core ML's placement of the model's ops (MLComputePlan): how many run on the Neural Engine. */
  async plan(): Promise<{ devices: Record<string, number>; bucket: number }> {
    return (await this.request('plan', {})) as unknown as { devices: Record<string, number>; bucket: number };
  }

  get alive(): boolean {
    return !this.exited;
  }

  private closed = false;

  close(): void {
    if (this.exited || this.closed) return;
    this.closed = true;
    this.child.stdin!.on('error', () => undefined);
    this.child.stdin!.end(JSON.stringify({ id: 0, op: 'quit' }) + '\n');
    const t = setTimeout(() => this.child.kill(), 2000);
    t.unref();
  }
}

/** Turns a text into the token ids the model sees ([CLS] … [SEP]); the GGUF's own tokenizer. */
export type Tokenize = (text: string) => number[];

/** The ANE as an EmbedderPort (same model id as the GGUF it was converted from). */
export class AneEmbedder implements EmbedderPort {
  readonly computeUnit = 'Neural Engine (Core ML)';

  constructor(
    private readonly client: AneClient,
    private readonly loaded: AneLoaded,
    private readonly tokenize: Tokenize,
    readonly modelId: string,
    readonly modelName: string,
    readonly profile: ModelProfile,
  ) {}

  get dimensions(): number {
    return this.loaded.dims;
  }

  countTokens(text: string): number {
    return this.tokenize(this.profile.documentPrefix + text).length;
  }

  private ids(text: string): number[] {
    const ids = this.tokenize(text);
    const max = Math.min(this.profile.maxTokens, Math.max(...this.loaded.buckets));
    // Keep [CLS] and the final [SEP] when trimming, as the GGUF embedder does.
    return ids.length <= max ? ids : [...ids.slice(0, max - 1), ids[ids.length - 1]];
  }

  async embedDocuments(texts: string[], signal?: AbortSignal): Promise<Float32Array[]> {
    signal?.throwIfAborted();
    return this.client.embed(texts.map((t) => this.ids(this.profile.documentPrefix + t)));
  }

  async embedQuery(text: string, signal?: AbortSignal): Promise<Float32Array> {
    signal?.throwIfAborted();
    return (await this.client.embed([this.ids(this.profile.queryPrefix + text)]))[0];
  }

  async dispose(): Promise<void> {
    this.client.close();
  }
}

/** Texts for the gate: code, prose, identifiers, unicode (a subset of test/fixtures/parity-texts.txt). */
export const PARITY_TEXTS = [
  'function parseConfig(path) { return JSON.parse(fs.readFileSync(path, "utf8")); }',
  'def retry(fn, attempts=3):\n    for i in range(attempts):\n        try:\n            return fn()\n        except IOError:\n            time.sleep(2 ** i)',
  'How do I debounce file system events before re-indexing?',
  'impl Drop for Connection { fn drop(&mut self) { self.close(); } }',
  'SELECT id, name FROM users WHERE created_at > NOW() - INTERVAL 1 DAY ORDER BY name;',
  'The quick brown fox jumps over the lazy dog.',
  'class LRUCache<K, V> { private map = new Map<K, V>(); get(key: K) { const v = this.map.get(key); if (v !== undefined) { this.map.delete(key); this.map.set(key, v); } return v; } }',
  'Résumé naïve café — 東京 — emoji 🚀 in a comment',
  'err := json.Unmarshal(body, &cfg); if err != nil { return fmt.Errorf("decode config: %w", err) }',
  'public static int binarySearch(int[] a, int key) { int lo = 0, hi = a.length - 1; while (lo <= hi) { int mid = (lo + hi) >>> 1; if (a[mid] < key) lo = mid + 1; else if (a[mid] > key) hi = mid - 1; else return mid; } return -(lo + 1); }',
  'where is the HNSW index saved to disk',
  '#include <stdio.h>\nint main(void) { printf("hello\\n"); return 0; }',
];

/**
 * The parity gate on first use: embeds PARITY_TEXTS with the reference (the GGUF model) and the
 * ANE, compares, and remembers the verdict in `cacheFile` keyed by model id and Core ML manifest,
 * so the check runs once per model and helper build.
 */
export async function runAneParityGate(
  reference: EmbedderPort,
  ane: EmbedderPort,
  cacheFile: string,
  manifestKey: string,
): Promise<ParityReport & { cached: boolean }> {
  const key = `${reference.modelId}|${manifestKey}`;
  try {
    const prev = JSON.parse(await fsp.readFile(cacheFile, 'utf8')) as { key: string; report: ParityReport };
    if (prev.key === key) return { ...prev.report, cached: true };
  } catch {
    // no verdict yet
  }
  const ref = await reference.embedDocuments(PARITY_TEXTS);
  const cand = await ane.embedDocuments(PARITY_TEXTS);
  const report = parityGate(ref, cand);
  await fsp.mkdir(path.dirname(cacheFile), { recursive: true });
  await fsp.writeFile(cacheFile, JSON.stringify({ key, checkedAt: new Date().toISOString(), report }, null, 2));
  return { ...report, cached: false };
}
