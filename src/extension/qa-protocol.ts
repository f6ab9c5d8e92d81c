/**
 * Messages between the Q&A webview (src/webview/qa-panel.js, bundled to dist/webview/qa.js) and
 * the extension. The webview is untrusted input to the extension: every inbound message is checked
 * by `parseFromWebview`.
 */
import type { Passage } from './passages.js';

/** One question and what came back, as kept in the history (extension side, workspace state). */
export interface Turn {
  id: string;
  question: string;
  passages: Passage[];
  answer: string;
  /** `streaming` while tokens arrive; `noModel` when no answer model is configured. */
  status: 'retrieving' | 'streaming' | 'done' | 'stopped' | 'noModel' | 'error';
  /** Explanation for `noModel` and `error`. */
  note?: string;
}

/** Extension → webview. */
export type ToWebview =
  | { type: 'init'; turns: Turn[]; answerModel: string | null; busy: boolean }
  | { type: 'turn'; turn: Turn }
  | { type: 'token'; id: string; text: string }
  | { type: 'busy'; busy: boolean }
  | { type: 'focusInput'; question?: string };

/** Webview → extension. */
export type FromWebview =
  | { type: 'ready' }
  | { type: 'ask'; question: string }
  | { type: 'stop' }
  | { type: 'open'; turnId: string; n: number }
  | { type: 'clear' }
  | { type: 'configure' };

/** Validates a message from the webview; undefined for anything malformed. */
export function parseFromWebview(m: unknown): FromWebview | undefined {
  if (!m || typeof m !== 'object') return undefined;
  const r = m as Record<string, unknown>;
  switch (r.type) {
    case 'ready':
    case 'stop':
    case 'clear':
    case 'configure':
      return { type: r.type };
    case 'ask':
      return typeof r.question === 'string' && r.question.trim() && r.question.length <= 4000
        ? { type: 'ask', question: r.question.trim() }
        : undefined;
    case 'open':
      return typeof r.turnId === 'string' && Number.isInteger(r.n) && (r.n as number) > 0
        ? { type: 'open', turnId: r.turnId, n: r.n as number }
        : undefined;
    default:
      return undefined;
  }
}
