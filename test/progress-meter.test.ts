// Progress by chunks with throughput and time left (src/core/progress-meter.ts), as the CLI line
// and the status bar tooltip show it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { describeProgress, formatDuration, ProgressMeter } from '../src/core/progress-meter.js';
import { renderStatus } from '../src/extension/status-view.js';
import type { IndexProgress } from '../src/core/types.js';

const ev = (
  filesDone: number,
  filesTotal: number,
  chunksEmbedded: number,
  chunksFound: number,
  chunksCached = 0,
  phase: IndexProgress['phase'] = 'embed',
): IndexProgress => ({ phase, filesDone, filesTotal, chunksEmbedded, chunksCached, chunksFound });

describe('ProgressMeter', () => {
  test('total extrapolated from files read, exact once all are read; rate and time left from the recent window', () => {
    let now = 0;
    const m = new ProgressMeter(() => now);
    const a = m.update(ev(10, 100, 0, 40));
    assert.equal(a.total, 400, '40 chunks in 10 of 100 files: about 400');
    assert.equal(a.totalIsEstimate, true);
    assert.equal(a.chunksPerSecond, undefined, 'no rate from one sample');
    assert.equal(a.etaSeconds, undefined);
    now = 10_000;
    const b = m.update(ev(50, 100, 200, 220));
    assert.equal(b.total, 440);
    assert.equal(b.chunksPerSecond, 20, '200 chunks in 10 s');
    assert.equal(b.etaSeconds, 12, '240 left at 20/s');
    assert.equal(b.percent, 45);
    now = 20_000;
    const c = m.update(ev(100, 100, 300, 420));
    assert.equal(c.totalIsEstimate, false);
    assert.equal(c.total, 420);
    assert.equal(c.chunksPerSecond, 15, '300 chunks over 20 s');
    assert.equal(c.etaSeconds, 8);
    const d = m.update(ev(100, 100, 420, 420, 0, 'done'));
    assert.equal(d.percent, 100);
  });

  test('the rate follows the recent window (a slow-down shows), not the whole run', () => {
    let now = 0;
    const m = new ProgressMeter(() => now);
    for (let s = 0; s <= 60; s += 5) {
      now = s * 1000;
      // 100 chunks/s for the first 30 s, then 10 chunks/s.
      const done = s <= 30 ? s * 100 : 3000 + (s - 30) * 10;
      m.update(ev(50, 100, done, 10_000));
    }
    const e = m.update(ev(50, 100, 3300, 10_000));
    assert.ok(e.chunksPerSecond! < 15, `recent rate ${e.chunksPerSecond}`);
  });

  test('a run with nothing to embed reads 0 of 0, no rate', () => {
    const e = new ProgressMeter(() => 0).update(ev(5, 5, 0, 0, 12));
    assert.equal(describeProgress(e), '0/0 chunks (0%) · 12 from cache');
  });
});

describe('describing progress', () => {
  test('one line with throughput and time left', () => {
    assert.equal(
      describeProgress({ done: 1204, total: 3960, totalIsEstimate: true, percent: 30, chunksPerSecond: 41.3, etaSeconds: 67, cached: 7 }),
      '1,204/~3,960 chunks (30%) · 41 chunks/s · about 1 min 07 s left · 7 from cache',
    );
    assert.equal(
      describeProgress({ done: 3, total: 10, totalIsEstimate: false, percent: 30, chunksPerSecond: 2.5, etaSeconds: 2.8, cached: 0 }),
      '3/10 chunks (30%) · 2.5 chunks/s · about 3 s left',
    );
    assert.equal(formatDuration(3725), '1 h 02 min');
  });

  test('the status bar tooltip shows chunks, throughput and time left while indexing', () => {
    const v = renderStatus(
      [
        {
          name: 'w',
          state: { kind: 'indexing', done: 35, total: 100 },
          computeUnit: 'CPU',
          progress: { done: 1204, total: 3960, totalIsEstimate: true, percent: 30, chunksPerSecond: 41, etaSeconds: 67, cached: 0 },
        },
      ],
      undefined,
    );
    assert.match(v.text, /indexing 30% · CPU/);
    assert.match(v.tooltip, /1,204\/~3,960 chunks \(30%\) · 41 chunks\/s · about 1 min 07 s left/);
    assert.match(v.tooltip, /35 of 100 files read/);
  });
});
