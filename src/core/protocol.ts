import type { EngineStatus, SearchMode } from './engine.js';
import type { EngineState, IndexProgress, IndexSummary, SearchResult } from './types.js';

/**
 * The engine process's protocol: typed requests with responses, and events. Both sides import
 * these types; messages travel over Node's IPC channel (structured clone).
 */

/** Settings to open an engine with (the engine process builds its adapters from them). */
export interface OpenParams {
  root: string;
  storeDir?: string;
  modelPath?: string;
  rebuild?: boolean;
  maxFileBytes?: number;
  excludes?: string[];
  batchSize?: number;
  annThreshold?: number;
  gpu?: 'auto' | false;
  contexts?: number;
  threadsPerContext?: number;
}

/** Method name → [params, result]. */
export interface EngineMethods {
  open: [OpenParams, EngineStatus];
  index: [{ jobId: string }, IndexSummary];
  updatePaths: [{ jobId: string; changed: string[]; deleted: string[] }, IndexSummary];
  search: [{ query: string; k?: number; mode?: SearchMode }, SearchResult[]];
  status: [Record<string, never>, EngineStatus];
  watch: [{ on: boolean }, { watching: boolean; how: string }];
  cancel: [{ jobId: string }, { cancelled: boolean }];
  pause: [{ reason?: string }, null];
  resume: [Record<string, never>, null];
  close: [Record<string, never>, null];
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
  | { type: 'event'; event: 'indexed'; summary: IndexSummary };

export type EngineMessage = ResponseMessage | EventMessage;

/** True when `m` has the shape of a request (validated at the process boundary). */
export function isRequest(m: unknown): m is RequestMessage {
  const r = m as RequestMessage;
  return !!r && r.type === 'request' && Number.isInteger(r.id) && typeof r.method === 'string' && typeof r.params === 'object';
}
