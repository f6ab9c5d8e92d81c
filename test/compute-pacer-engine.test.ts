/** The contention pacer in a real engine run (the policy and the pacer alone: compute-scheduler.test.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ContentionPacer } from '../src/core/compute/scheduler.js';
import type { ContentionSample } from '../src/core/compute/signals.js';
import type { EngineState } from '../src/core/types.js';
import { openTestEngine, tempDir, writeTree, SAMPLE_PROJECT } from './support/helpers.js';

function sample(at: number, cpuOthers: number | null, extra: Partial<ContentionSample> = {}): ContentionSample {
  return { at, cpuOthers, gpu: null, gpuHeldByOther: null, agents: [], llmServers: [], onBattery: null, ...extra };
}
const claude = { agent: 'claude', pid: 1, via: 'process' as const, detail: 'process claude' };

test('engine run under the ContentionPacer: state says "backing off: claude active, CPU 90%" and the index completes', async () => {
  const { dir, cleanup } = tempDir();
  const pacer = new ContentionPacer({
    sample: async () => sample(Date.now(), 0.9, { agents: [claude] }),
    config: { enterSamples: 1, heavyLoad: 0.95, backoff: { batchSize: 2, duty: 0.5 } },
    intervalMs: 60_000,
  });
  try {
    writeTree(dir, SAMPLE_PROJECT);
    await pacer.tick();
    const engine = await openTestEngine(dir, { pacer });
    const states: EngineState[] = [];
    engine.onState((s) => states.push(s));
    const summary = await engine.index();
    assert.ok(summary.embedded > 0);
    assert.ok(
      states.some((s) => s.kind === 'backingOff' && s.reason === 'backing off: claude active, CPU 90%'),
      JSON.stringify(states.slice(0, 5)),
    );
    assert.equal(pacer.state.kind, 'backingOff');
    assert.equal(engine.status().chunks, engine.store.chunkCount);
    await engine.close();
  } finally {
    pacer.dispose();
    cleanup();
  }
});
