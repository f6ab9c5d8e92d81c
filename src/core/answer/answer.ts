/**
 * One retrieval-augmented answer: retrieve sources with the engine's search, build the prompt
 * within the model's budget, stream the answer, and map its `[n]` references to files and lines.
 * Every outcome is an event: `citations` first, then `token`s, then `done` — or `error` (server
 * not running, model missing, context overflow, server dying mid-stream, cancelled).
 */
import { LoupeError } from '../types.js';
import { citedNumbers } from './citations.js';
import type { ConversationHistory } from './history.js';
import { buildAnswerPrompt } from './prompt.js';
import type { AnswerEvent, ChatModelPort, Source } from './types.js';

export interface AnswerRequest {
  question: string;
  /** Retrieval: the engine's search plus the chunks' text, queried with `retrievalQuery`. */
  retrieve?: (query: string, k: number, signal?: AbortSignal) => Promise<Source[]>;
  /**
   * Or the sources themselves, retrieved and read by the caller (the Q&A panel shows these very
   * ones): then nothing is retrieved again.
   */
  sources?: Source[];
  model: ChatModelPort;
  /** Follow-ups: earlier turns go into the prompt, and this answer is added when done. */
  history?: ConversationHistory;
  /** Sources to retrieve (default 8); given sources are all offered to the prompt. */
  k?: number;
  /** Most answer tokens (default 512, at most a quarter of the context). */
  maxAnswerTokens?: number;
  temperature?: number;
  signal?: AbortSignal;
  onEvent: (e: AnswerEvent) => void;
}

export type DoneEvent = Extract<AnswerEvent, { kind: 'done' }>;

/** Turns any failure into the `error` event's message and code. */
export function describeAnswerError(e: unknown): { message: string; code: string } {
  const err = e as Error & { code?: string };
  if (err?.name === 'AbortError') return { message: 'The answer was cancelled.', code: 'cancelled' };
  if (e instanceof LoupeError) return { message: e.message, code: e.code };
  return { message: `The answer failed: ${err?.message ?? String(e)}`, code: 'answer-failed' };
}

/** The search query for a question: a follow-up such as "and where is it called?" retrieves better with the previous question. */
export function retrievalQuery(question: string, previousQuestion?: string): string {
  return previousQuestion ? `${previousQuestion}\n${question}` : question;
}

/** Answers one question; resolves with the `done` event, or emits `error` and rethrows. */
export async function answerQuestion(req: AnswerRequest): Promise<DoneEvent> {
  const t0 = performance.now();
  const { model, onEvent } = req;
  try {
    const question = req.question.trim();
    if (!question) throw new LoupeError('The question is empty.', 'bad-request');
    req.signal?.throwIfAborted();
    if (!req.sources === !req.retrieve) throw new LoupeError('An answer needs either sources or a retriever.', 'bad-request');
    const sources =
      req.sources ?? (await req.retrieve!(retrievalQuery(question, req.history?.turns.at(-1)?.question), req.k ?? 8, req.signal));
    const ctx = model.info.contextSize;
    const maxAnswerTokens = Math.max(16, Math.min(req.maxAnswerTokens ?? 512, Math.floor(ctx / 4)));
    const prompt = buildAnswerPrompt({
      question,
      sources,
      history: req.history?.turns,
      budget: { contextSize: ctx, maxAnswerTokens, marginTokens: model.exactTokenCount ? 16 : Math.ceil(ctx * 0.1) },
      countTokens: (t) => model.countTokens(t),
    });
    onEvent({
      kind: 'citations',
      citations: prompt.citations,
      model: model.info,
      promptTokens: prompt.promptTokens,
      droppedSources: prompt.droppedSources,
    });
    const r = await model.generate(prompt.messages, {
      maxTokens: maxAnswerTokens,
      temperature: req.temperature ?? 0,
      signal: req.signal,
      onToken: (text) => onEvent({ kind: 'token', text }),
    });
    req.history?.add(question, r.text);
    const done: DoneEvent = {
      kind: 'done',
      answer: r.text,
      citations: prompt.citations,
      cited: citedNumbers(r.text, prompt.citations.length),
      finishReason: r.finishReason,
      completionTokens: r.completionTokens,
      firstTokenMs: r.firstTokenMs,
      ms: performance.now() - t0,
    };
    onEvent(done);
    return done;
  } catch (e) {
    onEvent({ kind: 'error', ...describeAnswerError(e) });
    throw e;
  }
}
