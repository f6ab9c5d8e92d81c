/**
 * A coalescing queue for file-system events: debounces bursts, folds the events of each path
 * into one net effect, and hands batches to a consumer one at a time. Pure logic (the clock is
 * injected), so the folding and timing rules are unit-tested without touching the disk.
 */
import type { FileChangeBatch } from './types.js';

/** One observed event on a file, already classified by the watcher adapter. */
export type FsEventKind = 'add' | 'change' | 'unlink';

/** The timing primitives the queue needs; tests pass a fake one. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Options of {@link ChangeQueue}. */
export interface ChangeQueueOptions {
  /** A batch is sent once no event arrived for this long. */
  debounceMs: number;
  /** During a continuous burst, a batch is sent at least this often (paths still being written wait). */
  maxWaitMs: number;
  /** Receives the batches; never called while a previous call's promise is pending. */
  onBatch: (batch: FileChangeBatch) => Promise<void>;
  /** Told when `onBatch` rejects (the queue carries on with later batches). */
  onError?: (err: unknown) => void;
  /**
   * True while the caller is still finding out what happened to a path (an event came, its `stat`
   * is not back yet). Such a path is held back like one still being written: the event it is
   * looking into is newer than the one queued.
   */
  isBusy?: (path: string) => boolean;
  clock?: Clock;
}

/** What is known about one path since the last batch. */
interface Pending {
  /** The path existed before the first event of this batch (first event was not `add`). */
  existedBefore: boolean;
  /** The path exists after the latest event. */
  existsNow: boolean;
  /** When the latest event arrived. */
  lastAt: number;
}

function checkMs(name: string, value: number): void {
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`ChangeQueue: ${name} must be a finite number of milliseconds >= 0, got ${value}`);
  }
}

/**
 * Folds events per path and emits serialised batches.
 *
 * Folding (net effect since the last batch): add+unlink = nothing (a temp file came and went),
 * unlink+add = changed, a rename (unlink old, add new) = old deleted + new changed.
 * A path whose last event is younger than `debounceMs` is held back when `maxWaitMs` forces a
 * batch, so a file still being written is never handed out half-written.
 */
export class ChangeQueue {
  private readonly entries = new Map<string, Pending>();
  private readonly clock: Clock;
  private rescan = false;
  private lastEventAt = 0;
  /** When the oldest event not yet sent arrived (undefined when nothing waits). */
  private burstStart: number | undefined;
  private timer: unknown;
  private timerAt = Infinity;
  private inFlight: Promise<void> | undefined;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly opts: ChangeQueueOptions) {
    checkMs('debounceMs', opts.debounceMs);
    checkMs('maxWaitMs', opts.maxWaitMs);
    if (typeof opts.onBatch !== 'function') throw new TypeError('ChangeQueue: onBatch must be a function');
    this.clock = opts.clock ?? systemClock;
  }

  /** Paths waiting for a batch. */
  get size(): number {
    return this.entries.size;
  }

  /** Records one event on a relative path. Ignored after {@link close}. */
  push(path: string, kind: FsEventKind): void {
    if (this.closed) return;
    const now = this.clock.now();
    const existsNow = kind !== 'unlink';
    const entry = this.entries.get(path);
    if (entry) {
      entry.existsNow = existsNow;
      entry.lastAt = now;
    } else {
      this.entries.set(path, { existedBefore: kind !== 'add', existsNow, lastAt: now });
    }
    this.lastEventAt = now;
    this.burstStart ??= now;
    this.arm();
  }

  /** Asks for a batch with `rescan: true` as soon as possible (events may have been lost). */
  requestRescan(): void {
    if (this.closed) return;
    this.rescan = true;
    this.burstStart ??= this.clock.now();
    this.arm();
  }

  /** Resolves when nothing is pending and no batch is running. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Drops pending events and stops the timer; resolves once a batch already running has finished. */
  async close(): Promise<void> {
    this.closed = true;
    this.entries.clear();
    this.rescan = false;
    this.disarm();
    await this.inFlight;
    this.notifyIdle();
  }

  private isIdle(): boolean {
    return this.closed || (this.entries.size === 0 && !this.rescan && !this.inFlight);
  }

  private notifyIdle(): void {
    if (!this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** When the next batch is due, or Infinity when nothing waits. */
  private deadline(): number {
    if (this.burstStart === undefined) return Infinity;
    if (this.rescan) return this.burstStart;
    return Math.min(this.lastEventAt + this.opts.debounceMs, this.burstStart + this.opts.maxWaitMs);
  }

  /**
   * Makes sure a timer fires no later than the deadline. An earlier timer is kept and re-armed
   * when it fires, so a burst of 10k events does not clear and set 10k timers.
   */
  private arm(): void {
    if (this.closed || this.inFlight) return;
    const at = this.deadline();
    if (at === Infinity) return this.disarm();
    if (this.timer !== undefined && this.timerAt <= at) return;
    this.disarm();
    this.timerAt = at;
    this.timer = this.clock.setTimeout(() => this.onTimer(), Math.max(0, at - this.clock.now()));
  }

  private disarm(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  private onTimer(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    if (this.closed || this.inFlight) return;
    const now = this.clock.now();
    if (now < this.deadline()) return this.arm();
    this.flush(now);
  }

  private flush(now: number): void {
    const rescan = this.rescan;
    const changed: string[] = [];
    const deleted: string[] = [];
    for (const [path, e] of this.entries) {
      // Still being written: wait for it to settle (a rescan takes everything).
      if (!rescan && now - e.lastAt < this.opts.debounceMs) continue;
      if (!rescan && this.opts.isBusy?.(path)) {
        // An event on it is still being looked into: it counts as activity now.
        e.lastAt = this.lastEventAt = now;
        continue;
      }
      this.entries.delete(path);
      if (e.existsNow) changed.push(path);
      else if (e.existedBefore) deleted.push(path);
    }
    this.rescan = false;
    // Whatever is left starts a new burst now, so maxWait does not fire again at once.
    this.burstStart = this.entries.size > 0 ? now : undefined;
    if (changed.length === 0 && deleted.length === 0 && !rescan) return this.arm();
    const batch: FileChangeBatch = { changed: changed.sort(), deleted: deleted.sort() };
    if (rescan) batch.rescan = true;
    this.inFlight = this.run(batch);
  }

  private async run(batch: FileChangeBatch): Promise<void> {
    try {
      await this.opts.onBatch(batch);
    } catch (err) {
      this.opts.onError?.(err);
    }
    this.inFlight = undefined;
    // Events that arrived meanwhile were coalesced; their deadline may already have passed.
    this.arm();
    this.notifyIdle();
  }
}
