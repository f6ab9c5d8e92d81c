/**
 * Small async helpers with no `vscode` import: the CancellationToken → AbortSignal bridge and
 * the live-query runner behind the search quick pick (debounced; a new query aborts the last).
 */

/** The part of VS Code's CancellationToken this bridge needs. */
export interface CancellationLike {
  readonly isCancellationRequested: boolean;
  onCancellationRequested(listener: () => unknown): { dispose(): unknown };
}

/** An AbortSignal that aborts when `token` is cancelled; dispose to drop the listener. */
export function abortSignalFrom(token: CancellationLike): { signal: AbortSignal; dispose(): void } {
  const ac = new AbortController();
  if (token.isCancellationRequested) {
    ac.abort();
    return { signal: ac.signal, dispose() {} };
  }
  const sub = token.onCancellationRequested(() => ac.abort());
  return { signal: ac.signal, dispose: () => sub.dispose() };
}

/** True for the errors an aborted job rejects with. */
export function isAbort(e: unknown): boolean {
  return !!e && typeof e === 'object' && (e as Error).name === 'AbortError';
}

/**
 * Runs the latest of a stream of inputs after `delayMs` of quiet. A newer input aborts the
 * run in flight (its signal) and its result is never delivered.
 */
export class LiveQuery<I, R> {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private current: AbortController | undefined;
  private seq = 0;

  constructor(
    private readonly run: (input: I, signal: AbortSignal) => Promise<R>,
    private readonly deliver: (result: R, input: I) => void,
    private readonly fail: (error: unknown, input: I) => void,
    private readonly delayMs = 150,
  ) {}

  /** Schedules a run for `input`, superseding anything earlier. */
  push(input: I): void {
    this.cancel();
    const seq = ++this.seq;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const ac = new AbortController();
      this.current = ac;
      this.run(input, ac.signal)
        .then(
          (r) => {
            if (seq === this.seq && !ac.signal.aborted) this.deliver(r, input);
          },
          (e) => {
            if (seq === this.seq && !ac.signal.aborted && !isAbort(e)) this.fail(e, input);
          },
        )
        .finally(() => {
          if (this.current === ac) this.current = undefined;
        });
    }, this.delayMs);
  }

  /** Drops the pending input and aborts the run in flight. */
  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.current?.abort();
    this.current = undefined;
  }
}
