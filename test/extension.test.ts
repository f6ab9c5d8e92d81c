// The extension's pure logic, without VS Code: settings normalisation and change classes, the
// status bar rendering of every engine state, the CancellationToken bridge, the live query
// runner behind the search quick pick, webview message validation, passages.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { abortSignalFrom, LiveQuery } from '../src/extension/async-utils.js';
import { mergeResults, readPassages, snippetOf, type RootedResult } from '../src/extension/passages.js';
import { parseFromWebview } from '../src/extension/qa-protocol.js';
import {
  answerModelMissing,
  answerParamsFor,
  changeEffect,
  openParamsFor,
  readSettings,
  SETTING_EFFECTS,
} from '../src/extension/settings.js';
import { combineStates, coverageNote, renderStatus } from '../src/extension/status-view.js';
import { tempDir, writeTree } from './support/files.js';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { REPO } from './support/files.js';

describe('settings', () => {
  test('defaults, clamping and bad types', () => {
    const d = readSettings(() => undefined);
    assert.equal(d.embeddingModel, '');
    assert.equal(d.storage, 'global');
    assert.equal(d.computeDevice, 'auto');
    assert.equal(d.computeThreads, 1);
    assert.equal(d.computeContexts, 0);
    assert.equal(d.embeddingBackend, 'auto');
    assert.equal(d.autoIndex, true);
    const s = readSettings(
      (k) =>
        (
          ({
            'compute.threads': 99,
            'compute.contexts': -3,
            'files.exclude': ['a/', 3, ' ', ' b/ '],
            'storage.location': 'workspace',
            'index.auto': false,
            'search.maxResults': 'x',
          }) as Record<string, unknown>
        )[k],
    );
    assert.equal(s.computeThreads, 8);
    assert.equal(s.computeContexts, 0);
    assert.deepEqual(s.exclude, ['a/', 'b/']);
    assert.equal(s.storage, 'workspace');
    assert.equal(s.autoIndex, false);
    assert.equal(s.maxResults, 20);
  });

  test('every contributed loupe.* setting is read and classified, and nothing else', () => {
    const pkg = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8'));
    const contributed = (pkg.contributes.configuration as { properties: Record<string, unknown> }[])
      .flatMap((c) => Object.keys(c.properties))
      .map((k) => k.replace(/^loupe\./, ''))
      .sort();
    assert.deepEqual(contributed, Object.keys(SETTING_EFFECTS).sort());
  });

  test('change classes: a model change re-indexes, compute restarts, search limits are live', () => {
    const only =
      (...keys: string[]) =>
      (s: string) =>
        keys.includes(s);
    assert.equal(changeEffect(only('loupe.embedding.model')), 'reindex');
    assert.equal(changeEffect(only('loupe.compute.threads')), 'restart');
    assert.equal(changeEffect(only('loupe.search.maxResults')), 'live');
    assert.equal(changeEffect(only('loupe.search.maxResults', 'loupe.compute.device')), 'restart');
    assert.equal(changeEffect(only('loupe.compute.device', 'loupe.files.exclude')), 'reindex');
    assert.equal(changeEffect(only('editor.fontSize')), undefined);
  });

  test('open parameters: include patterns re-include, cpu turns the GPU off', () => {
    const s = readSettings(
      (k) =>
        (
          ({
            'files.include': ['vendor/', '!keep/'],
            'files.exclude': ['*.gen.ts'],
            'compute.device': 'cpu',
            'files.maxFileSizeKB': 10,
          }) as Record<string, unknown>
        )[k],
    );
    const p = openParamsFor('/w', s, '/store');
    assert.deepEqual(p.excludes, ['*.gen.ts', '!vendor/', 'keep/']);
    assert.equal(p.gpu, false);
    assert.equal(p.maxFileBytes, 10 * 1024);
    assert.equal(p.storeDir, '/store');
    assert.equal(p.modelPath, undefined);
    assert.equal(p.backoff, true, 'contention-aware back-off is on by default');
    assert.equal(p.batchSize, 32, 'the default unit of work');
    assert.deepEqual([p.pauseOnBattery, p.pauseWhenBusy], [false, false], 'back-off slows down; pausing is opt-in');
    const pausing = openParamsFor(
      '/w',
      readSettings((k) => (({ 'compute.pauseOnBattery': true, 'compute.pauseWhenBusy': 'yes' }) as Record<string, unknown>)[k]),
      undefined,
    );
    assert.deepEqual([pausing.pauseOnBattery, pausing.pauseWhenBusy], [true, false], 'only a real true turns a pause on');
    assert.equal(
      openParamsFor(
        '/w',
        readSettings((k) => (({ 'compute.batchSize': 1000 }) as Record<string, unknown>)[k]),
        undefined,
      ).batchSize,
      256,
      'clamped',
    );
  });

  test('answer model: none configured off Apple Silicon, MLX may answer on it, openai needs a URL', () => {
    const none = readSettings(() => undefined);
    assert.match(answerModelMissing(none, 'linux', 'x64')!, /Choose Answer Model/);
    assert.equal(answerModelMissing(none, 'linux', 'x64', true), undefined, 'an installed chat model answers');
    assert.equal(answerModelMissing(none, 'darwin', 'arm64'), undefined);
    const gguf = readSettings((k) => (k === 'answer.model' ? '/m/chat.gguf' : undefined));
    assert.equal(answerModelMissing(gguf, 'linux', 'x64'), undefined);
    assert.deepEqual(answerParamsFor(gguf).model, '/m/chat.gguf');
    const openai = readSettings((k) => (k === 'answer.provider' ? 'openai' : undefined));
    assert.match(answerModelMissing(openai, 'linux', 'x64')!, /answer\.url/);
  });
});

describe('status bar rendering', () => {
  const root = (state: Parameters<typeof renderStatus>[0][number]['state'], unit = 'CPU') => ({ name: 'w', state, computeUnit: unit });

  test('each engine state renders with the compute unit and its actions', () => {
    assert.match(renderStatus([root({ kind: 'indexing', done: 3, total: 1200 })], undefined).text, /indexing 3\/1,200 · CPU/);
    const ready = renderStatus([root({ kind: 'ready', chunks: 5120, files: 40 }, 'GPU: Metal')], undefined);
    assert.match(ready.text, /5,120 chunks · GPU: Metal/);
    assert.match(ready.tooltip, /command:loupe\.pause/);
    assert.match(ready.tooltip, /command:loupe\.chooseModel/);
    const paused = renderStatus([root({ kind: 'paused', reason: 'paused from VS Code' })], undefined);
    assert.match(paused.text, /paused/);
    assert.match(paused.tooltip, /command:loupe\.resume/);
    assert.equal(paused.command, 'loupe.resume');
    const backing = renderStatus([root({ kind: 'backingOff', reason: 'a coding agent is compiling' })], undefined);
    assert.match(backing.text, /backing off/);
    assert.match(backing.tooltip, /a coding agent is compiling/);
    assert.equal(backing.severity, 'warning');
    const error = renderStatus([root({ kind: 'error', message: 'model file missing' })], undefined);
    assert.equal(error.severity, 'error');
    assert.equal(error.command, 'loupe.showLogs');
    assert.match(renderStatus([root(undefined)], undefined).text, /starting/);
  });

  test("the scheduler's explanation and unit show in the tooltip", () => {
    const r = renderStatus(
      [
        {
          name: 'w',
          state: { kind: 'backingOff', reason: 'claude active, CPU 85%' },
          computeUnit: 'ANE',
          computeLine: 'backing off: claude active, CPU 85% · embedding on Neural Engine, 8 chunks per unit',
        },
      ],
      undefined,
    );
    assert.match(r.text, /backing off · ANE/);
    assert.match(r.tooltip, /Compute: backing off: claude active, CPU 85% · embedding on Neural Engine/);
  });

  test('restricted mode and no folder say so', () => {
    const r = renderStatus([], 'untrusted');
    assert.match(r.text, /restricted/);
    assert.match(r.tooltip, /workbench\.trust\.manage/);
    assert.match(renderStatus([], 'noFolder').tooltip, /Open a folder/);
  });

  test('several folders: errors win, then pauses, then work in progress; counts add up', () => {
    assert.deepEqual(
      combineStates([
        { kind: 'ready', chunks: 10, files: 2 },
        { kind: 'indexing', done: 1, total: 4 },
        { kind: 'indexing', done: 2, total: 6 },
      ]),
      { kind: 'indexing', done: 3, total: 10 },
    );
    assert.equal(
      combineStates([
        { kind: 'indexing', done: 1, total: 4 },
        { kind: 'error', message: 'x' },
      ])?.kind,
      'error',
    );
    assert.equal(
      combineStates([
        { kind: 'indexing', done: 1, total: 4 },
        { kind: 'paused', reason: '' },
      ])?.kind,
      'paused',
    );
    assert.deepEqual(
      combineStates([
        { kind: 'ready', chunks: 10, files: 2 },
        { kind: 'ready', chunks: 5, files: 1 },
      ]),
      { kind: 'ready', chunks: 15, files: 3 },
    );
    assert.equal(combineStates([undefined]), undefined);
    const r = renderStatus(
      [
        { name: 'a', state: { kind: 'ready', chunks: 1, files: 1 }, computeUnit: 'CPU' },
        { name: 'b', state: { kind: 'ready', chunks: 1, files: 1 }, computeUnit: 'GPU: Vulkan' },
      ],
      undefined,
    );
    assert.match(r.text, /CPU, GPU: Vulkan/);
    assert.match(r.tooltip, /- a: ready/);
  });

  test('coverage note while indexing', () => {
    assert.match(coverageNote({ kind: 'indexing', done: 5, total: 9 }), /5 of 9 files/);
    assert.equal(coverageNote({ kind: 'ready', chunks: 1, files: 1 }), '');
  });
});

describe('async helpers', () => {
  test('abortSignalFrom follows the token, and an already-cancelled token aborts at once', () => {
    const em = new EventEmitter();
    const token = {
      isCancellationRequested: false,
      onCancellationRequested: (l: () => unknown) => (em.on('c', l), { dispose: () => em.off('c', l) }),
    };
    const { signal, dispose } = abortSignalFrom(token);
    assert.equal(signal.aborted, false);
    em.emit('c');
    assert.equal(signal.aborted, true);
    dispose();
    assert.equal(em.listenerCount('c'), 0);
    assert.equal(abortSignalFrom({ ...token, isCancellationRequested: true }).signal.aborted, true);
  });

  test('LiveQuery debounces, aborts the superseded run and delivers only the latest', async () => {
    const runs: string[] = [];
    const aborted: string[] = [];
    const delivered: string[] = [];
    const lq = new LiveQuery<string, string>(
      (q, signal) =>
        new Promise((resolve) => {
          runs.push(q);
          signal.addEventListener('abort', () => aborted.push(q));
          setTimeout(() => resolve(`result ${q}`), 40);
        }),
      (r) => delivered.push(r),
      (e) => assert.fail(String(e)),
      20,
    );
    lq.push('a');
    lq.push('ab');
    lq.push('abc'); // 'a' and 'ab' never run: debounced
    await new Promise((r) => setTimeout(r, 35));
    lq.push('abcd'); // 'abc' is running: aborted, its result dropped
    await new Promise((r) => setTimeout(r, 120));
    assert.deepEqual(runs, ['abc', 'abcd']);
    assert.deepEqual(aborted, ['abc']);
    assert.deepEqual(delivered, ['result abcd']);
    lq.cancel();
  });
});

describe('Q&A messages and passages', () => {
  test('webview messages are validated at the boundary', () => {
    assert.deepEqual(parseFromWebview({ type: 'ask', question: '  why?  ' }), { type: 'ask', question: 'why?' });
    assert.equal(parseFromWebview({ type: 'ask', question: '   ' }), undefined);
    assert.equal(parseFromWebview({ type: 'ask', question: 'x'.repeat(5000) }), undefined);
    assert.deepEqual(parseFromWebview({ type: 'open', turnId: 't', n: 2 }), { type: 'open', turnId: 't', n: 2 });
    assert.equal(parseFromWebview({ type: 'open', turnId: 't', n: 0 }), undefined);
    assert.equal(parseFromWebview({ type: 'eval', code: 'x' }), undefined);
    assert.equal(parseFromWebview('ask'), undefined);
    assert.deepEqual(parseFromWebview({ type: 'stop', extra: 1 }), { type: 'stop' });
  });

  test('passages read the cited lines; multi-folder results merge by score', async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeTree(dir, { 'a/b.ts': 'line1\nline2\nline3\nline4\n' });
      const hit = (score: number, root = dir): RootedResult => ({
        path: 'a/b.ts',
        startLine: 2,
        endLine: 3,
        symbol: null,
        language: 'typescript',
        score,
        root,
        rootName: 'w',
      });
      const merged = mergeResults([[hit(0.5), hit(0.2)], [hit(0.9)]], 2);
      assert.deepEqual(
        merged.map((h) => h.score),
        [0.9, 0.5],
      );
      const [p] = await readPassages([hit(1)]);
      assert.equal(p!.text, 'line2\nline3');
      assert.equal(p!.n, 1);
      // A hit whose file is gone is left out; the rest are numbered from 1.
      const ps = await readPassages([{ ...hit(1), path: 'missing.ts' }, hit(0.5)]);
      assert.deepEqual(
        ps.map((x) => [x.n, x.path, x.text]),
        [[1, 'a/b.ts', 'line2\nline3']],
      );
    } finally {
      cleanup();
    }
    assert.equal(snippetOf('\n\n   const x = 1;  \n'), 'const x = 1;');
  });
});
