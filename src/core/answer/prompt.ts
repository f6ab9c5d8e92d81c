/**
 * Builds the answer prompt within the model's context budget: system instructions, a bounded
 * slice of the conversation so far, numbered sources (best first, the last one cut by lines if
 * only part fits) and the question. Token counts come from the model (exact for in-process
 * models, an estimate for HTTP servers, which is why a safety margin is kept).
 */
import { LoupeError } from '../types.js';
import type { ChatMessage, Citation, Source } from './types.js';
import type { Turn } from './history.js';

export const DEFAULT_SYSTEM_PROMPT =
  "You are Loupe, a coding assistant that answers questions about the user's code base. " +
  'Use only the numbered sources below; cite them inline as [1], [2]. ' +
  'If the sources do not contain the answer, say so briefly. Be concise.';

/** Tokens a chat template adds around each message (role markers, separators). */
export const MESSAGE_OVERHEAD_TOKENS = 8;
/** Fewest lines worth quoting of a source that does not fit whole. */
export const MIN_QUOTED_LINES = 3;

export interface PromptBudget {
  /** The model's context window in tokens. */
  contextSize: number;
  /** Tokens kept free for the answer. */
  maxAnswerTokens: number;
  /** Extra margin (default: 0 for exact counts; callers with estimated counts pass ~10 %). */
  marginTokens?: number;
  /** Most of the remaining budget that history may take (default 0.3). */
  historyShare?: number;
}

export interface PromptInput {
  question: string;
  sources: Source[];
  history?: readonly Turn[];
  budget: PromptBudget;
  countTokens: (text: string) => number;
  systemPrompt?: string;
}

export interface BuiltPrompt {
  messages: ChatMessage[];
  /** Sources in the prompt, numbered from 1 in prompt order. */
  citations: Citation[];
  promptTokens: number;
  /** Sources left out for lack of room. */
  droppedSources: number;
  /** Past turns included. */
  historyTurns: number;
}

/** `path:start-end` (or `path:line`). */
export function formatLines(path: string, startLine: number, endLine: number): string {
  return startLine === endLine ? `${path}:${startLine}` : `${path}:${startLine}-${endLine}`;
}

function sourceBlock(n: number, s: Source, text: string, endLine: number): string {
  const head = `[${n}] ${formatLines(s.path, s.startLine, endLine)}${s.symbol ? ` (${s.symbol})` : ''}`;
  const fence = text.includes('```') ? '~~~~' : '```';
  return `${head}\n${fence}${s.language === 'text' ? '' : s.language}\n${text.replace(/\n$/, '')}\n${fence}`;
}

function userMessage(blocks: string[], question: string): string {
  return blocks.length
    ? `Sources:\n\n${blocks.join('\n\n')}\n\nQuestion: ${question}`
    : `(No sources were found in the index.)\n\nQuestion: ${question}`;
}

/** Builds the messages; throws `context-overflow` when not even the question fits. */
export function buildAnswerPrompt(input: PromptInput): BuiltPrompt {
  const { question, budget, countTokens } = input;
  const system = input.systemPrompt ?? DEFAULT_SYSTEM_PROMPT;
  const margin = budget.marginTokens ?? 0;
  const available = budget.contextSize - budget.maxAnswerTokens - margin;
  const count = (t: string): number => countTokens(t) + MESSAGE_OVERHEAD_TOKENS;
  const base = count(system) + count(userMessage([], question));
  if (available <= 0 || base > available) {
    throw new LoupeError(
      `The question does not fit the answer model's context: it needs about ${base} tokens plus ${budget.maxAnswerTokens} for the answer, and the context holds ${budget.contextSize}. Ask a shorter question, lower the answer length, or use a model with a larger context.`,
      'context-overflow',
    );
  }
  let left = available - base;

  // History: newest turns first, within its share; what it leaves unused goes to sources.
  const history = input.history ?? [];
  const historyCap = Math.floor(left * (budget.historyShare ?? 0.3));
  const kept: ChatMessage[][] = [];
  let historyTokens = 0;
  for (let i = history.length - 1; i >= 0; i--) {
    const t = history[i]!;
    const cost = count(t.question) + count(t.answer);
    if (historyTokens + cost > historyCap) break;
    historyTokens += cost;
    kept.unshift([
      { role: 'user', content: t.question },
      { role: 'assistant', content: t.answer },
    ]);
  }
  left -= historyTokens;

  // Sources in rank order; the block's cost is its tokens plus the blank line between blocks.
  const blocks: string[] = [];
  const citations: Citation[] = [];
  let i = 0;
  for (; i < input.sources.length; i++) {
    const s = input.sources[i]!;
    const n = citations.length + 1;
    const whole = sourceBlock(n, s, s.text, s.endLine);
    const cost = countTokens(whole) + 2;
    if (cost <= left) {
      blocks.push(whole);
      citations.push({
        n,
        path: s.path,
        startLine: s.startLine,
        endLine: s.endLine,
        symbol: s.symbol,
        score: s.score,
        quotedEndLine: s.endLine,
      });
      left -= cost;
      continue;
    }
    // Cut by lines: the most leading lines that fit (binary search), if enough to be useful.
    const lines = s.text.replace(/\n$/, '').split('\n');
    let lo = 0;
    let hi = lines.length - 1;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      const b = sourceBlock(n, s, lines.slice(0, mid).join('\n'), s.startLine + mid - 1);
      if (countTokens(b) + 2 <= left) lo = mid;
      else hi = mid - 1;
    }
    if (lo >= MIN_QUOTED_LINES) {
      const end = s.startLine + lo - 1;
      const b = sourceBlock(n, s, lines.slice(0, lo).join('\n'), end);
      blocks.push(b);
      citations.push({ n, path: s.path, startLine: s.startLine, endLine: s.endLine, symbol: s.symbol, score: s.score, quotedEndLine: end });
      left -= countTokens(b) + 2;
      i++;
    }
    break;
  }

  const messages: ChatMessage[] = [
    { role: 'system', content: system },
    ...kept.flat(),
    { role: 'user', content: userMessage(blocks, question) },
  ];
  const promptTokens = messages.reduce((sum, m) => sum + count(m.content), 0);
  return { messages, citations, promptTokens, droppedSources: input.sources.length - i, historyTurns: kept.length };
}
