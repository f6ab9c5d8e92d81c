// The extension's engine session (src/extension/engine-session.ts) against the real engine
// process, without VS Code: open → index with progress → search with root attached, pause shown
// even while idle, a streamed answer from the generated tiny chat model through `ask`, close.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { EngineSession } from '../src/extension/engine-session.js';
import type { IndexProgress } from '../src/core/types.js';
import { REPO, SAMPLE_PROJECT, tempDir, writeTree, tinySessionParams } from './support/helpers.js';

const TINY_LLAMA = path.join(REPO, 'models', 'generated', 'tiny-llama.gguf');

/** Waits until the session logged that its engine exited and is being restarted (a shared engine's exit shows as its connection closing, without the signal). */
async function restarted(warnings: string[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!warnings.some((m) => /exited .*restarting it/.test(m))) {
    assert.ok(Date.now() < deadline, `no restart logged: ${warnings.join(' | ')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A session on a private (forked) engine: the crash tests kill that process and watch the client restart it. */
function privateSession(opts: ConstructorParameters<typeof EngineSession>[0]): EngineSession {
  const before = process.env.LOUPE_PRIVATE_ENGINE;
  process.env.LOUPE_PRIVATE_ENGINE = '1';
  try {
    return new EngineSession(opts);
  } finally {
    if (before === undefined) delete process.env.LOUPE_PRIVATE_ENGINE;
    else process.env.LOUPE_PRIVATE_ENGINE = before;
  }
}

describe('extension engine session', () => {
  const cleanups: (() => void)[] = [];
  after(() => {
    for (const c of cleanups) c();
  });

  test('index, search, pause/resume, ask: all through the engine process', async () => {
    const { dir, cleanup } = tempDir('loupe-ext-');
    cleanups.push(cleanup);
    writeTree(dir, SAMPLE_PROJECT);
    const logs: string[] = [];
    let changes = 0;
    const session = new EngineSession({
      root: dir,
      name: 'sample',
      params: tinySessionParams(dir),
      logger: { info: (m) => logs.push(m), warn: (m) => logs.push(m), error: (m) => logs.push(m), debug: () => {} },
      onChange: () => changes++,
    });
    cleanups.push(() => void session.dispose());
    try {
      const status = await session.open();
      assert.equal(status.chunks, 0);
      assert.equal(session.computeUnit, 'CPU');
      assert.ok(session.compute, 'compute status read after open');
      assert.equal(session.compute.backoff, false);
      const progress: IndexProgress[] = [];
      const job = session.index((p) => progress.push(p));
      assert.equal(session.indexing, true);
      const summary = await job.done;
      assert.ok(summary && summary.chunks > 0, 'indexed');
      assert.equal(session.indexing, false);
      assert.ok(
        progress.some((p) => p.phase === 'done'),
        'progress events reached the job listener',
      );
      assert.equal(session.state?.kind, 'ready');
      assert.ok(changes > 0, 'state changes were reported');
      assert.ok(logs.some((l) => /indexed \d+ files/.test(l)));

      const hits = await session.search('parse the config file', 5);
      assert.ok(hits.length > 0);
      assert.equal(hits[0]!.root, dir);
      assert.equal(hits[0]!.rootName, 'sample');
      assert.equal(hits[0]!.path, 'src/config.ts');

      // The engine shows pauses only while it works; the session shows a pause from VS Code always.
      await session.pause('paused from VS Code');
      assert.equal(session.shownState?.kind, 'paused');
      await session.resume();
      assert.equal(session.shownState?.kind, 'ready');

      // A re-index while another runs cancels the first.
      const first = session.index();
      const second = session.index();
      assert.equal(await first.done, undefined, 'first job cancelled');
      assert.ok(await second.done, 'second job finished');

      const tokens: string[] = [];
      const kinds: string[] = [];
      const ac = new AbortController();
      const result = await session.ask(
        {
          question: 'how is the config file parsed?',
          conversationId: 'conv-1',
          llm: { provider: 'llama', model: TINY_LLAMA, threads: 1, gpu: false },
          k: 4,
        },
        ac.signal,
        (e) => {
          kinds.push(e.kind);
          if (e.kind === 'token') tokens.push(e.text);
        },
      );
      assert.equal(result.answer, 'Hello from the tiny Loupe model.');
      assert.equal(tokens.join(''), result.answer);
      assert.equal(kinds[0], 'citations');
      assert.ok(result.citations.some((c) => c.path === 'src/config.ts'));
    } finally {
      await session.dispose();
    }
    assert.equal(session.client.pid, undefined, 'engine process gone after dispose');
  });

  test('the file watcher survives an engine crash: a file written after the restart is indexed', async () => {
    const { dir, cleanup } = tempDir('loupe-ext-watch-');
    cleanups.push(cleanup);
    writeTree(dir, SAMPLE_PROJECT);
    const warnings: string[] = [];
    let indexed = 0;
    const session = privateSession({
      root: dir,
      name: 'watched',
      params: tinySessionParams(dir),
      logger: { info: () => {}, warn: (m) => warnings.push(m), error: () => {}, debug: () => {} },
      onChange: () => {},
      onIndexed: () => indexed++,
    });
    cleanups.push(() => void session.dispose());
    try {
      await session.open();
      await session.index().done;
      await session.watch(true);
      const pid = session.client.pid!;
      process.kill(pid, 'SIGKILL');
      await restarted(warnings);
      await session.client.request('status', {});
      assert.notEqual(session.client.pid, pid);
      // Give the restarted engine's watcher a moment to be set up, then change the tree.
      await new Promise((r) => setTimeout(r, 1500));
      writeTree(dir, { 'src/zebra.ts': 'export function feedTheZebra(): string {\n  return "hay for the zebra";\n}\n' });
      const deadline = Date.now() + 20_000;
      while (indexed === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.ok(indexed > 0, 'the restarted engine watched the folder');
      assert.ok((await session.search('feed the zebra', 3)).some((h) => h.path === 'src/zebra.ts'));
    } finally {
      await session.dispose();
    }
  });

  test('a pause survives an engine crash: the restarted engine embeds nothing until resume, and the status says paused', async () => {
    const { dir, cleanup } = tempDir('loupe-ext-pause-');
    cleanups.push(cleanup);
    const files: Record<string, string> = { ...SAMPLE_PROJECT };
    for (let i = 0; i < 40; i++) files[`gen/m${i}.ts`] = `export function compute_${i}(x: number): number {\n  return x * ${i};\n}\n`;
    writeTree(dir, files);
    const exits: string[] = [];
    const session = privateSession({
      root: dir,
      name: 'paused',
      params: tinySessionParams(dir, { batchSize: 4 }),
      logger: { info: () => {}, warn: (m) => exits.push(m), error: () => {}, debug: () => {} },
      onChange: () => {},
    });
    cleanups.push(() => void session.dispose());
    try {
      await session.open();
      await session.pause('paused from VS Code');
      const pid = session.client.pid!;
      process.kill(pid, 'SIGKILL');
      // The session's client restarts the engine and re-opens it; requests wait for that.
      await restarted(exits);
      const reopened = await session.client.request('status', {});
      assert.notEqual(session.client.pid, pid, 'a new engine process');
      assert.equal(reopened.chunks, 0);

      const progress: IndexProgress[] = [];
      const job = session.index((p) => progress.push(p));
      // Long enough for the tiny model to embed every chunk were the engine not paused (well under a second).
      await new Promise((r) => setTimeout(r, 2500));
      assert.equal(session.indexing, true, 'the job waits');
      assert.equal(
        progress.filter((p) => p.phase === 'embed').length,
        0,
        `nothing embedded while paused: ${JSON.stringify(progress.at(-1))}`,
      );
      assert.equal(session.shownState?.kind, 'paused');
      assert.equal(session.state?.kind, 'paused', 'the engine itself reports the pause');
      assert.equal((await session.refreshStatus())?.chunks, 0);

      await session.resume();
      const summary = await job.done;
      assert.ok(summary && summary.embedded > 0, 'resume lets the job finish');
      assert.equal(session.shownState?.kind, 'ready');
    } finally {
      await session.dispose();
    }
  });
});
