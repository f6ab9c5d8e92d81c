/**
 * Benchmark-only embedder wrappers, so that a slow model embeds each text once across runs:
 *   - CachedEmbedder keeps every vector it was given on disk, keyed by sha256 of the model id,
 *     the kind (document/query) and the text, and counts what it really embedded (texts,
 *     tokens, milliseconds), which is the model's cost in that run;
 *   - CutEmbedder cuts vectors to a Matryoshka size (and renormalises) as LlamaEmbedder's
 *     `dimensions` option does, so every size is scored from one set of whole vectors.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ForwardingEmbedder } from '../../../src/core/forwarding-embedder.js';
import { sha256 } from '../../../src/core/fsutil.js';
import type { EmbedderPort } from '../../../src/core/types.js';
import { truncateNormalize } from '../../../src/core/vector-math.js';

const KEY = 16;

export class CachedEmbedder extends ForwardingEmbedder {
  private readonly map = new Map<string, Float32Array>();
  private readonly file: string;
  /** What was really embedded (cache misses) in this process. */
  readonly spent = { texts: 0, tokens: 0, ms: 0 };

  constructor(inner: EmbedderPort, dir: string) {
    super(inner);
    mkdirSync(dir, { recursive: true });
    this.file = path.join(dir, `${inner.modelId}.bin`);
    if (existsSync(this.file)) {
      const buf = readFileSync(this.file);
      const rec = KEY + 4 * inner.dimensions;
      // A torn last record (a killed run) is ignored.
      for (let o = 0; o + rec <= buf.length; o += rec) {
        const v = new Float32Array(inner.dimensions);
        for (let i = 0; i < v.length; i++) v[i] = buf.readFloatLE(o + KEY + 4 * i);
        this.map.set(buf.toString('hex', o, o + KEY), v);
      }
    }
  }

  get size(): number {
    return this.map.size;
  }

  private key(kind: 'd' | 'q', text: string): string {
    return createHash('sha256')
      .update(`${this.inner.modelId}\0${kind}\0${text}`)
      .digest('hex')
      .slice(0, 2 * KEY);
  }

  private keep(key: string, v: Float32Array): void {
    this.map.set(key, v);
    const b = Buffer.alloc(KEY + 4 * v.length);
    b.write(key, 0, 'hex');
    for (let i = 0; i < v.length; i++) b.writeFloatLE(v[i], KEY + 4 * i);
    appendFileSync(this.file, b);
  }

  override async embedDocuments(texts: string[], signal?: AbortSignal): Promise<Float32Array[]> {
    const keys = texts.map((t) => this.key('d', t));
    const miss = [...new Set(keys.map((k, i) => (this.map.has(k) ? -1 : i)).filter((i) => i >= 0))];
    if (miss.length) {
      const t0 = performance.now();
      const got = await this.inner.embedDocuments(
        miss.map((i) => texts[i]),
        signal,
      );
      this.spent.ms += performance.now() - t0;
      this.spent.texts += miss.length;
      for (const i of miss) this.spent.tokens += this.inner.countTokens(texts[i]);
      miss.forEach((i, j) => this.keep(keys[i], got[j]));
    }
    return keys.map((k) => this.map.get(k)!);
  }

  override async embedQuery(text: string, signal?: AbortSignal): Promise<Float32Array> {
    const k = this.key('q', text);
    let v = this.map.get(k);
    if (!v) {
      v = await this.inner.embedQuery(text, signal);
      this.keep(k, v);
    }
    return v;
  }
}

export class CutEmbedder extends ForwardingEmbedder {
  private readonly id: string;

  constructor(
    inner: EmbedderPort,
    readonly dims: number,
  ) {
    super(inner);
    this.id = sha256(`${inner.modelId}|d${dims}`).slice(0, 32);
  }

  override get modelId(): string {
    return this.id;
  }

  override get dimensions(): number {
    return this.dims;
  }

  override async embedDocuments(texts: string[], signal?: AbortSignal): Promise<Float32Array[]> {
    return (await this.inner.embedDocuments(texts, signal)).map((v) => truncateNormalize(v, this.dims));
  }

  override async embedQuery(text: string, signal?: AbortSignal): Promise<Float32Array> {
    return truncateNormalize(await this.inner.embedQuery(text, signal), this.dims);
  }
}
