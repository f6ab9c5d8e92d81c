/** Bounded conversation history for follow-up questions. */

export interface Turn {
  question: string;
  answer: string;
}

export interface HistoryLimits {
  /** Most turns kept (default 6). */
  maxTurns?: number;
  /** Most characters kept over all turns (default 24,000); older turns go first. */
  maxChars?: number;
}

/** Keeps the newest turns within a turn count and a character budget. */
export class ConversationHistory {
  private items: Turn[] = [];
  readonly maxTurns: number;
  readonly maxChars: number;

  constructor(limits: HistoryLimits = {}) {
    this.maxTurns = Math.max(0, limits.maxTurns ?? 6);
    this.maxChars = Math.max(0, limits.maxChars ?? 24_000);
  }

  /** Adds a finished turn and drops the oldest ones past the limits. */
  add(question: string, answer: string): void {
    this.items.push({ question, answer });
    while (this.items.length > this.maxTurns) this.items.shift();
    while (this.items.length && this.chars() > this.maxChars) this.items.shift();
  }

  private chars(): number {
    return this.items.reduce((s, t) => s + t.question.length + t.answer.length, 0);
  }

  get turns(): readonly Turn[] {
    return this.items;
  }

  clear(): void {
    this.items = [];
  }
}
