/**
 * Which model answers: MLX (mlx_lm.server) on Apple Silicon when available, else a GGUF chat
 * model in process, or any OpenAI-compatible server the user names. Pure: the caller probes
 * servers and Python and passes what it found.
 */
import type { AnswerModelKind } from './types.js';

export type AnswerPreference = 'auto' | AnswerModelKind;

export interface SelectionFacts {
  preference: AnswerPreference;
  platform: string;
  arch: string;
  /** A server answered at the configured URL (or mlx_lm.server's default port when none is configured). */
  serverRunning: boolean;
  /** The URL the user configured, if any. */
  url?: string;
  /** Python with mlx-lm was found. */
  mlxPython: boolean;
  /** Starting mlx_lm.server is allowed off Apple Silicon too (tests on Linux CPU). */
  allowMlxAnywhere?: boolean;
  /** A GGUF chat model file is available. */
  ggufPath?: string | null;
}

export type Selection =
  | { kind: 'mlx'; start: false; url: string; reason: string }
  | { kind: 'mlx'; start: true; reason: string }
  | { kind: 'openai'; url: string; reason: string }
  | { kind: 'llama'; modelPath: string; reason: string }
  | { kind: 'none'; reason: string; code: 'server-not-running' | 'model-missing' };

export const isAppleSilicon = (platform: string, arch: string): boolean => platform === 'darwin' && arch === 'arm64';

/** Decides which answer model to use, with a reason the user can read. */
export function selectAnswerModel(f: SelectionFacts, defaultUrl: string): Selection {
  const apple = isAppleSilicon(f.platform, f.arch);
  const url = f.url ?? defaultUrl;
  const mlxStartable = f.mlxPython && (apple || !!f.allowMlxAnywhere);
  const noGguf = 'No GGUF chat model is available: install an answer model (`loupe models list`) or pass --llm-model <file.gguf>.';
  switch (f.preference) {
    case 'openai':
      if (!f.url)
        return {
          kind: 'none',
          code: 'server-not-running',
          reason: 'An OpenAI-compatible server needs its URL (--llm-url http://127.0.0.1:PORT).',
        };
      return f.serverRunning
        ? { kind: 'openai', url: f.url, reason: `using the server at ${f.url}` }
        : {
            kind: 'none',
            code: 'server-not-running',
            reason: `No server answers at ${f.url}. Start it (Ollama, LM Studio, llama-server, mlx_lm.server) or choose another answer model.`,
          };
    case 'mlx':
      if (f.serverRunning) return { kind: 'mlx', start: false, url, reason: `using the mlx_lm.server already running at ${url}` };
      if (mlxStartable) return { kind: 'mlx', start: true, reason: 'starting mlx_lm.server on 127.0.0.1' };
      return {
        kind: 'none',
        code: 'server-not-running',
        reason:
          !apple && !f.allowMlxAnywhere
            ? `MLX needs Apple Silicon, and no mlx_lm.server answers at ${url}. Use the in-process model or an OpenAI-compatible server.`
            : `No mlx_lm.server answers at ${url}, and no Python with mlx-lm was found to start one (pip install mlx-lm, or set LOUPE_MLX_PYTHON).`,
      };
    case 'llama':
      return f.ggufPath
        ? { kind: 'llama', modelPath: f.ggufPath, reason: 'in-process GGUF chat model' }
        : { kind: 'none', code: 'model-missing', reason: noGguf };
    default: {
      // auto: a server the user configured wins; then MLX on Apple Silicon; then in process.
      if (f.url && f.serverRunning) return { kind: 'openai', url: f.url, reason: `using the server at ${f.url}` };
      if (apple && f.serverRunning) return { kind: 'mlx', start: false, url, reason: `using the mlx_lm.server already running at ${url}` };
      if (apple && f.mlxPython)
        return { kind: 'mlx', start: true, reason: 'Apple Silicon with mlx-lm: starting mlx_lm.server on 127.0.0.1' };
      if (f.ggufPath)
        return {
          kind: 'llama',
          modelPath: f.ggufPath,
          reason: apple ? 'no mlx-lm found: in-process GGUF chat model' : 'in-process GGUF chat model',
        };
      if (f.url)
        return {
          kind: 'none',
          code: 'server-not-running',
          reason: `No server answers at ${f.url}, and ${noGguf[0]!.toLowerCase()}${noGguf.slice(1)}`,
        };
      return { kind: 'none', code: 'model-missing', reason: apple ? `${noGguf} (Or pip install mlx-lm to answer with MLX.)` : noGguf };
    }
  }
}

/** A 4-bit mlx-community instruct model sized to the machine's memory (it must leave room for everything else). */
export function mlxModelForMemory(totalBytes: number): string {
  const gb = totalBytes / 2 ** 30;
  if (gb >= 64) return 'mlx-community/Qwen2.5-Coder-32B-Instruct-4bit';
  if (gb >= 32) return 'mlx-community/Qwen2.5-Coder-14B-Instruct-4bit';
  if (gb >= 16) return 'mlx-community/Qwen2.5-Coder-7B-Instruct-4bit';
  if (gb >= 8) return 'mlx-community/Qwen2.5-Coder-3B-Instruct-4bit';
  return 'mlx-community/Qwen2.5-Coder-1.5B-Instruct-4bit';
}
