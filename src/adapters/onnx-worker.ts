/**
 * One ONNX Runtime session in a worker thread (src/adapters/onnx-embedder.ts starts these in the
 * engine process only). `session.run` of onnxruntime-node blocks the thread it runs on, so each
 * session lives in its own worker: the engine's thread stays free for searches, and several
 * single-thread sessions embed different chunks at once (data-parallel, no barrier between threads).
 *
 * Messages in: {type:'init', modelPath, threads} then {type:'embed', id, seqs, batch}; out:
 * {type:'ready', dims, inputs} / {type:'done', id, vectors (n × dims, mean-pooled, L2-normalised)} /
 * {type:'error', id?, message}.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { parentPort } from 'node:worker_threads';
import {
  beginCacheWrite,
  cacheEntryDir,
  CACHE_DATA,
  CACHE_MODEL,
  discardCacheEntry,
  publishCacheEntry,
  readCacheEntry,
  vectorsAgree,
} from './onnx-cache.js';

type Ort = typeof import('onnxruntime-node');
type Session = import('onnxruntime-node').InferenceSession;

export interface InitMessage {
  type: 'init';
  modelPath: string;
  /** Intra-op threads of this session; above 1, spinning is off (a spinning pool collapses under load). */
  threads: number;
  /** A short sequence ([CLS] [SEP]) for the warm-up pass that learns the vector width. */
  warmIds: number[];
  /**
   * The optimised-model cache (src/adapters/onnx-cache.ts): its folder, the model's sha256, and
   * the probe (token ids) whose vector must agree between the model and an entry. Absent: off.
   */
  cache?: { dir: string; modelSha256: string; probeIds: number[] };
}
export interface EmbedMessage {
  type: 'embed';
  id: number;
  /** Token ids, [CLS] … [SEP] included. */
  seqs: Int32Array[];
  /** Sequences per pass (padded to the longest of the pass, masked); 1 = one pass per sequence. */
  batch: number;
}
export type WorkerOut =
  | { type: 'ready'; dims: number; inputs: string[]; ms: number; source: SessionSource }
  | { type: 'done'; id: number; vectors: Float32Array; ms: number }
  | { type: 'error'; id?: number; message: string }
  /** onnxruntime-node has finished loading on this thread (or failed to): the thread may now be terminated safely. */
  | { type: 'loaded' };

/** Where a session's graph came from: the optimised-model cache, the model (cache written meanwhile), or the model alone. */
export type SessionSource = 'cache' | 'model, cached' | 'model';

let ort: Ort;
// Loaded as the thread starts, before the init message: the load overlaps the engine reading the
// tokenizer (a one-shot search waits for this lane). require, not import(): an ES import of this
// CommonJS package first scans its source for export names.
const ortImport = new Promise<Ort>((resolve) => resolve(createRequire(import.meta.url)('onnxruntime-node') as Ort));
ortImport.catch(() => undefined);
let session: Session;
let hasTypeIds = false;
let dims = 0;

const post = (m: WorkerOut, transfer: ArrayBuffer[] = []): void => parentPort!.postMessage(m, transfer);
// Says when the native module's load is over: a process that ends while it is still loading
// aborts ("terminate called after throwing an instance of 'Napi::Error'"), so an unused prestarted
// thread is only terminated after this (onnx-prestart.ts, settlePrestartedWorker).
void ortImport.then(
  () => post({ type: 'loaded' }),
  () => post({ type: 'loaded' }),
);

/** Runs one pass over `seqs` (padded to the longest) and writes mean-pooled unit vectors into `out` from row `row`. */
async function pass(seqs: Int32Array[], out: Float32Array | null, row: number): Promise<Float32Array | null> {
  const b = seqs.length;
  let n = 0;
  for (const s of seqs) n = Math.max(n, s.length);
  const ids = new BigInt64Array(b * n);
  const mask = new BigInt64Array(b * n);
  for (let i = 0; i < b; i++) {
    const s = seqs[i];
    for (let j = 0; j < s.length; j++) {
      ids[i * n + j] = BigInt(s[j]);
      mask[i * n + j] = 1n;
    }
  }
  const feeds: Record<string, import('onnxruntime-node').Tensor> = {
    input_ids: new ort.Tensor('int64', ids, [b, n]),
    attention_mask: new ort.Tensor('int64', mask, [b, n]),
  };
  if (hasTypeIds) feeds.token_type_ids = new ort.Tensor('int64', new BigInt64Array(b * n), [b, n]);
  const res = await session.run(feeds);
  const h = res[session.outputNames[0]];
  const hidden = h.data as Float32Array;
  const d = h.dims[2];
  if (!out) {
    dims = d;
    out = new Float32Array(0);
  }
  for (let i = 0; i < b; i++) {
    const len = seqs[i].length;
    const v = out.subarray((row + i) * d, (row + i + 1) * d);
    v.fill(0);
    const base = i * n * d;
    for (let t = 0; t < len; t++) {
      const o = base + t * d;
      for (let k = 0; k < d; k++) v[k] += hidden[o + k];
    }
    let s = 0;
    for (let k = 0; k < d; k++) s += v[k] * v[k];
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let k = 0; k < d; k++) v[k] *= inv;
  }
  return out;
}

/** One sequence's vector. */
async function embedOne(ids: number[]): Promise<Float32Array> {
  const out = new Float32Array(dims);
  await pass([Int32Array.from(ids)], out, 0);
  return out;
}

type SessionOptions = import('onnxruntime-node').InferenceSession.SessionOptions;

/**
 * The session for `m.modelPath`: from the optimised-model cache when an entry agrees with the
 * model, else from the model (writing the entry meanwhile when the cache can be written), with
 * graph optimisation as before when there is no cache. The vector width is learned on the way.
 */
async function openSession(m: InitMessage, base: SessionOptions): Promise<SessionSource> {
  const learn = async (s: Session): Promise<void> => {
    session = s;
    hasTypeIds = s.inputNames.includes('token_type_ids');
    // One tiny pass learns the width and warms the session.
    await pass([Int32Array.from(m.warmIds)], null, 0);
  };
  const c = m.cache;
  if (!c) {
    await learn(await ort.InferenceSession.create(m.modelPath, { ...base, graphOptimizationLevel: 'all' }));
    return 'model';
  }
  const version = ort.env.versions.node ?? ort.env.versions.common ?? 'unknown';
  const entry = cacheEntryDir(c.dir, c.modelSha256, version);
  const meta = readCacheEntry(entry, c.modelSha256, version);
  if (meta) {
    let s: Session | undefined;
    try {
      // Already optimised: optimising again would only cost time.
      s = await ort.InferenceSession.create(path.join(entry, CACHE_MODEL), { ...base, graphOptimizationLevel: 'disabled' });
      await learn(s);
      if (vectorsAgree(await embedOne(meta.probeIds), meta.probe)) return 'cache';
    } catch {
      // A damaged entry: removed below, and the model is loaded.
    }
    await s?.release().catch(() => undefined);
  }
  if (meta || existsSync(entry)) discardCacheEntry(entry);
  const tmp = beginCacheWrite(entry);
  if (tmp) {
    let written: Session | undefined;
    try {
      // `extended`: fusions that hold on any CPU (`all` adds layouts for this CPU only); the same
      // vectors as `all` on the bundled models (test/onnx-cache.test.ts).
      written = await ort.InferenceSession.create(m.modelPath, {
        ...base,
        graphOptimizationLevel: 'extended',
        optimizedModelFilePath: path.join(tmp, CACHE_MODEL),
        extra: {
          ...(base.extra as Record<string, unknown> | undefined),
          session: {
            ...((base.extra as { session?: Record<string, unknown> } | undefined)?.session ?? {}),
            optimized_model_external_initializers_file_name: CACHE_DATA,
            optimized_model_external_initializers_min_size_in_bytes: '1024',
          },
        },
      });
      await learn(written);
      const probe = await embedOne(c.probeIds);
      publishCacheEntry(tmp, entry, {
        model: path.resolve(m.modelPath),
        modelSha256: c.modelSha256,
        ort: version,
        level: 'extended',
        probeIds: c.probeIds,
        probe: Array.from(probe),
        created: new Date().toISOString(),
      });
      return 'model, cached';
    } catch {
      // Not written (a full disk, a folder that vanished): the model is loaded as without a cache.
      discardCacheEntry(tmp);
      await written?.release().catch(() => undefined);
    }
  }
  await learn(await ort.InferenceSession.create(m.modelPath, { ...base, graphOptimizationLevel: 'all' }));
  return 'model';
}

async function embed(m: EmbedMessage): Promise<void> {
  const t0 = performance.now();
  const out = new Float32Array(m.seqs.length * dims);
  const step = Math.max(1, m.batch);
  for (let i = 0; i < m.seqs.length; i += step) await pass(m.seqs.slice(i, i + step), out, i);
  post({ type: 'done', id: m.id, vectors: out, ms: performance.now() - t0 }, [out.buffer]);
}

parentPort!.on('message', (m: InitMessage | EmbedMessage) => {
  void (async () => {
    try {
      if (m.type === 'init') {
        const t0 = performance.now();
        ort = await ortImport;
        const threads = Math.max(1, m.threads);
        const source = await openSession(m, {
          intraOpNumThreads: threads,
          interOpNumThreads: 1,
          executionMode: 'sequential',
          ...(threads > 1 ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}),
        });
        post({ type: 'ready', dims, inputs: [...session.inputNames], ms: performance.now() - t0, source });
      } else {
        await embed(m);
      }
    } catch (e) {
      post({ type: 'error', id: m.type === 'embed' ? m.id : undefined, message: (e as Error).message });
    }
  })();
});
