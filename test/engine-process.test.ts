// The engine as a forked child process (out/src/engine-process/server.js) driven by EngineClient:
// the same answers as in process, events, cancellation, SIGKILL mid-index with restart, close.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineClient, EngineCrashedError } from '../src/adapters/engine-client.js';
import type { Engine, EngineStatus } from '../src/core/engine.js';
import type { EventMessage, OpenParams } from '../src/core/protocol.js';
import { LoupeError, type IndexProgress, type IndexSummary } from '../src/core/types.js';
import { openTestEngine, SAMPLE_PROJECT, tempDir, tinyBertPath, writeTree } from './support/helpers.js';
import { processAlive } from '../src/core/store.js';

const QUERIES = ['parse the config file', 'download a web page', 'sort integers in place', 'authenticate a user', 'compute value 17'];

/** Same adapters and settings as the in-process test engine (helpers: 2 contexts × 1 thread, batches of 8). */
function openParams(root: string, batchSize = 8): OpenParams {
  return { root, modelPath: tinyBertPath(), gpu: false, contexts: 2, threadsPerContext: 1, batchSize };
}

/** SAMPLE_PROJECT plus `n` small generated files (one chunk each). */
function project(n: number): Record<string, string> {
  const files: Record<string, string> = { ...SAMPLE_PROJECT };
  for (let i = 0; i < n; i++) {
    files[`gen/m${i}.ts`] =
      `export function compute_${i}(x: number): number {\n  // compute value ${i} for the report row\n  return x * ${i} + ${i % 7};\n}\n`;
  }
  return files;
}

/** The parts of a status that do not depend on where the index lives or when it was written. */
function comparable(s: EngineStatus): unknown {
  return {
    files: s.files,
    chunks: s.chunks,
    cachedVectors: s.cachedVectors,
    searchStructure: s.searchStructure,
    model: s.model,
    state: s.state,
    warnings: s.warnings,
  };
}

/** Resolves with the first event that `match` accepts. */
function nextEvent(client: EngineClient, match: (e: EventMessage) => boolean): Promise<EventMessage> {
  return new Promise((resolve) => {
    const off = client.onEvent((e) => {
      if (match(e)) {
        off();
        resolve(e);
      }
    });
  });
}

const isProgress = (jobId: string, phase: IndexProgress['phase']) => (e: EventMessage) =>
  e.event === 'progress' && e.jobId === jobId && e.progress.phase === phase;

describe('engine process', () => {
  let reference: Engine;
  let refSummary: IndexSummary;
  const dirs: (() => void)[] = [];
  const N = 60;

  // The in-process reference: the same tree indexed by an Engine in this process.
  before(async () => {
    const { dir, cleanup } = tempDir('loupe-ref-');
    dirs.push(cleanup);
    writeTree(dir, project(N));
    reference = await openTestEngine(dir);
    refSummary = await reference.index();
  });

  after(async () => {
    await reference?.close();
    for (const c of dirs) c();
  });

  test('open → index → search → status over IPC equal the in-process engine; progress and state events arrive', async () => {
    const { dir, cleanup } = tempDir();
    dirs.push(cleanup);
    writeTree(dir, project(N));
    const client = new EngineClient();
    const events: EventMessage[] = [];
    client.onEvent((e) => events.push(e));
    try {
      const opened = await client.open(openParams(dir));
      assert.equal(opened.files, 0);
      assert.equal(opened.model.id, reference.status().model.id);

      const summary = await client.request('index', { jobId: 'j1' });
      for (const key of ['files', 'filesChanged', 'filesDeleted', 'filesSkipped', 'chunks', 'embedded', 'cached'] as const) {
        assert.equal(summary[key], refSummary[key], `summary.${key}`);
      }
      for (const q of QUERIES) {
        assert.deepEqual(await client.request('search', { query: q, k: 5 }), await reference.search(q, { k: 5 }), `results for "${q}"`);
      }
      const status = await client.request('status', {});
      assert.equal(status.root, dir);
      assert.deepEqual(comparable(status), comparable(reference.status()));

      const progress = events.flatMap((e) => (e.event === 'progress' ? [e] : []));
      assert.ok(progress.length >= 3, `progress events: ${progress.length}`);
      assert.ok(progress.every((e) => e.jobId === 'j1'));
      assert.deepEqual(new Set(progress.map((e) => e.progress.phase)), new Set(['scan', 'chunk', 'embed', 'commit', 'done']));
      assert.equal(progress[0].progress.phase, 'scan');
      assert.equal(progress.at(-2)!.progress.phase, 'commit');
      const done = progress.at(-1)!.progress;
      assert.equal(done.filesDone, done.filesTotal);
      assert.equal(done.chunksEmbedded, refSummary.embedded);
      const states = events.flatMap((e) => (e.event === 'state' ? [e.state] : []));
      assert.ok(states.some((s) => s.kind === 'scanning'));
      assert.ok(states.some((s) => s.kind === 'indexing'));
      assert.deepEqual(states.at(-1), { kind: 'ready', chunks: refSummary.chunks, files: refSummary.files });
    } finally {
      await client.close();
    }
  });

  test('cancel aborts an index job and keeps its committed batches', async () => {
    const { dir, cleanup } = tempDir();
    dirs.push(cleanup);
    writeTree(dir, project(N));
    const client = new EngineClient();
    const exits: { code: number | null; signal: string | null }[] = [];
    client.onExit(({ code, signal }) => exits.push({ code, signal }));
    try {
      // Small batches: many commits, so the job is surely still running after its first one.
      await client.open(openParams(dir, 4));
      const firstBatch = nextEvent(client, isProgress('c1', 'embed'));
      const cancelled = client.request('index', { jobId: 'c1' });
      await firstBatch;
      assert.deepEqual(await client.request('cancel', { jobId: 'c1' }), { cancelled: true });
      await assert.rejects(cancelled, (e: Error) => {
        assert.equal(e.name, 'AbortError', String(e));
        return true;
      });
      assert.deepEqual(await client.request('cancel', { jobId: 'c1' }), { cancelled: false }, 'the job is gone');
      const status = await client.request('status', {});
      assert.equal(status.state.kind, 'ready');
      assert.ok(status.files > 0 && status.files < refSummary.files, `committed batches stay: ${status.files} files`);
      assert.deepEqual(exits, [], 'the engine process survived the cancel');
      // The next run finishes the job.
      const summary = await client.request('index', { jobId: 'c2' });
      assert.equal(summary.files, refSummary.files);
      assert.equal(summary.embedded, refSummary.embedded - status.cachedVectors);
    } finally {
      await client.close();
    }
  });

  test('SIGKILL mid-index rejects with EngineCrashedError, the client restarts the engine, re-indexing completes; close() ends it', async () => {
    const { dir, cleanup } = tempDir();
    dirs.push(cleanup);
    writeTree(dir, project(N));
    const client = new EngineClient();
    const exits: { code: number | null; signal: string | null; restarting: boolean }[] = [];
    client.onExit((info) => exits.push(info));
    try {
      await client.open(openParams(dir, 4));
      const pid = client.pid!;
      // Kill the process once the job's first batch is committed (small batches: many more follow).
      const firstBatch = nextEvent(client, isProgress('k1', 'embed'));
      const killed = client.request('index', { jobId: 'k1' });
      await firstBatch;
      process.kill(pid, 'SIGKILL');
      await assert.rejects(killed, (e: unknown) => {
        assert.ok(e instanceof EngineCrashedError, String(e));
        assert.equal(e.code, 'engine-crashed');
        assert.match(e.message, /SIGKILL/);
        return true;
      });
      assert.deepEqual(exits, [{ code: null, signal: 'SIGKILL', restarting: true }]);

      // The client restarted the engine and re-opened it; the store recovered its committed batches.
      const reopened = await client.request('status', {});
      assert.notEqual(client.pid, pid);
      assert.ok(client.pid && processAlive(client.pid));
      assert.ok(
        reopened.files > 0 && reopened.files < refSummary.files,
        `batches committed before the kill were kept: ${reopened.files} files`,
      );
      assert.deepEqual(reopened.warnings, [], 'a SIGKILL between commits leaves nothing to repair');

      const summary = await client.request('index', { jobId: 'r1' });
      assert.equal(summary.files, refSummary.files);
      assert.equal(
        summary.embedded,
        refSummary.embedded - reopened.cachedVectors,
        'vectors committed before the kill are not embedded again',
      );
      for (const q of QUERIES) {
        assert.deepEqual(await client.request('search', { query: q, k: 5 }), await reference.search(q, { k: 5 }), `results for "${q}"`);
      }
      assert.deepEqual(comparable(await client.request('status', {})), comparable(reference.status()));

      // close() ends the process, and it is not mistaken for a crash.
      const lastPid = client.pid!;
      await client.close();
      assert.equal(client.pid, undefined);
      assert.equal(processAlive(lastPid), false);
      assert.deepEqual(exits.at(-1), { code: 0, signal: null, restarting: false });
      assert.equal(exits.length, 2);
      await assert.rejects(client.request('status', {}), (e: unknown) => e instanceof LoupeError && e.code === 'closed');
    } finally {
      await client.close();
    }
  });

  test('one writer per index: a second engine process on the same store is refused while the first holds it', async () => {
    const { dir, cleanup } = tempDir();
    dirs.push(cleanup);
    writeTree(dir, SAMPLE_PROJECT);
    const first = new EngineClient();
    const second = new EngineClient();
    try {
      await first.open(openParams(dir));
      await assert.rejects(
        second.open(openParams(dir)),
        (e: unknown) => e instanceof LoupeError && e.code === 'store-locked' && e.message.includes(String(first.pid)),
      );
      await first.close();
      assert.equal((await second.open(openParams(dir))).root, dir, 'free once the first has exited');
    } finally {
      await first.close();
      await second.close();
    }
  });

  test('a crash after open with rebuild re-opens without rebuilding: the index built since stays', async () => {
    const { dir, cleanup } = tempDir();
    dirs.push(cleanup);
    writeTree(dir, SAMPLE_PROJECT);
    const client = new EngineClient();
    const restarted = new Promise<void>((resolve) => client.onExit(({ restarting }) => restarting && resolve()));
    try {
      await client.open({ ...openParams(dir), rebuild: true });
      const summary = await client.request('index', { jobId: 'b1' });
      assert.ok(summary.files > 0);
      process.kill(client.pid!, 'SIGKILL');
      await restarted;
      const status = await client.request('status', {});
      assert.equal(status.files, summary.files, 'the restarted engine kept the index');
      assert.equal(status.chunks, summary.chunks);
    } finally {
      await client.close();
    }
  });
});
