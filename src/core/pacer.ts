import type { PacerPort, PacerState } from './types.js';
import { DEFAULT_BATCH_SIZE } from './defaults.js';

/**
 * The default pacer: a fixed unit size, and pause/resume by the user. The contention-aware
 * scheduler replaces it (or drives one) to shrink units and pause under load.
 */
export class FixedPacer implements PacerPort {
  private _state: PacerState;
  private readonly listeners = new Set<(s: PacerState) => void>();
  private waiters: (() => void)[] = [];

  constructor(private batchSize = DEFAULT_BATCH_SIZE) {
    this._state = { kind: 'running', batchSize };
  }

  get state(): PacerState {
    return this._state;
  }

  onChange(listener: (s: PacerState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Sets the state (pause, back off with a smaller unit, or run) and wakes waiters if no longer paused. */
  set(state: PacerState): void {
    this._state = state;
    if (state.kind !== 'paused') {
      this.batchSize = state.batchSize;
      const w = this.waiters;
      this.waiters = [];
      for (const wake of w) wake();
    }
    for (const l of this.listeners) l(state);
  }

  /** Pauses embedding after the unit in flight. */
  pause(reason = 'paused by the user'): void {
    this.set({ kind: 'paused', reason });
  }

  /** Resumes at the configured unit size. */
  resume(): void {
    this.set({ kind: 'running', batchSize: this.batchSize });
  }

  async acquire(signal?: AbortSignal): Promise<number> {
    while (this._state.kind === 'paused') {
      signal?.throwIfAborted();
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => reject(signal!.reason);
        signal?.addEventListener('abort', onAbort, { once: true });
        this.waiters.push(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        });
      });
    }
    return this.batchSize;
  }

  release(): void {}
}
