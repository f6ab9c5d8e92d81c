/**
 * Client-side stop strings over streamed text. Servers differ (mlx_lm.server 0.32 matches stop
 * strings by token ids, so one the model emits in another tokenization is hidden from the stream
 * but generation goes on), so the HTTP client matches them itself and closes the stream: text
 * that might be the start of a stop string is held back until it is known not to be.
 */
export class StopMatcher {
  private pending = '';
  private done = false;

  constructor(private readonly stops: readonly string[] = []) {}

  get stopped(): boolean {
    return this.done;
  }

  /** Feeds streamed text; returns the text that can be shown now and whether a stop string was reached. */
  push(text: string): { emit: string; stopped: boolean } {
    if (this.done) return { emit: '', stopped: true };
    const stops = this.stops.filter((s) => s.length > 0);
    if (!stops.length) return { emit: text, stopped: false };
    this.pending += text;
    let cut = -1;
    for (const s of stops) {
      const i = this.pending.indexOf(s);
      if (i >= 0 && (cut < 0 || i < cut)) cut = i;
    }
    if (cut >= 0) {
      const emit = this.pending.slice(0, cut);
      this.pending = '';
      this.done = true;
      return { emit, stopped: true };
    }
    let hold = 0;
    for (const s of stops) {
      for (let k = Math.min(s.length - 1, this.pending.length); k > hold; k--) {
        if (this.pending.endsWith(s.slice(0, k))) {
          hold = k;
          break;
        }
      }
    }
    const emit = this.pending.slice(0, this.pending.length - hold);
    this.pending = this.pending.slice(this.pending.length - hold);
    return { emit, stopped: false };
  }

  /** The held-back text at the end of the stream. */
  flush(): string {
    const p = this.done ? '' : this.pending;
    this.pending = '';
    return p;
  }
}
