import type { EngineStatus, SearchFilter, SearchMode } from './engine.js';
import type { EngineState, IndexProgress, IndexSummary, SearchResult } from './types.js';
import type { AnswerEvent, AnswerModelInfo, AnswerModelStatus, Citation, Source } from './answer/types.js';
import type { ComputeStatus } from './compute/status.js';
import type { AnswerPreference } from './answer/select.js';
import type { ExportSummary } from './projector-export.js';

/**
 * The engine process's protocol: typed requests with responses, and events. Both sides import
 * these types; messages travel over Node's IPC channel (structured clone) to an engine the
 * extension forked, or as newline-delimited JSON over the shared engine's local socket
 * (src/adapters/engine-socket.ts), where every connection starts with `hello`.
 */

/**
 * Version of this protocol. A client and a shared engine of different versions refuse each other
 * at `hello` (code `version-skew`); an engine with no other client then exits so the new client
 * can start its own.
 */
export const PROTOCOL_VERSION = 1;

/** What a shared engine says about itself at `hello`. */
export interface HelloResult {
  protocol: number;
  /** Loupe's package version. */
  version: string;
  pid: number;
  /** Clients connected now (this one included). */
  clients: number;
  /** The open index, or null before the first `open`. */
  root: string | null;
  storeDir: string | null;
}

/** Code similar to a place in an indexed file. */
export interface RelatedParams {
  /** Path relative to the root (`/` separators). */
  path: string;
  /** 1-based line inside the chunk to start from (default: the file's first chunk). */
  line?: number;
  k?: number;
  /** Who asks (an agent's name): marks an agent as active for the compute scheduler. */
  agent?: string;
}

/** `sync`: bring the index up to date with the files on disk, waiting at most `maxWaitMs`. */
export interface SyncResult {
  /** True when the index reflects the files on disk as of this request. */
  fresh: boolean;
  /** Why not: an index run in progress, or the wait ran out (the run continues). */
  reason?: string;
  /** Milliseconds since the last completed scan of the folder, null when none completed in this engine. */
  scannedAgoMs: number | null;
  summary?: IndexSummary;
}

/** Settings to open an engine with (the engine process builds its adapters from them). */
export interface OpenParams {
  /** Folder to index. */
  root: string;
  /** Index folder; default `<root>/.loupe`. */
  storeDir?: string;
  /** Embedding model: a GGUF (llama.cpp) or an `.onnx` with tokenizer.json beside it (ONNX Runtime); default: the bundled model. */
  modelPath?: string;
  /** A Matryoshka size to cut vectors to (one the model was trained for); default: whole vectors. */
  dimensions?: number;
  /**
   * Embedding runtime for the bundled model: `auto` (default) ONNX Runtime when its model is
   * bundled, except for an index llama.cpp built; `onnx`; or `llama` (llama.cpp, GPUs).
   */
  backend?: 'auto' | 'onnx' | 'llama';
  rebuild?: boolean;
  maxFileBytes?: number;
  excludes?: string[];
  batchSize?: number;
  annThreshold?: number;
  /** false: CPU only. */
  gpu?: 'auto' | false;
  contexts?: number;
  threadsPerContext?: number;
  /**
   * Contention-aware back-off (src/core/compute): shrink units of work and rest between them while
   * coding agents, local LLM servers or other processes load the unit Loupe embeds on; with a GPU,
   * route embedding to the CPU while another process holds the GPU. Default false (fixed pacing).
   */
  backoff?: boolean;
  /** With `backoff`: pause embedding (instead of slowing it) while the machine runs on battery. */
  pauseOnBattery?: boolean;
  /** With `backoff`: pause embedding (instead of slowing it) under heavy load (≥ 85 % on its unit). */
  pauseWhenBusy?: boolean;
  /**
   * Open paused, with this reason: the user's pause is engine state, so an engine restarted after a
   * crash gets it back (EngineClient keeps it current from `pause`/`resume`).
   */
  paused?: { reason?: string };
}

/**
 * Which local model answers questions. `provider` `auto` (default) picks MLX (mlx_lm.server) on
 * Apple Silicon when available, else a GGUF chat model in process (`model`, or LOUPE_CHAT_MODEL);
 * `openai` uses any OpenAI-compatible server at `url` (Ollama, LM Studio, llama-server).
 * src/adapters/llm/open-answer-model.ts AnswerModelConfig extends these with in-process options.
 */
export interface AnswerModelParams {
  /** `auto` (default): MLX on Apple Silicon when available, else in process; or force one. */
  provider?: AnswerPreference;
  /** URL of a running OpenAI-compatible server (or of mlx_lm.server; default http://127.0.0.1:8080). */
  url?: string;
  /** GGUF file (in process), or model id / MLX folder (mlx), or `model` field (openai). */
  model?: string;
  /** Python with mlx-lm (default: LOUPE_MLX_PYTHON, python3, python). */
  python?: string;
  /** Allow starting mlx_lm.server off Apple Silicon (CPU mlx on Linux; tests). */
  allowMlxAnywhere?: boolean;
  /** Context window to budget for (default: in process the model's (≤ 8192); MLX the model's config or 8192). */
  contextSize?: number;
  /** In-process generation threads. */
  threads?: number;
  gpu?: 'auto' | false;
  /** Stop an mlx_lm.server Loupe started after this long unused (default 10 min; 0 = keep until dispose). */
  idleStopMs?: number;
  /** Extra request-body fields for HTTP servers. */
  extraBody?: Record<string, unknown>;
}

/**
 * `ask`: a retrieval-augmented answer. While it runs the engine sends `answer` events with the
 * same jobId: `citations` (numbered sources [n] → path and lines, and the model), `token`s
 * (streamed text), then `done` or `error` (code `cancelled`, `server-not-running`,
 * `model-missing`, `context-overflow`, `server-died`, `server-timeout`, …). `cancel({jobId})`
 * stops generation. Questions with the same `conversationId` are follow-ups (bounded history).
 */
export interface AskParams {
  jobId: string;
  question: string;
  conversationId?: string;
  /** Sources to retrieve (default 8). */
  k?: number;
  /**
   * Answer from these sources (retrieved and read by the caller, e.g. across every folder of a
   * VS Code workspace) instead of retrieving: the prompt quotes them in this order, as far as
   * they fit. The `citations` event numbers them from 1 in the same order.
   */
  sources?: Source[];
  /** Longest answer in tokens (default 512). */
  maxTokens?: number;
  llm?: AnswerModelParams;
}

export interface AskResult {
  answer: string;
  citations: Citation[];
  /** Citation numbers the answer actually used. */
  cited: number[];
  finishReason: 'stop' | 'length';
  model: AnswerModelInfo;
}

/** Method name → [params, result]. */
export interface EngineMethods {
  open: [OpenParams, EngineStatus];
  index: [{ jobId: string }, IndexSummary];
  search: [{ query: string; k?: number; mode?: SearchMode; filter?: SearchFilter; agent?: string }, SearchResult[]];
  /** Code similar to a chunk of an indexed file (its vector as the query). */
  related: [RelatedParams, SearchResult[]];
  /** Brings the index up to date (changed files only) unless an index run is going; see SyncResult. */
  sync: [{ maxWaitMs?: number; agent?: string }, SyncResult];
  /** Shared engine only: the first request on a connection (protocol version check). */
  hello: [{ protocol: number; client: string }, HelloResult];
  /** Shared engine only: stop the engine for every client (`close` only ends this client's use). */
  shutdown: [Record<string, never>, null];
  status: [Record<string, never>, EngineStatus];
  watch: [{ on: boolean }, { watching: boolean; how: string }];
  cancel: [{ jobId: string }, { cancelled: boolean }];
  pause: [{ reason?: string }, null];
  resume: [Record<string, never>, null];
  close: [Record<string, never>, null];
  /** Answers a question (see AskParams); the result repeats the `done` event. */
  ask: [AskParams, AskResult];
  /** Which model answers (`loupe mcp` offers `ask` only when one does): the open one, else what would be chosen; loads and starts nothing. */
  answerModel: [{ llm?: AnswerModelParams }, AnswerModelStatus];
  /** Drops a conversation's history. */
  forgetConversation: [{ conversationId: string }, { forgotten: boolean }];
  /**
   * Writes the index as TensorFlow Embedding Projector files into `outDir` (from the engine's own
   * store, so the extension host opens no index). Throws `empty-index` when nothing is indexed yet.
   */
  exportProjector: [{ outDir: string }, ExportSummary];
  /** Hardware and back-off state for the status bar (null before `open`). Also sent as `compute` events when it changes. */
  compute: [Record<string, never>, ComputeStatus | null];
}

export type MethodName = keyof EngineMethods;

export interface RequestMessage<M extends MethodName = MethodName> {
  type: 'request';
  id: number;
  method: M;
  params: EngineMethods[M][0];
}

export type ResponseMessage =
  | { type: 'response'; id: number; ok: true; result: unknown }
  | { type: 'response'; id: number; ok: false; error: { message: string; code?: string; aborted?: boolean } };

export type EventMessage =
  | { type: 'event'; event: 'state'; state: EngineState }
  | { type: 'event'; event: 'progress'; jobId: string; progress: IndexProgress }
  | { type: 'event'; event: 'log'; level: 'info' | 'warn' | 'error' | 'debug'; message: string }
  | { type: 'event'; event: 'indexed'; summary: IndexSummary }
  | ({ type: 'event'; event: 'answer'; jobId: string } & AnswerEvent)
  | { type: 'event'; event: 'compute'; compute: ComputeStatus };

export type EngineMessage = ResponseMessage | EventMessage;

/** True when `m` has the shape of a request (validated at the process boundary). */
export function isRequest(m: unknown): m is RequestMessage {
  const r = m as RequestMessage;
  return !!r && r.type === 'request' && Number.isInteger(r.id) && typeof r.method === 'string' && typeof r.params === 'object';
}
