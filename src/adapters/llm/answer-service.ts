/**
 * Answers inside the engine process: keeps the answer model open between questions (re-opened
 * when its settings change), keeps a bounded history per conversation, and runs one
 * retrieval-augmented answer per `ask` request.
 */
import { answerQuestion, type DoneEvent } from '../../core/answer/answer.js';
import { ConversationHistory } from '../../core/answer/history.js';
import { engineRetriever, type SearchablePort } from '../../core/answer/retrieve.js';
import type { AnswerEvent, AnswerModelStatus, ChatModelPort } from '../../core/answer/types.js';
import type { AnswerModelParams, AskParams } from '../../core/protocol.js';
import type { Logger } from '../../core/types.js';
import { describeAnswerModel, openAnswerModel } from './open-answer-model.js';

/** Conversations kept at once (least recently used dropped first). */
export const MAX_CONVERSATIONS = 20;

export class AnswerService {
  private model: { key: string; open: Promise<ChatModelPort> } | undefined;
  private readonly conversations = new Map<string, ConversationHistory>();

  constructor(private readonly logger?: Logger) {}

  /** The answer model for these settings, opened once and reused. */
  async modelFor(llm: AnswerModelParams = {}): Promise<ChatModelPort> {
    const key = JSON.stringify(llm);
    if (this.model?.key !== key) {
      const old = this.model;
      this.model = undefined;
      if (old) await (await old.open.catch(() => undefined))?.dispose().catch(() => undefined);
      const open = openAnswerModel({ ...llm, logger: this.logger }).then((r) => r.model);
      this.model = { key, open };
      // A failed open is not cached: the next question tries again (the server may be up by then).
      open.catch(() => {
        if (this.model?.open === open) this.model = undefined;
      });
    }
    return this.model.open;
  }

  /** Which model answers: the open one's info, else what would be chosen (nothing is loaded or started). */
  async info(llm: AnswerModelParams = {}): Promise<AnswerModelStatus> {
    if (this.model?.key === JSON.stringify(llm)) {
      const m = await this.model.open.catch(() => undefined);
      if (m) return { ...m.info, available: true, reason: 'open' };
    }
    return describeAnswerModel({ ...llm, logger: this.logger });
  }

  private history(id: string): ConversationHistory {
    let h = this.conversations.get(id);
    if (h) this.conversations.delete(id);
    else h = new ConversationHistory();
    this.conversations.set(id, h); // most recent last
    while (this.conversations.size > MAX_CONVERSATIONS) this.conversations.delete(this.conversations.keys().next().value!);
    return h;
  }

  forget(conversationId: string): boolean {
    return this.conversations.delete(conversationId);
  }

  /** One answer; every outcome is also an event through `emit` (errors included). */
  async ask(engine: SearchablePort, p: AskParams, signal: AbortSignal, emit: (e: AnswerEvent) => void): Promise<DoneEvent> {
    let model: ChatModelPort;
    try {
      model = await this.modelFor(p.llm);
    } catch (e) {
      const err = e as Error & { code?: string };
      emit({ kind: 'error', message: err.message, code: err.code ?? 'answer-failed' });
      throw e;
    }
    return answerQuestion({
      question: p.question,
      ...(p.sources ? { sources: p.sources } : { retrieve: engineRetriever(engine) }),
      model,
      history: p.conversationId ? this.history(p.conversationId) : undefined,
      k: p.k,
      maxAnswerTokens: p.maxTokens,
      signal,
      onEvent: emit,
    });
  }

  async dispose(): Promise<void> {
    const m = this.model;
    this.model = undefined;
    if (m) await (await m.open.catch(() => undefined))?.dispose().catch(() => undefined);
  }
}
