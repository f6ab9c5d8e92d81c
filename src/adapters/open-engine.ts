import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from '../core/engine.js';
import { schedulerConfigFor } from '../core/compute/scheduler.js';
import type { OpenParams } from '../core/protocol.js';
import { LoupeError, type Logger } from '../core/types.js';
import { tryHnswFactory } from './hnsw-index.js';
import { LlamaEmbedder } from './llama-embedder.js';
import { BUNDLED_ONNX_INT8_MODEL, BUNDLED_ONNX_MODEL, OnnxEmbedder } from './onnx-embedder.js';
import { readManifest } from '../core/store.js';
import { activeLanes } from '../core/compute/lanes.js';
import type { EmbedderPort } from '../core/types.js';
import * as os from 'node:os';
import { TreeSitterChunker } from './treesitter-chunker.js';
import { ComputeController } from './compute/compute.js';
import { RoutingEmbedder, type Backend } from './compute/routing-embedder.js';
import { tryAneBackend } from './compute/ane-backend.js';
import type { ComputeStatus } from '../core/compute/status.js';
import { storeDirFor } from '../core/defaults.js';
import { ModelManager } from '../core/models/manager.js';

/** Settings a front end (CLI, engine process, extension) passes to build an engine: the protocol's `open` parameters plus a logger. */
export interface EngineConfig extends OpenParams {
  logger?: Logger;
  /** With `backoff`: called when the compute state (explanation, unit) changes. */
  onCompute?: (c: ComputeStatus) => void;
  /** A reader (one-shot search, ask): takes no writer lock and writes nothing to the store. */
  readOnly?: boolean;
}

/** The package's root folder (where `models/` lives), from this file's place in `out/` or `dist/`. */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'models'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error('Cannot find the Loupe package root (models/ folder)');
}

/** Bundled models, best first: a real converted model if shipped, else the generated test model. */
export const BUNDLED_MODELS = ['models/all-MiniLM-L6-v2.Q8_0.gguf', 'models/generated/loupe-tiny-bert.gguf'];

/** Path of the default embedding model. */
export function defaultModelPath(): string {
  const root = packageRoot();
  for (const rel of BUNDLED_MODELS) {
    const p = path.join(root, rel);
    if (existsSync(p)) return p;
  }
  throw new LoupeError(
    `No bundled embedding model found under ${path.join(root, 'models')}. Run \`npm run build\` (it generates the default model) or pass --model <file.gguf>.`,
    'model-missing',
  );
}

/** Paths of the bundled ONNX models that exist, best first: int8 (when built), then fp32 (scripts/fetch-onnx-model.mjs). */
/**
 * Which bundled runtime an index with this model id was built on (`ONNX Runtime int8`, …), for
 * `loupe status` without a running engine; null when it is not a bundled ONNX model (llama.cpp
 * or a model given with --model).
 */
export function bundledRuntimeOf(modelId: string, onnxPaths: string[] = bundledOnnxPaths()): string | null {
  const p = onnxPaths.find((candidate) => OnnxEmbedder.modelIdFor(candidate) === modelId);
  return p ? OnnxEmbedder.runtimeOf(p) : null;
}

export function bundledOnnxPaths(): string[] {
  const root = packageRoot();
  return [BUNDLED_ONNX_INT8_MODEL, BUNDLED_ONNX_MODEL].map((rel) => path.join(root, rel)).filter((p) => existsSync(p));
}

/** Path of the best bundled ONNX model, or null when none was fetched. */
export function bundledOnnxPath(): string | null {
  return bundledOnnxPaths()[0] ?? null;
}

/** The embedding backend an engine will use, and why. */
export interface BackendChoice {
  backend: 'onnx' | 'llama';
  modelPath: string;
  reason: string;
}

/**
 * Picks the backend: a `.onnx` model runs on ONNX Runtime, a `.gguf` on llama.cpp. With no model
 * given, `auto` takes the bundled MiniLM on ONNX Runtime (int8 where it was built, else fp32;
 * docs/performance.md), except for an existing index built by another model: an index stays on
 * the model that built it (their vectors differ beyond the parity gate) until `--rebuild`: an
 * fp32 ONNX index stays on fp32, a llama.cpp index on llama.cpp.
 */
export function chooseBackend(
  cfg: Pick<EngineConfig, 'modelPath' | 'backend' | 'root' | 'storeDir' | 'rebuild'>,
  onnxModelId?: (p: string) => string | null,
  onnxPaths: string[] = bundledOnnxPaths(),
): BackendChoice {
  if (cfg.modelPath) {
    const onnx = cfg.modelPath.toLowerCase().endsWith('.onnx');
    if (cfg.backend === 'onnx' && !onnx)
      throw new LoupeError(`--backend onnx needs an .onnx model, not ${cfg.modelPath}`, 'model-load-failed');
    return { backend: onnx ? 'onnx' : 'llama', modelPath: cfg.modelPath, reason: 'model file given' };
  }
  const candidates = cfg.backend === 'llama' ? [] : onnxPaths;
  const onnx = candidates[0] ?? null;
  if (cfg.backend === 'onnx' && !onnx)
    throw new LoupeError(
      `The bundled ONNX model is missing (${BUNDLED_ONNX_MODEL}); run \`npm run build\` (it fetches it).`,
      'model-missing',
    );
  if (!onnx)
    return {
      backend: 'llama',
      modelPath: defaultModelPath(),
      reason: cfg.backend === 'llama' ? 'llama.cpp asked for' : 'no ONNX model bundled',
    };
  if (!cfg.rebuild) {
    const m = readManifest(storeDirFor(cfg.root, cfg.storeDir));
    if (m) {
      const same = onnxModelId ? candidates.find((p) => onnxModelId(p) === m.modelId) : undefined;
      if (same)
        return {
          backend: 'onnx',
          modelPath: same,
          reason:
            same === onnx
              ? 'bundled model on ONNX Runtime'
              : 'the existing index was built by this ONNX model; --rebuild moves it to the faster one',
        };
      if (cfg.backend !== 'onnx')
        return {
          backend: 'llama',
          modelPath: defaultModelPath(),
          reason: 'the existing index was built by llama.cpp; --rebuild moves it to ONNX Runtime',
        };
    }
  }
  return { backend: 'onnx', modelPath: onnx, reason: 'bundled model on ONNX Runtime' };
}

/** An engine on the real adapters, with what it owns; `close()` closes all of it. */
export interface OpenedEngine {
  engine: Engine;
  /** The primary embedder (for a RoutingEmbedder, its first backend). */
  embedder: EmbedderPort;
  chunker: TreeSitterChunker;
  /** The compute controller when opened with `backoff`. */
  compute?: ComputeController;
  /** Closes the engine, then the chunker, the compute controller and every embedder backend. */
  close(): Promise<void>;
}

/**
 * Whether onnxruntime-node is installed with a binary for this platform (it is an optional
 * dependency; a platform VSIX carries only its own binary, and none exists for Intel macOS).
 */
export function onnxRuntimeInstalled(): boolean {
  try {
    const dir = path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
    return existsSync(path.join(dir, 'bin', 'napi-v6', process.platform, process.arch, 'onnxruntime_binding.node'));
  } catch {
    return false;
  }
}

/** ONNX Runtime could not start a session: `auto` falls back to llama.cpp for a new index. */
class OnnxUnavailable extends Error {}

/**
 * The installed model (`loupe models`) that built the existing index, for a command that names no
 * model: an index is searched and updated with the model that made it, so `loupe search <dir>`
 * after `loupe index <dir> --model embeddinggemma-300m --dims 512` uses that model again, at the
 * index's dimensions, instead of refusing with the bundled one. Matched on the name the index
 * records (the GGUF's `general.name`): an installed id or file name first, then each installed
 * file's header. Null for the bundled MiniLM's indexes, and when nothing installed matches (the
 * model-mismatch error then says what to do).
 */
export async function installedModelOfIndex(
  cfg: Pick<EngineConfig, 'root' | 'storeDir'>,
  manager: ModelManager = new ModelManager(),
): Promise<{ modelPath: string; dimensions: number; modelName: string } | null> {
  const m = readManifest(storeDirFor(cfg.root, cfg.storeDir));
  // The bundled model's indexes: the default path serves them (ONNX Runtime or llama.cpp).
  if (!m || /^all-minilm-l6-v2$/i.test(m.modelName)) return null;
  let installed;
  try {
    installed = manager.installed().filter((r) => existsSync(r.path));
  } catch {
    return null;
  }
  const found = (modelPath: string) => ({ modelPath, dimensions: m.dimensions, modelName: m.modelName });
  const name = m.modelName.toLowerCase();
  const cheap = installed.find((r) => r.id.toLowerCase() === name || path.basename(r.file, '.gguf').toLowerCase() === name);
  if (cheap) return found(cheap.path);
  const { readGgufFileInfo } = await import('node-llama-cpp');
  for (const r of installed) {
    try {
      const info = await readGgufFileInfo(r.path, { readTensorInfo: false, logWarnings: false });
      const general = (info.metadata as unknown as { general?: { name?: string } }).general;
      if ((general?.name ?? path.basename(r.path, '.gguf')) === m.modelName) return found(r.path);
    } catch {
      // Not readable as GGUF: not this index's model.
    }
  }
  return null;
}

/** Wires the real adapters into an engine. */
export async function openEngine(cfg: EngineConfig): Promise<OpenedEngine> {
  if (!cfg.modelPath && !cfg.rebuild && cfg.backend !== 'onnx') {
    const own = await installedModelOfIndex(cfg);
    if (own) {
      cfg.logger?.info(`Model: ${own.modelPath} (installed; it built this index, ${own.dimensions} dims)`);
      cfg = { ...cfg, modelPath: own.modelPath, dimensions: cfg.dimensions ?? own.dimensions };
    }
  }
  let choice = chooseBackend(cfg, OnnxEmbedder.modelIdFor);
  // `auto` on the bundled model: llama.cpp serves when ONNX Runtime is missing or cannot load, as
  // long as no ONNX-built index is waiting (that one needs the same model; it says why it failed).
  const auto = !cfg.modelPath && cfg.backend !== 'onnx';
  if (choice.backend === 'onnx' && auto && !onnxRuntimeInstalled())
    choice = { backend: 'llama', modelPath: defaultModelPath(), reason: 'ONNX Runtime is not installed for this platform' };
  cfg.logger?.info(`Embedding backend: ${choice.backend === 'onnx' ? 'ONNX Runtime' : 'llama.cpp'} (${choice.reason})`);
  if (choice.backend === 'onnx') {
    const fresh = auto && (!!cfg.rebuild || !readManifest(storeDirFor(cfg.root, cfg.storeDir)));
    try {
      return await openOnnxEngine(cfg, choice.modelPath, fresh);
    } catch (e) {
      if (!(e instanceof OnnxUnavailable)) throw e;
      cfg.logger?.warn(`ONNX Runtime could not start (${e.message}); embedding with llama.cpp instead`);
      choice = { backend: 'llama', modelPath: defaultModelPath(), reason: 'ONNX Runtime could not start' };
    }
  }
  let lanesCompute: ComputeController | undefined;
  const lanesFor = (e: () => LlamaEmbedder) => (): number => {
    const c = lanesCompute?.pacer.compute;
    return c
      ? activeLanes(e().plan, { cores: os.availableParallelism(), mode: c.mode, cpuOthers: c.sample?.cpuOthers ?? null })
      : Number.MAX_SAFE_INTEGER;
  };
  const embedder: LlamaEmbedder = await LlamaEmbedder.load({
    modelPath: choice.modelPath,
    dimensions: cfg.dimensions,
    gpu: cfg.gpu,
    contexts: cfg.contexts,
    threadsPerContext: cfg.threadsPerContext,
    logger: cfg.logger,
    activeLanes: lanesFor(() => embedder),
  });
  const chunker = newChunker(cfg);
  let owned: Owned | undefined;
  try {
    // Back-off on: the contention-aware pacer replaces FixedPacer; with a GPU, a second copy of the
    // same GGUF on the CPU lets the dispatcher move embedding off a GPU another process holds.
    // On Apple Silicon, the Neural Engine joins when its helper and Core ML model are installed and
    // its vectors pass the parity gate against this GGUF (src/adapters/compute/ane-backend.ts).
    let compute: ComputeController | undefined;
    let engineEmbedder: LlamaEmbedder | RoutingEmbedder = embedder;
    let closeAne: (() => Promise<void>) | undefined;
    if (cfg.backoff) {
      const backends: Backend[] = [{ unit: embedder.computeUnit.startsWith('GPU') ? 'gpu' : 'cpu', embedder, sharesIndex: true }];
      if (embedder.computeUnit.startsWith('GPU')) {
        const cpu: LlamaEmbedder = await LlamaEmbedder.load({
          modelPath: choice.modelPath,
          dimensions: cfg.dimensions,
          gpu: false,
          contexts: cfg.contexts,
          threadsPerContext: cfg.threadsPerContext,
          logger: cfg.logger,
          activeLanes: lanesFor(() => cpu),
        });
        backends.push({ unit: 'cpu', embedder: cpu, sharesIndex: true });
      }
      if (process.platform === 'darwin') {
        const ane = await tryAneBackend({
          gguf: embedder,
          modelPath: choice.modelPath,
          storeDir: storeDirFor(cfg.root, cfg.storeDir),
          packageRoot: packageRoot(),
          logger: cfg.logger,
        });
        if (ane) {
          backends.push(ane.backend);
          closeAne = ane.close;
        }
      }
      if (backends.length > 1) engineEmbedder = new RoutingEmbedder(backends, () => compute?.latestSample() ?? null, cfg.logger);
      compute = new ComputeController(engineEmbedder, { logger: cfg.logger, onStatus: cfg.onCompute, config: schedulerConfigFor(cfg) });
      lanesCompute = compute;
      void compute.detect().catch(() => undefined);
    }
    owned = { compute, routed: engineEmbedder, closeAne };
    const engine = await Engine.open({
      root: cfg.root,
      storeDir: cfg.storeDir,
      chunker,
      embedder: engineEmbedder,
      pacer: compute?.pacer,
      annFactory: tryHnswFactory(cfg.logger),
      logger: cfg.logger,
      maxFileBytes: cfg.maxFileBytes,
      excludes: cfg.excludes,
      batchSize: cfg.batchSize,
      annThreshold: cfg.annThreshold,
      rebuild: cfg.rebuild,
      readOnly: cfg.readOnly,
    });
    return opened(engine, embedder, chunker, owned);
  } catch (e) {
    await release(embedder, chunker, owned);
    throw e;
  }
}

/**
 * The engine on ONNX Runtime: the same wiring without GPU routing (llama.cpp keeps GPUs). With
 * back-off, the compute controller's mode and load sample decide how many lanes run per group.
 */
async function openOnnxEngine(cfg: EngineConfig, modelPath: string, fallback = false): Promise<OpenedEngine> {
  let compute: ComputeController | undefined;
  const embedder = await OnnxEmbedder.load({
    modelPath,
    contexts: cfg.contexts,
    threadsPerContext: cfg.threadsPerContext,
    logger: cfg.logger,
    activeLanes: () => {
      if (!compute) return Number.MAX_SAFE_INTEGER;
      const c = compute.pacer.compute;
      return activeLanes(embedder.plan, { cores: os.availableParallelism(), mode: c.mode, cpuOthers: c.sample?.cpuOthers ?? null });
    },
  });
  if (fallback) {
    // A new index may still go to llama.cpp: wait for the first session before choosing for good.
    try {
      await embedder.firstLaneMs;
    } catch (e) {
      await embedder.dispose().catch(() => undefined);
      throw new OnnxUnavailable((e as Error).message);
    }
  }
  const chunker = newChunker(cfg);
  try {
    if (cfg.backoff) {
      compute = new ComputeController(embedder, { logger: cfg.logger, onStatus: cfg.onCompute, config: schedulerConfigFor(cfg) });
      void compute.detect().catch(() => undefined);
    }
    const engine = await Engine.open({
      root: cfg.root,
      storeDir: cfg.storeDir,
      chunker,
      embedder,
      pacer: compute?.pacer,
      annFactory: tryHnswFactory(cfg.logger),
      logger: cfg.logger,
      maxFileBytes: cfg.maxFileBytes,
      excludes: cfg.excludes,
      batchSize: cfg.batchSize,
      annThreshold: cfg.annThreshold,
      rebuild: cfg.rebuild,
      readOnly: cfg.readOnly,
    });
    return opened(engine, embedder, chunker, { compute, routed: embedder });
  } catch (e) {
    await release(embedder, chunker, { compute, routed: embedder });
    throw e;
  }
}

function newChunker(cfg: EngineConfig): TreeSitterChunker {
  // Inside a bundle (dist/), grammars and web-tree-sitter's wasm are copied beside it.
  const here = path.dirname(fileURLToPath(import.meta.url));
  const bundled = existsSync(path.join(here, 'grammars'));
  return new TreeSitterChunker(
    bundled
      ? { grammarDir: path.join(here, 'grammars'), webTreeSitterWasm: path.join(here, 'tree-sitter.wasm'), logger: cfg.logger }
      : { logger: cfg.logger },
  );
}

/** What an opened engine owns besides the engine, chunker and primary embedder. */
interface Owned {
  compute?: ComputeController;
  /** The embedder the engine uses: the primary one, or a RoutingEmbedder over all backends. */
  routed: EmbedderPort;
  closeAne?: () => Promise<void>;
}

function opened(engine: Engine, embedder: EmbedderPort, chunker: TreeSitterChunker, owned: Owned): OpenedEngine {
  let closing: Promise<void> | undefined;
  return {
    engine,
    embedder,
    chunker,
    compute: owned.compute,
    close: () => (closing ??= engine.close().then(() => release(embedder, chunker, owned))),
  };
}

/** Disposes the chunker, the compute controller and the embedder backends (the engine is closed first, or never opened). */
async function release(embedder: EmbedderPort, chunker: TreeSitterChunker, owned: Owned | undefined): Promise<void> {
  chunker.dispose();
  owned?.compute?.dispose();
  if (owned?.routed instanceof RoutingEmbedder) await owned.routed.dispose();
  else await embedder.dispose();
  await owned?.closeAne?.();
}

/** The compute controller of an engine opened with `backoff` (undefined otherwise). */
export function computeControllerOf(parts: OpenedEngine): ComputeController | undefined {
  return parts.compute;
}

/** Closes what `openEngine` opened (same as `parts.close()`). */
export async function closeEngine(parts: OpenedEngine): Promise<void> {
  await parts.close();
}
