import type { SearchResult } from '../types.js';

/**
 * Vocabulary of local answers: chat messages, the port every answer model implements, sources
 * and citations. Pure types; the adapters (node-llama-cpp in process, an OpenAI-compatible HTTP
 * server such as mlx_lm.server, Ollama, LM Studio, llama-server) live in src/adapters/llm.
 */

export type ChatRole = 'system' | 'user' | 'assistant';

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

/** Which kind of answer model. */
export type AnswerModelKind = 'mlx' | 'llama' | 'openai';

/** Options of one generation. */
export interface GenerateOptions {
  /** Most tokens to generate. */
  maxTokens: number;
  /** 0 (default) for greedy decoding. */
  temperature?: number;
  /** Strings that end the answer (not included in it). */
  stop?: string[];
  /** Aborting stops generation and releases the request; `generate` then rejects with an AbortError. */
  signal?: AbortSignal;
  /** Called with each piece of text as it is generated. */
  onToken?: (text: string) => void;
}

/** How a generation ended. */
export interface GenerateResult {
  text: string;
  /** `stop`: the model ended or a stop string matched; `length`: maxTokens reached. */
  finishReason: 'stop' | 'length';
  /** Tokens generated, where the model reports them (or counted). */
  completionTokens?: number;
  promptTokens?: number;
  /** Milliseconds from the request to the first text. */
  firstTokenMs?: number;
}

/** What the user sees about the model that answers (status bar tooltip, CLI header). */
export interface AnswerModelInfo {
  kind: AnswerModelKind;
  /** Model name or id, e.g. `mlx-community/Qwen2.5-Coder-7B-Instruct-4bit`, `tiny-llama`. */
  name: string;
  /** Where it runs, e.g. `mlx_lm.server at http://127.0.0.1:8080 (started by Loupe)`, `in process (CPU)`. */
  where: string;
  /** Context window in tokens. */
  contextSize: number;
}

/** Which model would answer, before it is opened (status bar tooltip). */
export interface AnswerModelStatus extends AnswerModelInfo {
  /** False when no model can answer; `reason` then says what to do. */
  available: boolean;
  reason: string;
}

/** An answer model: a chat model that streams. */
export interface ChatModelPort {
  readonly info: AnswerModelInfo;
  /** Token count of a text as the model sees it; HTTP models without a tokenizer estimate. */
  countTokens(text: string): number;
  /** True when countTokens is exact (the model's own tokenizer). */
  readonly exactTokenCount: boolean;
  generate(messages: ChatMessage[], opts: GenerateOptions): Promise<GenerateResult>;
  dispose(): Promise<void>;
}

/** A retrieved piece of code that the prompt may quote: a search result with its text. */
export interface Source extends SearchResult {
  text: string;
}

/** A numbered reference: `[n]` in the answer → path and lines. */
export interface Citation {
  n: number;
  path: string;
  startLine: number;
  endLine: number;
  symbol: string | null;
  score: number;
  /** Lines actually quoted in the prompt (a source cut to fit the budget quotes fewer). */
  quotedEndLine: number;
}

/** Events of one answer, in order: `citations` once, `token`s, then `done` or `error`. */
export type AnswerEvent =
  | { kind: 'citations'; citations: Citation[]; model: AnswerModelInfo; promptTokens: number; droppedSources: number }
  | { kind: 'token'; text: string }
  | {
      kind: 'done';
      answer: string;
      citations: Citation[];
      cited: number[];
      finishReason: 'stop' | 'length';
      completionTokens?: number;
      firstTokenMs?: number;
      ms: number;
    }
  | { kind: 'error'; message: string; code: string };
