/**
 * Every `loupe.*` setting, read in one typed place, normalised, and classified by what a change
 * needs: a re-index (model, chunking inputs), an engine restart (compute, storage), or nothing
 * (applied live). No `vscode` import: the extension passes a getter, tests pass a plain object.
 */
import type { AnswerModelParams, OpenParams } from '../core/protocol.js';
import { DEFAULT_BATCH_SIZE, gpuChoice } from '../core/defaults.js';

/** Where an index is kept. */
export type StorageLocation = 'global' | 'workspace';

export interface LoupeSettings {
  /** Embedding model file (GGUF, or .onnx with tokenizer.json beside it); empty: the bundled model. */
  embeddingModel: string;
  /** Runtime for the bundled model: `auto` (ONNX Runtime on CPU, unless an index llama.cpp built exists), `onnx`, `llama`. */
  embeddingBackend: 'auto' | 'onnx' | 'llama';
  /** Gitignore-style patterns excluded from the index. */
  exclude: string[];
  /** Gitignore-style patterns re-included although the built-in list or an ignore file excludes them. */
  include: string[];
  /** Files larger than this (KiB) are skipped. */
  maxFileSizeKB: number;
  storage: StorageLocation;
  /** `auto`: GPU when the platform offers one (Metal, CUDA, Vulkan); `cpu`: never. */
  computeDevice: 'auto' | 'cpu';
  /** Threads per embedding context (1–8). */
  computeThreads: number;
  /** Embedding contexts (lanes) run in parallel (1–4); 0: sized to the cores. */
  computeContexts: number;
  /** Chunks per unit of work at full speed. */
  computeBatchSize: number;
  computePauseOnBattery: boolean;
  computePauseWhenBusy: boolean;
  /** Back off while coding agents, local LLM servers or other processes load the machine. */
  computeBackoff: boolean;
  /** Which local model answers: `auto` (MLX on Apple Silicon when available, else a GGUF file), or forced. */
  answerProvider: 'auto' | 'mlx' | 'llama' | 'openai';
  /** GGUF chat model file (llama), model id or folder (mlx), or model name (openai); empty: none configured. */
  answerModel: string;
  /** URL of an OpenAI-compatible server (Ollama, LM Studio, llama-server, mlx_lm.server). */
  answerUrl: string;
  /** Index when a folder opens, and keep the index up to date as files change. */
  autoIndex: boolean;
  /** Results shown by the search quick pick. */
  maxResults: number;
  /** Passages retrieved for a question. */
  answerPassages: number;
}

/** What applying a changed setting takes. */
export type ChangeEffect = 'reindex' | 'restart' | 'live';

/** Setting keys (under `loupe.`) with their effect. Kept beside the reader so the two cannot drift. */
export const SETTING_EFFECTS: Record<string, ChangeEffect> = {
  'embedding.model': 'reindex',
  'embedding.backend': 'reindex',
  'files.exclude': 'reindex',
  'files.include': 'reindex',
  'files.maxFileSizeKB': 'reindex',
  'storage.location': 'restart',
  'compute.device': 'restart',
  'compute.threads': 'restart',
  'compute.contexts': 'restart',
  'compute.batchSize': 'restart',
  'compute.pauseOnBattery': 'restart',
  'compute.pauseWhenBusy': 'restart',
  'compute.backoff': 'restart',
  'answer.model': 'live',
  'answer.provider': 'live',
  'answer.url': 'live',
  'index.auto': 'live',
  'search.maxResults': 'live',
  'answer.passages': 'live',
};

/** Reads one raw setting value (`vscode.workspace.getConfiguration('loupe').get`). */
export type SettingGetter = (key: string) => unknown;

function str(v: unknown): string {
  return typeof v === 'string' ? v.trim() : '';
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string' && s.trim() !== '').map((s) => s.trim()) : [];
}

function int(v: unknown, def: number, min: number, max: number): number {
  const n = typeof v === 'number' && Number.isFinite(v) ? Math.round(v) : def;
  return Math.min(max, Math.max(min, n));
}

/** Reads and normalises every setting; out-of-range or mistyped values fall back to defaults or clamp. */
export function readSettings(get: SettingGetter): LoupeSettings {
  return {
    embeddingModel: str(get('embedding.model')),
    embeddingBackend: (['onnx', 'llama'] as const).find((b) => b === get('embedding.backend')) ?? 'auto',
    exclude: strings(get('files.exclude')),
    include: strings(get('files.include')),
    maxFileSizeKB: int(get('files.maxFileSizeKB'), 1024, 1, 1024 * 1024),
    storage: get('storage.location') === 'workspace' ? 'workspace' : 'global',
    computeDevice: get('compute.device') === 'cpu' ? 'cpu' : 'auto',
    computeThreads: int(get('compute.threads'), 1, 1, 8),
    computeContexts: int(get('compute.contexts'), 0, 0, 4),
    computeBatchSize: int(get('compute.batchSize'), DEFAULT_BATCH_SIZE, 1, 256),
    computePauseOnBattery: get('compute.pauseOnBattery') === true,
    computePauseWhenBusy: get('compute.pauseWhenBusy') === true,
    computeBackoff: get('compute.backoff') !== false,
    answerProvider: (['mlx', 'llama', 'openai'] as const).find((p) => p === get('answer.provider')) ?? 'auto',
    answerModel: str(get('answer.model')),
    answerUrl: str(get('answer.url')),
    autoIndex: get('index.auto') !== false,
    maxResults: int(get('search.maxResults'), 20, 1, 100),
    answerPassages: int(get('answer.passages'), 6, 1, 20),
  };
}

/** The strongest effect among the settings that changed (`affects` is `event.affectsConfiguration`). */
export function changeEffect(affects: (section: string) => boolean): ChangeEffect | undefined {
  let effect: ChangeEffect | undefined;
  for (const [key, e] of Object.entries(SETTING_EFFECTS)) {
    if (!affects(`loupe.${key}`)) continue;
    if (e === 'reindex') return 'reindex';
    if (e === 'restart' || !effect) effect = e;
  }
  return effect;
}

/** Engine-process open parameters for one workspace folder. */
export function openParamsFor(root: string, s: LoupeSettings, storeDir: string | undefined): OpenParams {
  return {
    root,
    storeDir,
    modelPath: s.embeddingModel || undefined,
    backend: s.embeddingBackend,
    maxFileBytes: s.maxFileSizeKB * 1024,
    // The engine's excludes share one rule list with the built-ins, so `!pattern` re-includes.
    excludes: [...s.exclude, ...s.include.map((p) => (p.startsWith('!') ? p.slice(1) : `!${p}`))],
    gpu: gpuChoice(s.computeDevice),
    contexts: s.computeContexts || undefined,
    threadsPerContext: s.computeThreads,
    batchSize: s.computeBatchSize,
    backoff: s.computeBackoff,
    pauseOnBattery: s.computePauseOnBattery,
    pauseWhenBusy: s.computePauseWhenBusy,
  };
}

/** The engine's answer-model parameters. */
export function answerParamsFor(s: LoupeSettings): AnswerModelParams {
  return {
    provider: s.answerProvider,
    model: s.answerModel || undefined,
    url: s.answerUrl || undefined,
    threads: Math.max(1, s.computeThreads * s.computeContexts),
    gpu: gpuChoice(s.computeDevice),
  };
}

/**
 * Why no answer model can be configured as the settings stand (so nothing is started to find
 * out), or undefined when one may answer. `auto` with no model may still find MLX on Apple Silicon.
 */
export function answerModelMissing(s: LoupeSettings, platform: string, arch: string, installedChatModel = false): string | undefined {
  const appleSilicon = platform === 'darwin' && arch === 'arm64';
  if (s.answerProvider === 'openai' && !s.answerUrl)
    return 'The “openai” answer provider needs “loupe.answer.url” (e.g. http://127.0.0.1:11434/v1 for Ollama).';
  if (s.answerModel || s.answerUrl || s.answerProvider === 'mlx' || (s.answerProvider === 'auto' && appleSilicon)) return undefined;
  // An answer model installed through the model manager answers when nothing else is set.
  if (installedChatModel && s.answerProvider !== 'openai') return undefined;
  return 'To get written answers, run “Loupe: Choose Answer Model…”: a local Ollama / LM Studio / llama-server, or a GGUF chat model such as Qwen2.5-Coder-1.5B-Instruct. Until then Loupe shows the passages it retrieved.';
}

/** One line for the log: the effective settings. */
export function describeSettings(s: LoupeSettings): string {
  return JSON.stringify(s);
}
