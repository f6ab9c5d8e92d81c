/**
 * Answers for the Q&A panel over the engine process's `ask`. No `vscode` import, so it is tested
 * under plain Node against the real engine process.
 */
import * as path from 'node:path';
import { LoupeError, type Logger } from '../core/types.js';
import type { EngineSession } from './engine-session.js';
import type { Citation, Source } from '../core/answer/types.js';
import type { Passage } from './passages.js';
import { answerModelMissing, answerParamsFor, type LoupeSettings } from './settings.js';

/** Generates answers; implemented over the engine process's `ask`. */
export interface Answerer {
  /** Why no answer can be generated as configured (shown in the panel), or undefined when one may be. */
  unavailable(): string | undefined;
  /** The configured answer model's name, or null. */
  modelName(): string | null;
  /**
   * Streams an answer to `question` from exactly `passages` (no retrieval of its own); `conversationId`
   * links follow-ups. `on.citations` gets the passages the prompt quotes: `passages` in order, less
   * those that did not fit the model's context, the last one possibly cut to fewer lines. Rejects
   * with an AbortError when `signal` aborts, and with a LoupeError coded `model-missing` /
   * `server-not-running` when no model answers.
   */
  answer(
    question: string,
    conversationId: string,
    passages: Passage[],
    signal: AbortSignal,
    on: { citations(p: Passage[]): void; token(text: string): void },
  ): Promise<void>;
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
  /** Whether a chat model was installed through the model manager (`loupe models install <id> --from`). */
  installedChat?: () => boolean;
  /** The name of the first installed chat model, if any. */
  installedChatName?: () => string | null;
}

/** The passages a prompt quotes: citation n is passage n, cut to the lines it quoted. */
export function quotedPassages(passages: readonly Passage[], citations: readonly Citation[]): Passage[] {
  return citations.flatMap((c) => {
    const p = passages[c.n - 1];
    if (!p) return [];
    if (c.quotedEndLine >= p.endLine) return [p];
    return [
      {
        ...p,
        endLine: c.quotedEndLine,
        text: p.text
          .split('\n')
          .slice(0, c.quotedEndLine - p.startLine + 1)
          .join('\n'),
      },
    ];
  });
}

/** The answerer over the engine process's `ask`, asked in the folder of the best passage. */
export function engineAnswerer(host: AnswererHost): Answerer {
  return {
    modelName: () => {
      const s = host.settings();
      if (s.answerModel) return path.basename(s.answerModel);
      if (s.answerUrl) return s.answerUrl;
      // An answer model installed with `loupe models install <id> --from <file>` answers when nothing is set.
      return s.answerProvider !== 'openai' && s.answerProvider !== 'mlx' ? (host.installedChatName?.() ?? null) : null;
    },
    unavailable: () =>
      answerModelMissing(host.settings(), host.platform ?? process.platform, host.arch ?? process.arch, host.installedChat?.() ?? false),
    async answer(question, conversationId, passages, signal, on) {
      const sessions = [...host.sessions()].filter((s) => !s.openError);
      const session = sessions.find((s) => s.root === passages[0]?.root) ?? sessions[0];
      if (!session) throw new LoupeError('The Loupe engine is not running; see the log.', 'not-running');
      // Passages from several folders name their folder, so the model can tell them apart.
      const multiRoot = new Set(passages.map((p) => p.root)).size > 1;
      const sources: Source[] = passages.map((p) => ({
        path: multiRoot ? `${p.rootName}/${p.path}` : p.path,
        startLine: p.startLine,
        endLine: p.endLine,
        symbol: p.symbol,
        language: p.language,
        score: p.score,
        text: p.text,
      }));
      await session.ask({ question, conversationId, llm: answerParamsFor(host.settings()), sources }, signal, (e) => {
        if (e.kind === 'citations') {
          on.citations(quotedPassages(passages, e.citations));
          host.log.info(
            `answer by ${e.model.name} (${e.model.where}): ${e.citations.length} of ${passages.length} passages quoted, ${e.promptTokens} prompt tokens`,
          );
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
