import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sha256, sha256File } from '../core/fsutil.js';
import { checkDimensions, profileFor } from '../core/model-profiles.js';
import { truncateNormalize } from '../core/vector-math.js';
import { planLanes, type LanePlan } from '../core/compute/lanes.js';
import { LoupeError, type EmbedderPort, type Logger, type ModelProfile, silentLogger } from '../core/types.js';

type NodeLlama = typeof import('node-llama-cpp');
type Llama = import('node-llama-cpp').Llama;
type LlamaModel = import('node-llama-cpp').LlamaModel;
type LlamaEmbeddingContext = import('node-llama-cpp').LlamaEmbeddingContext;
type Token = import('node-llama-cpp').Token;

export interface LlamaEmbedderOptions {
  modelPath: string;
  /** `auto` (default) lets node-llama-cpp pick Metal/CUDA/Vulkan when present; false forces CPU. */
  gpu?: 'auto' | false;
  /** Parallel embedding contexts (each one sequence). Default: one per core, at most 4. */
  contexts?: number;
  /**
   * Threads per context. Default 1. Contexts × threads is a core budget (never above the cores),
   * spent on single-thread contexts first (src/core/compute/lanes.ts): ggml's threads in one
   * context spin at a barrier per matrix product, and 1 × 2 ran at 0.12× of 2 × 1 under load.
   */
  threadsPerContext?: number;
  /** Benchmarks only: contexts × threads exactly as given, to measure what the guard-rail prevents. */
  exactLanes?: boolean;
  /** Contexts to use for the next chunk (the scheduler's say while backing off); default all. */
  activeLanes?: () => number;
  /** Overrides the model's profile (prefixes, max tokens). */
  profile?: Partial<ModelProfile>;
  /**
   * Vector size: one of the Matryoshka sizes the model was trained for (e.g. 256 for
   * EmbeddingGemma); vectors are cut and L2-normalised again. Default: the model's own size.
   */
  dimensions?: number;
  logger?: Logger;
}

let llamaPromise: Promise<{ mod: NodeLlama; llama: Llama; gpu: 'auto' | false }> | undefined;

/** One Llama runtime per process and GPU choice; loading the backend is the slow part. */
async function runtime(gpu: 'auto' | false): Promise<{ mod: NodeLlama; llama: Llama }> {
  if (!llamaPromise || (await llamaPromise).gpu !== gpu) {
    llamaPromise = (async () => {
      // ESM-only package: dynamic import keeps this loadable from a CJS bundle.
      const mod = (await import('node-llama-cpp')) as NodeLlama;
      const llama = await mod.getLlama({ gpu, build: 'never', logLevel: mod.LlamaLogLevel.error });
      return { mod, llama, gpu };
    })();
  }
  return llamaPromise;
}

/** Checks a model file before handing it to llama.cpp, which aborts the process on some bad input. */
export async function checkGgufFile(modelPath: string, kind: 'embedding' | 'chat' = 'embedding'): Promise<void> {
  const what =
    kind === 'chat'
      ? 'an answer (chat/instruct) model, e.g. Qwen2.5-Coder-1.5B-Instruct (`loupe models list`); not an embedding model'
      : 'an embedding model';
  let fh;
  try {
    fh = await fsp.open(modelPath, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new LoupeError(
      code === 'ENOENT'
        ? `Model file not found: ${modelPath} (Loupe needs ${what} here)`
        : `Model file cannot be read: ${modelPath} (${(e as Error).message})`,
      'model-missing',
    );
  }
  try {
    const head = Buffer.alloc(8);
    const { bytesRead } = await fh.read(head, 0, 8, 0);
    if (bytesRead < 8 || head.toString('latin1', 0, 4) !== 'GGUF') {
      throw new LoupeError(
        `Not a GGUF model file: ${modelPath} (it does not start with the GGUF magic bytes). Loupe needs ${what} as a GGUF file.`,
        'model-not-gguf',
      );
    }
    const version = head.readUInt32LE(4);
    if (version < 2 || version > 3) throw new LoupeError(`Unsupported GGUF version ${version} in ${modelPath}.`, 'model-not-gguf');
  } finally {
    await fh.close();
  }
}

/** L2-normalises a vector into a new Float32Array. */
export function l2normalize(v: ArrayLike<number>): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i] * inv;
  return out;
}

/** Embeds text with a GGUF model through node-llama-cpp, several single-thread contexts in parallel. */
export class LlamaEmbedder implements EmbedderPort {
  private constructor(
    readonly modelId: string,
    readonly modelName: string,
    readonly dimensions: number,
    readonly profile: ModelProfile,
    readonly computeUnit: string,
    private readonly model: LlamaModel,
    private readonly contexts: LlamaEmbeddingContext[],
    /** Matryoshka size the vectors are cut to, or undefined for whole vectors. */
    private readonly cut: number | undefined,
    readonly plan: LanePlan,
    private readonly activeLanes?: () => number,
  ) {}

  /** Loads a model; clear `LoupeError`s for a missing file, a non-GGUF file, or a model that is not an embedder. */
  static async load(opts: LlamaEmbedderOptions): Promise<LlamaEmbedder> {
    const logger = opts.logger ?? silentLogger;
    const modelPath = path.resolve(opts.modelPath);
    await checkGgufFile(modelPath);
    const fileHash = await sha256File(modelPath);
    const { llama } = await runtime(opts.gpu ?? 'auto');
    let model: LlamaModel;
    try {
      model = await llama.loadModel({ modelPath });
    } catch (e) {
      throw new LoupeError(`The model ${modelPath} could not be loaded: ${(e as Error).message}`, 'model-load-failed');
    }
    const meta = model.fileInfo.metadata as unknown as { general?: { name?: string; architecture?: string } };
    const name = meta.general?.name ?? path.basename(modelPath, '.gguf');
    const base = profileFor(name, path.basename(modelPath));
    const profile: ModelProfile = {
      ...base,
      ...opts.profile,
      // node-llama-cpp needs the input (specials included) strictly shorter than the context.
      maxTokens: Math.min(opts.profile?.maxTokens ?? base.maxTokens, model.trainContextSize - 1),
    };
    let cut: number | undefined;
    try {
      cut = checkDimensions(name, model.embeddingVectorSize, profile, opts.dimensions);
    } catch (e) {
      await model.dispose();
      throw new LoupeError((e as Error).message, 'model-dimensions');
    }
    const contextSize = profile.maxTokens + 1;
    const plan = opts.exactLanes
      ? {
          lanes: Math.max(1, opts.contexts ?? 1),
          threadsPerLane: Math.max(1, opts.threadsPerContext ?? 1),
          reason: 'exactly as given (benchmark)',
        }
      : planLanes({ cores: os.availableParallelism(), contexts: opts.contexts, threadsPerContext: opts.threadsPerContext });
    const n = plan.lanes;
    const threads = plan.threadsPerLane;
    const contexts: LlamaEmbeddingContext[] = [];
    try {
      for (let i = 0; i < n; i++) {
        contexts.push(await model.createEmbeddingContext({ contextSize, batchSize: contextSize, threads }));
      }
    } catch (e) {
      await Promise.all(contexts.map((c) => c.dispose()));
      await model.dispose();
      throw new LoupeError(`The model ${name} cannot make embeddings: ${(e as Error).message}`, 'model-load-failed');
    }
    const gpu = llama.gpu;
    const computeUnit =
      gpu && model.gpuLayers > 0
        ? `GPU: ${gpu === 'metal' ? 'Metal' : gpu === 'cuda' ? 'CUDA' : gpu === 'vulkan' ? 'Vulkan' : gpu}`
        : 'CPU';
    // A cut size is part of the identity (whole-size ids are unchanged, so existing indexes stay valid).
    const modelId = sha256(`${fileHash}|${profile.queryPrefix}|${profile.documentPrefix}${cut ? `|d${cut}` : ''}`).slice(0, 32);
    const dims = cut ?? model.embeddingVectorSize;
    logger.info(
      `Embedding model ${name}: ${dims}${cut ? ` (of ${model.embeddingVectorSize}, Matryoshka cut)` : ''} dims, ${profile.maxTokens} tokens, ${n} context(s) × ${threads} thread(s) (${plan.reason}), ${computeUnit}`,
    );
    return new LlamaEmbedder(modelId, name, dims, profile, computeUnit, model, contexts, cut, plan, opts.activeLanes);
  }

  /**
   * Recent tokenizations: the engine counts a chunk's tokens (to fit it to the context) just
   * before it embeds the same text, so the second tokenization is taken from here.
   */
  private readonly tokenCache = new Map<string, Token[]>();

  private tokenize(text: string, keep: boolean): Token[] {
    const hit = this.tokenCache.get(text);
    if (hit) {
      if (!keep) this.tokenCache.delete(text);
      return hit;
    }
    const tokens = this.model.tokenize(text);
    if (keep) {
      if (this.tokenCache.size >= 1024) this.tokenCache.delete(this.tokenCache.keys().next().value!);
      this.tokenCache.set(text, tokens);
    }
    return tokens;
  }

  countTokens(text: string): number {
    // +2 for the [CLS]/[SEP] (or BOS/EOS) the model adds around the input.
    return this.tokenize(this.profile.documentPrefix + text, true).length + 2;
  }

  private async embedOne(ctx: LlamaEmbeddingContext, text: string): Promise<Float32Array> {
    let tokens = this.tokenize(text, false);
    // Chunks are fitted to the budget before they get here; this guards queries and odd input.
    // calculateInputLength counts the specials the model adds ([CLS]/[SEP] or BOS/EOS).
    while (tokens.length && ctx.calculateInputLength(tokens) > this.profile.maxTokens) {
      tokens = tokens.slice(0, tokens.length - Math.max(1, ctx.calculateInputLength(tokens) - this.profile.maxTokens));
    }
    if (!tokens.length) return new Float32Array(this.dimensions);
    // Tracked so `dispose` never frees a context while llama.cpp decodes in it (a cancelled
    // index run used to end in SIGSEGV: the contexts were freed under a running decode).
    const pending = ctx.getEmbeddingFor(tokens);
    this.decoding.add(pending);
    let e;
    try {
      e = await pending;
    } finally {
      this.decoding.delete(pending);
    }
    return this.cut ? truncateNormalize(e.vector, this.cut) : l2normalize(e.vector);
  }

  async embedDocuments(texts: string[], signal?: AbortSignal): Promise<Float32Array[]> {
    const out: Float32Array[] = new Array(texts.length);
    let next = 0;
    // One worker per context; each context runs one sequence at a time. All workers are awaited
    // (not just the first to fail, as Promise.all would) so nothing decodes after this returns.
    await settleAll(
      this.contexts.map(async (ctx, k) => {
        while (next < texts.length) {
          signal?.throwIfAborted();
          // Re-decided per chunk: a context beyond the current share stops for this call.
          if (k > 0 && k >= (this.activeLanes?.() ?? this.contexts.length)) return;
          const i = next++;
          out[i] = await this.embedOne(ctx, this.profile.documentPrefix + texts[i]);
        }
      }),
    );
    return out;
  }

  async embedQuery(text: string, signal?: AbortSignal): Promise<Float32Array> {
    signal?.throwIfAborted();
    return this.embedOne(this.contexts[0], this.profile.queryPrefix + text);
  }

  /** Decodes running in llama.cpp now. */
  private readonly decoding = new Set<Promise<unknown>>();

  /** Frees the contexts, then the model, once no decode runs in them. */
  async dispose(): Promise<void> {
    while (this.decoding.size) await Promise.allSettled([...this.decoding]);
    await Promise.all(this.contexts.map((c) => c.dispose()));
    await this.model.dispose();
  }
}

/** Awaits every promise, then throws the first failure (Promise.all would return at the first, with others still running). */
export async function settleAll(promises: Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
