/**
 * Answers for the Q&A panel over the engine process's `ask`. No `vscode` import, so it is tested
 * under plain Node against the real engine process.
 */
import * as path from 'node:path';
import { LoupeError, type Logger } from '../core/types.js';
import type { EngineSession } from './engine-session.js';
import { readPassages, type Passage } from './passages.js';
import { answerModelMissing, answerParamsFor, type LoupeSettings } from './settings.js';

/** Generates answers; implemented over the engine process's `ask`. */
export interface Answerer {
  /** Why no answer can be generated as configured (shown in the panel), or undefined when one may be. */
  unavailable(): string | undefined;
  /** The configured answer model's name, or null. */
  modelName(): string | null;
  /**
   * Streams an answer to `question`; `conversationId` links follow-ups. `onCitations` replaces the
   * passages with the ones the answer's [n] refer to. Rejects with an AbortError when `signal`
   * aborts, and with a LoupeError coded `model-missing` / `server-not-running` when no model answers.
   */
  answer(question: string, conversationId: string, passages: Passage[], signal: AbortSignal, on: { citations(p: Passage[]): void; token(text: string): void }): Promise<void>;
  /** Drops a conversation's history in the engine. */
  forget(conversationId: string): void;
}

export interface AnswererHost {
  /** The open engine sessions, one per workspace folder. */
  sessions(): Iterable<EngineSession>;
  settings(): LoupeSettings;
  readonly log: Logger;
  platform?: string;
  arch?: string;
}

/** The answerer over the engine process's `ask`, asked in the folder of the best passage. */
export function engineAnswerer(host: AnswererHost): Answerer {
  return {
    modelName: () => {
      const s = host.settings();
      return s.answerModel ? path.basename(s.answerModel) : s.answerUrl ? s.answerUrl : null;
    },
    unavailable: () => answerModelMissing(host.settings(), host.platform ?? process.platform, host.arch ?? process.arch),
    async answer(question, conversationId, passages, signal, on) {
      const sessions = [...host.sessions()].filter((s) => !s.openError);
      const session = sessions.find((s) => s.root === passages[0]?.root) ?? sessions[0];
      if (!session) throw new LoupeError('The Loupe engine is not running; see the log.', 'not-running');
      const settings = host.settings();
      await session.ask(question, conversationId, answerParamsFor(settings), settings.answerPassages, signal, (e) => {
        if (e.kind === 'citations') {
          const hits = e.citations.map((c) => ({ path: c.path, startLine: c.startLine, endLine: c.endLine, symbol: c.symbol, language: '', score: c.score, root: session.root, rootName: session.name }));
          void readPassages(hits).then((ps) => on.citations(ps.map((p, i) => ({ ...p, n: e.citations[i]!.n }))));
          host.log.info(`answer by ${e.model.name} (${e.model.where}): ${e.citations.length} sources, ${e.promptTokens} prompt tokens`);
        } else if (e.kind === 'token') {
          on.token(e.text);
        }
      });
    },
    forget(conversationId) {
      for (const s of host.sessions()) void s.forget(conversationId).catch(() => undefined);
    },
  };
}
