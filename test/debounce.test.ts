import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChangeQueue, type Clock } from '../src/core/debounce.js';
import type { FileChangeBatch } from '../src/core/types.js';

/** A manual clock: timers fire only when the test advances time. */
class FakeClock implements Clock {
  private t = 0;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  get pendingTimers(): number {
    return this.timers.size;
  }
  /** Moves time forward, firing due timers in order and letting promise callbacks run between them. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await flushMicrotasks();
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].fn();
    }
    this.t = end;
    await flushMicrotasks();
  }
}

async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

function setup(
  opts: {
    debounceMs?: number;
    maxWaitMs?: number;
    onBatch?: (b: FileChangeBatch) => Promise<void>;
    isBusy?: (path: string) => boolean;
  } = {},
) {
  const clock = new FakeClock();
  const batches: FileChangeBatch[] = [];
  const errors: unknown[] = [];
  const q = new ChangeQueue({
    debounceMs: opts.debounceMs ?? 100,
    maxWaitMs: opts.maxWaitMs ?? 1000,
    clock,
    onError: (e) => errors.push(e),
    onBatch: opts.onBatch ?? (async (b) => void batches.push(b)),
    isBusy: opts.isBusy,
  });
  return { clock, q, batches, errors };
}

test('folds events per path: add+unlink vanishes, unlink+add is a change, rename is delete+change', async () => {
  const { clock, q, batches } = setup();
  q.push('tmp.swp', 'add');
  q.push('tmp.swp', 'change');
  q.push('tmp.swp', 'unlink');
  q.push('a.ts', 'unlink');
  q.push('a.ts', 'add');
  q.push('old.ts', 'unlink'); // rename old.ts -> new.ts
  q.push('new.ts', 'add');
  q.push('gone.ts', 'change');
  q.push('gone.ts', 'unlink');
  q.push('b.ts', 'change');
  q.push('b.ts', 'change');
  await clock.advance(99);
  assert.equal(batches.length, 0, 'nothing before the quiet period');
  await clock.advance(1);
  assert.deepEqual(batches, [{ changed: ['a.ts', 'b.ts', 'new.ts'], deleted: ['gone.ts', 'old.ts'] }]);
  assert.equal(q.size, 0);
});

test('a burst is one batch; the quiet timer restarts with every event', async () => {
  const { clock, q, batches } = setup({ debounceMs: 100, maxWaitMs: 10_000 });
  for (let i = 0; i < 200; i++) {
    q.push(`f${i}.ts`, 'add');
    await clock.advance(10);
  }
  assert.equal(batches.length, 0);
  await clock.advance(100);
  assert.equal(batches.length, 1);
  assert.equal(batches[0].changed.length, 200);
  assert.ok(clock.pendingTimers <= 1, 'no timer pile-up');
});

test('maxWait forces batches during a continuous burst but holds paths still being written', async () => {
  const { clock, q, batches } = setup({ debounceMs: 100, maxWaitMs: 500 });
  q.push('done.ts', 'add');
  for (let i = 0; i < 80; i++) {
    q.push('growing.log', 'change'); // written every 10 ms for 800 ms
    await clock.advance(10);
  }
  assert.equal(batches.length, 1, 'maxWait fired once within 800 ms');
  assert.deepEqual(batches[0], { changed: ['done.ts'], deleted: [] });
  await clock.advance(100);
  assert.deepEqual(batches[1], { changed: ['growing.log'], deleted: [] });
  assert.equal(batches.length, 2);
});

test('a path the caller is still looking into is held past its quiet period, then sent once', async () => {
  // The watcher's case: an event on big.ts came at 50 ms, its stat is slow; the queue only knows the event at 0.
  const busy = new Set<string>();
  const { clock, q, batches } = setup({ debounceMs: 100, maxWaitMs: 1000, isBusy: (p) => busy.has(p) });
  q.push('big.ts', 'add');
  q.push('other.ts', 'change');
  await clock.advance(50);
  busy.add('big.ts');
  await clock.advance(50);
  assert.deepEqual(batches, [{ changed: ['other.ts'], deleted: [] }], 'big.ts waits for its stat');
  await clock.advance(500);
  assert.equal(batches.length, 1, 'still held while busy, with no batch of nothing');
  busy.delete('big.ts');
  q.push('big.ts', 'change'); // the stat came back
  await clock.advance(99);
  assert.equal(batches.length, 1, 'quiet period counted from the stat');
  await clock.advance(1);
  assert.deepEqual(batches[1], { changed: ['big.ts'], deleted: [] });
  await clock.advance(1000);
  assert.equal(batches.length, 2);
  assert.equal(clock.pendingTimers, 0);
});

test('a busy path that ends with no new event is sent one quiet period after it stops being busy', async () => {
  let busy = true;
  const { clock, q, batches } = setup({ debounceMs: 100, isBusy: () => busy });
  q.push('a.ts', 'change');
  await clock.advance(300);
  assert.equal(batches.length, 0);
  busy = false;
  await clock.advance(100);
  assert.deepEqual(batches, [{ changed: ['a.ts'], deleted: [] }]);
});

test('batches are serialised: events during a slow batch are coalesced into the next one', async () => {
  let release!: () => void;
  let running = 0;
  let maxRunning = 0;
  const seen: FileChangeBatch[] = [];
  const { clock, q } = setup({
    onBatch: async (b) => {
      seen.push(b);
      running++;
      maxRunning = Math.max(maxRunning, running);
      if (seen.length === 1) await new Promise<void>((r) => (release = r));
      running--;
    },
  });
  q.push('a.ts', 'change');
  await clock.advance(100);
  assert.equal(seen.length, 1);
  for (let i = 0; i < 10; i++) {
    q.push('b.ts', 'change');
    q.push(`c${i}.ts`, 'add');
    await clock.advance(150); // well past the debounce, but the first batch is still running
  }
  assert.equal(seen.length, 1, 'no second batch while the first is pending');
  release();
  await clock.advance(0);
  assert.equal(seen.length, 2);
  assert.equal(maxRunning, 1);
  assert.equal(seen[1].changed.length, 11);
  assert.ok(seen[1].changed.includes('b.ts'));
  await q.idle();
});

test('a rejected batch is reported and later batches still flow', async () => {
  let calls = 0;
  const { clock, q, errors } = setup({
    onBatch: async () => {
      calls++;
      if (calls === 1) throw new Error('boom');
    },
  });
  q.push('a.ts', 'change');
  await clock.advance(100);
  q.push('b.ts', 'change');
  await clock.advance(100);
  assert.equal(calls, 2);
  assert.equal(errors.length, 1);
  assert.match(String(errors[0]), /boom/);
});

test('requestRescan sends a rescan batch at once, carrying pending paths', async () => {
  const { clock, q, batches } = setup();
  q.push('a.ts', 'change');
  q.requestRescan();
  q.requestRescan();
  await clock.advance(0);
  assert.deepEqual(batches, [{ changed: ['a.ts'], deleted: [], rescan: true }]);
  await clock.advance(1000);
  assert.equal(batches.length, 1, 'two requests coalesce');
});

test('close drops pending events, stops timers and waits for the running batch', async () => {
  let finished = false;
  const { clock, q, batches } = setup({
    onBatch: async (b) => {
      batches.push(b);
      await new Promise((r) => setImmediate(r));
      finished = true;
    },
  });
  q.push('a.ts', 'change');
  await clock.advance(100);
  q.push('b.ts', 'change');
  await q.close();
  assert.ok(finished, 'close waited for the running batch');
  q.push('c.ts', 'change');
  await clock.advance(10_000);
  assert.equal(batches.length, 1);
  assert.equal(clock.pendingTimers, 0);
});

test('rejects bad options with clear messages', () => {
  assert.throws(() => new ChangeQueue({ debounceMs: -1, maxWaitMs: 1, onBatch: async () => {} }), /debounceMs/);
  assert.throws(() => new ChangeQueue({ debounceMs: 1, maxWaitMs: NaN, onBatch: async () => {} }), /maxWaitMs/);
});
