/** Back-off policy against recorded and generated load traces; the pacer (on a stopped clock); dispatcher and parity gate. The pacer in a real engine run: compute-pacer-engine.test.ts. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import {
  ContentionPacer,
  DEFAULT_SCHEDULER_CONFIG,
  countSwitches,
  decide,
  initialMemory,
  replay,
  type Decision,
  schedulerConfigForBatchSize,
  schedulerConfigFor,
} from '../src/core/compute/scheduler.js';
import { chooseUnit, cosine, parityGate } from '../src/core/compute/dispatcher.js';
import type { ContentionSample } from '../src/core/compute/signals.js';
import { REPO } from './support/files.js';

function sample(at: number, cpuOthers: number | null, extra: Partial<ContentionSample> = {}): ContentionSample {
  return { at, cpuOthers, gpu: null, gpuHeldByOther: null, agents: [], llmServers: [], onBattery: null, ...extra };
}
const claude = { agent: 'claude', pid: 1, via: 'process' as const, detail: 'process claude' };

/** A naive policy (threshold, no hysteresis) to show the traces would make it flap. */
function naiveSwitches(trace: ContentionSample[]): number {
  let n = 0;
  for (let i = 1; i < trace.length; i++) if (trace[i].cpuOthers! >= 0.5 !== trace[i - 1].cpuOthers! >= 0.5) n++;
  return n;
}

test('recorded trace (saturated shared machine): backs off hard once, never flaps, and names the agent while it runs', () => {
  const rec = JSON.parse(readFileSync(path.join(REPO, 'test/fixtures/compute/trace-linux-saturated.json'), 'utf8')) as {
    samples: ContentionSample[];
  };
  const ds = replay(rec.samples, 'cpu');
  assert.equal(ds[0].mode, 'full', 'the first sample has no CPU reading yet');
  assert.equal(ds[2].mode, 'heavy', 'two samples at ≥ 85% others');
  assert.equal(countSwitches(ds), 1);
  const withAgent = ds.find((d, i) => rec.samples[i].agents.length > 0)!;
  assert.match(withAgent.explanation, /^backing off hard: claude active, CPU 9\d%|^backing off hard: claude active, CPU 100%/);
  assert.match(ds.at(-1)!.explanation, /^backing off hard: CPU \d+%$/);
});

test('recorded trace (quiet machine, then a burst): an idle agent alone does not slow Loupe; the burst does; recovery steps down once each', () => {
  const rec = JSON.parse(readFileSync(path.join(REPO, 'test/fixtures/compute/trace-linux-burst.json'), 'utf8')) as {
    samples: ContentionSample[];
  };
  const ds = replay(rec.samples, 'cpu');
  const burst = rec.samples.findIndex((x) => (x.cpuOthers ?? 0) > 0.9);
  const quiet = rec.samples.findIndex((x, i) => i > burst && (x.cpuOthers ?? 1) < 0.1);
  assert.ok(burst > 20 && quiet > burst + 15, `burst at ${burst}, quiet at ${quiet}`);
  assert.ok(ds.slice(0, burst).every((d) => d.mode === 'full'));
  const agentIdle = ds.find((d, i) => i < burst && rec.samples[i].agents.length);
  assert.match(agentIdle!.explanation, /^full speed: claude active, CPU \d+%$/);
  assert.equal(ds[burst].mode, 'full', 'one sample is not enough');
  assert.equal(ds[burst + 1].mode, 'heavy');
  assert.ok(ds.slice(burst + 1, quiet).every((d) => d.mode === 'heavy'));
  const modes = ds.slice(quiet).map((d) => d.mode);
  assert.equal(modes[0], 'heavy');
  assert.ok(modes.indexOf('backoff') >= 2, 'three quiet samples before stepping down');
  assert.equal(modes.at(-1), 'full');
  assert.equal(countSwitches(ds), 3);
});

test('generated noisy trace around the threshold: hysteresis keeps the mode (a plain threshold would flap)', () => {
  // Load wobbling between 0.42 and 0.58 every sample, then dropping to 0.33 (inside the hysteresis band).
  const trace: ContentionSample[] = [];
  for (let i = 0; i < 100; i++) trace.push(sample(i * 3000, i < 60 ? (i % 2 ? 0.58 : 0.42) : 0.33));
  assert.ok(naiveSwitches(trace) > 50);
  const ds = replay(trace, 'cpu');
  assert.ok(countSwitches(ds) <= 1, `switches: ${countSwitches(ds)}`);
  // Never entered: two consecutive samples above 0.5 never happened.
  assert.ok(ds.every((d) => d.mode === 'full'));
  // Sustained 0.55 → enters; wobble 0.35..0.55 afterwards stays backing off (exit needs ≤ 0.30).
  const t2 = [...Array(10)]
    .map((_, i) => sample(i * 3000, 0.55))
    .concat([...Array(40)].map((_, i) => sample((10 + i) * 3000, i % 2 ? 0.35 : 0.55)));
  const d2 = replay(t2, 'cpu');
  assert.equal(countSwitches(d2), 1);
  assert.equal(d2.at(-1)!.mode, 'backoff');
});

test('burst: full → heavy after 2 samples → back off → full, stepping down only after quiet samples and the hold time', () => {
  const trace = [...Array(10)]
    .map((_, i) => sample(i * 3000, 0.1))
    .concat([...Array(20)].map((_, i) => sample((10 + i) * 3000, 0.92)))
    .concat([...Array(20)].map((_, i) => sample((30 + i) * 3000, 0.1)));
  const ds = replay(trace, 'cpu');
  const modes = ds.map((d) => d.mode);
  assert.equal(modes[10], 'full');
  assert.equal(modes[11], 'heavy');
  assert.equal(modes[30], 'heavy', 'one quiet sample is not enough');
  const firstBackoff = modes.indexOf('backoff');
  assert.ok(firstBackoff >= 32, `stepped down at ${firstBackoff}`);
  const firstFull = modes.indexOf('full', firstBackoff);
  assert.ok(firstFull - firstBackoff >= 3, 'one level at a time, each after exitSamples and minHoldMs');
  assert.equal(countSwitches(ds), 3);
  assert.equal(ds[15].level.batchSize, 8);
  assert.equal(ds[5].level.batchSize, 32);
});

test('an agent is a weaker hint: it lowers the threshold; a busy LLM server backs off at once; battery and --no-backoff', () => {
  const at40 = [sample(0, 0.4), sample(3000, 0.4), sample(6000, 0.4)];
  assert.equal(replay(at40, 'cpu').at(-1)!.mode, 'full');
  assert.equal(
    replay(
      at40.map((s) => ({ ...s, agents: [claude] })),
      'cpu',
    ).at(-1)!.mode,
    'backoff',
  );
  // Present but idle machine: stays at full speed.
  assert.equal(replay([sample(0, 0.05, { agents: [claude] }), sample(3000, 0.05, { agents: [claude] })], 'cpu').at(-1)!.mode, 'full');
  const busy = decide(
    initialMemory(),
    'cpu',
    sample(0, 0.1, {
      llmServers: [{ server: 'llama-server', endpoint: 'http://127.0.0.1:8080', busy: true, how: '/slots: 1 of 1 processing' }],
    }),
  );
  assert.equal(busy.mode, 'backoff');
  assert.equal(busy.explanation, 'backing off: llama-server busy, CPU 10%');
  const batt = decide(initialMemory(), 'cpu', sample(0, 0, { onBattery: true }), { ...DEFAULT_SCHEDULER_CONFIG, pauseOnBattery: true });
  assert.equal(batt.mode, 'paused');
  assert.match(batt.explanation, /^paused: CPU 0%, on battery$/);
  const off = replay([sample(0, 0.99), sample(1, 0.99), sample(2, 0.99)], 'cpu', { ...DEFAULT_SCHEDULER_CONFIG, enabled: false });
  assert.ok(off.every((d) => d.mode === 'full' && d.explanation === 'full speed: back-off off'));
});

test('the unit matters: GPU load and a GPU held by another process count on the GPU, not on the CPU', () => {
  const s = (at: number): ContentionSample => sample(at, 0.1, { gpu: 0.9, gpuHeldByOther: true });
  assert.equal(replay([s(0), s(3000)], 'gpu').at(-1)!.mode, 'heavy');
  assert.equal(replay([s(0), s(3000)], 'cpu').at(-1)!.mode, 'full');
  // Load not measurable on the unit (ANE): the agent's presence alone backs off.
  assert.equal(replay([sample(0, 0.1, { agents: [claude] }), sample(3000, 0.1, { agents: [claude] })], 'ane').at(-1)!.mode, 'backoff');
});

test('ContentionPacer: unit size, duty-cycle rest, policy pause, and a user pause that wins over the policy', async () => {
  let next: ContentionSample = sample(0, 0.9);
  const decisions: Decision[] = [];
  // A stopped clock: the rest after a unit is computed from it, so a thread delayed by a loaded
  // machine between release and acquire cannot shorten the rest (this test failed under load).
  const clock = 1_000_000;
  const p = new ContentionPacer({
    sample: async () => ({ ...next, at: clock }),
    now: () => clock,
    config: { enterSamples: 1, minHoldMs: 0, exitSamples: 1, backoff: { batchSize: 8, duty: 0.2 }, heavy: { batchSize: 4, duty: 0.2 } },
    intervalMs: 60_000,
    onDecision: (d) => decisions.push(d),
  });
  const kind = (): string => p.state.kind;
  try {
    await p.tick();
    assert.equal(kind(), 'backingOff');
    assert.equal(await p.acquire(), 4);
    p.release({ chunks: 4, ms: 30 });
    const t0 = performance.now();
    await p.acquire();
    const rested = performance.now() - t0;
    assert.ok(rested >= 100, `rested ${rested.toFixed(0)} ms, want ≈ 120 (30 ms at 20% duty)`);
    // User pause: policy decisions no longer change the state.
    p.pause();
    next = sample(0, 0.0);
    await p.tick();
    assert.equal(kind(), 'paused');
    assert.equal(p.compute.mode, 'user-paused');
    p.resume();
    assert.equal(kind(), 'backingOff', 'resume returns to the policy (heavy → backoff takes one step)');
    await p.tick();
    assert.equal(kind(), 'running');
    assert.equal(await p.acquire(), 32);
    // Policy pause (on battery) blocks acquire until a decision lets it go.
    next = sample(0, 0.0, { onBattery: true });
    (p.config as { pauseOnBattery: boolean }).pauseOnBattery = true;
    await p.tick();
    assert.equal(kind(), 'paused');
    let got = 0;
    const pending = p.acquire().then((n) => (got = n));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(got, 0);
    next = sample(0, 0.0);
    await p.tick();
    await p.tick();
    await pending;
    assert.ok(got > 0);
  } finally {
    p.dispose();
  }
});

test('dispatcher: GPU while free, CPU while another process holds the GPU, ANE only after the parity gate, no flapping', () => {
  const all = [
    { unit: 'gpu' as const, available: true, sharesIndex: true },
    { unit: 'cpu' as const, available: true, sharesIndex: true },
  ];
  assert.equal(chooseUnit(all, null, sample(0, 0.2, { gpu: 0.05, gpuHeldByOther: false })).unit, 'gpu');
  const held = chooseUnit(all, 'gpu', sample(0, 0.2, { gpu: 0.85, gpuHeldByOther: true }));
  assert.equal(held.unit, 'cpu');
  assert.match(held.reason, /GPU held by another process: embedding on the CPU/);
  // Both busy, GPU a bit less: stay on the CPU (margin).
  assert.equal(chooseUnit(all, 'cpu', sample(0, 0.7, { gpu: 0.55 })).unit, 'cpu');
  assert.equal(chooseUnit(all, 'cpu', sample(0, 0.7, { gpu: 0.1 })).unit, 'gpu');
  const withAne = [...all, { unit: 'ane' as const, available: true, sharesIndex: false }];
  assert.equal(
    chooseUnit(withAne, 'gpu', sample(0, 0.9, { gpu: 0.9, gpuHeldByOther: true })).unit,
    'gpu',
    'ANE not allowed, CPU as busy as the GPU: stay',
  );
  withAne[2].sharesIndex = true;
  assert.equal(chooseUnit(withAne, 'gpu', sample(0, 0.9, { gpu: 0.9, gpuHeldByOther: true })).unit, 'ane');
  assert.equal(chooseUnit([{ unit: 'cpu', available: true, sharesIndex: true }], null, null).unit, 'cpu');
});

test('parity gate: passes near-identical vectors, fails a wrong backend, refuses mismatched sets', () => {
  const rnd = (seed: number, n = 64): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 97 + i * 13.1));
  const ref = [...Array(20)].map((_, i) => rnd(i));
  const close = ref.map((v) => v.map((x, i) => x + 0.003 * Math.cos(i)));
  const g = parityGate(ref, close);
  assert.ok(g.passed, JSON.stringify(g));
  assert.ok(g.meanCosine > 0.999);
  const wrong = ref.map((v, i) => (i === 3 ? rnd(99) : v));
  const bad = parityGate(ref, wrong);
  assert.equal(bad.passed, false);
  assert.equal(bad.worst[0].index, 3);
  assert.throws(() => parityGate(ref, ref.slice(1)), /19 candidate/);
  assert.ok(Math.abs(cosine(ref[0], ref[0]) - 1) < 1e-6);
});

test('a chosen batch size sets the full-speed unit; back-off units never exceed it', () => {
  const big = { ...DEFAULT_SCHEDULER_CONFIG, ...schedulerConfigForBatchSize(64) };
  assert.equal(big.full.batchSize, 64);
  assert.equal(big.backoff.batchSize, DEFAULT_SCHEDULER_CONFIG.backoff.batchSize);
  const small = { ...DEFAULT_SCHEDULER_CONFIG, ...schedulerConfigForBatchSize(4) };
  assert.deepEqual([small.full.batchSize, small.backoff.batchSize, small.heavy.batchSize], [4, 4, 4]);
  assert.equal(small.backoff.duty, DEFAULT_SCHEDULER_CONFIG.backoff.duty);
  assert.throws(() => schedulerConfigForBatchSize(0), RangeError);
});

test('user choices reach the policy: pausing on battery and under heavy load is opt-in', () => {
  assert.deepEqual(schedulerConfigFor({}), {}, 'nothing chosen: the defaults');
  const cfg = { ...DEFAULT_SCHEDULER_CONFIG, ...schedulerConfigFor({ batchSize: 16, pauseOnBattery: true, pauseWhenBusy: true }) };
  assert.equal(cfg.full.batchSize, 16);
  const onBattery = decide(initialMemory(), 'cpu', sample(0, 0.05, { onBattery: true }), cfg);
  assert.equal(onBattery.mode, 'paused');
  assert.equal(
    decide(initialMemory(), 'cpu', sample(0, 0.05, { onBattery: true })).mode,
    'full',
    'by default battery alone does not pause',
  );
  let mem = initialMemory();
  let d = decide(mem, 'cpu', sample(0, 0.95), cfg);
  for (let i = 1; i < 3; i++) {
    mem = d.memory;
    d = decide(mem, 'cpu', sample(i * 3000, 0.95), cfg);
  }
  assert.equal(d.mode, 'paused', 'heavy load pauses when chosen');
});
