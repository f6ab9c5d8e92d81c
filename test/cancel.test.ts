/**
 * Ctrl-C during `loupe index`, 30 times at varied points (model load, scan, embedding, commit,
 * snapshot): the process ends with the documented cancel code (130; 0 if it had finished, or the
 * SIGINT itself before the handler exists), never a crash (SIGSEGV, 139), and the store stays
 * consistent: the next run finishes it and searches equal those of a clean index.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SAMPLE_PROJECT, tempDir, writeTree } from './support/helpers.js';
import { BIN, locations, modelArgs, prng, runCli } from './support/store-faults.js';

const ROUNDS = Number(process.env.LOUPE_CANCEL_ROUNDS ?? 30);

function indexThenSigint(root: string, delayMs: number): Promise<{ code: number | null; signal: string | null; err: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [BIN, 'index', root, '--rebuild', ...modelArgs()], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, LOUPE_BACKOFF: '0' },
    });
    let err = '';
    c.stderr.on('data', (d: Buffer) => (err += d));
    // The delay counts from when the writer holds the store (the model is loaded, the handler set),
    // so the signal lands in scanning, embedding, committing or the snapshot, not in start-up.
    let t: NodeJS.Timeout | undefined;
    const poll = setInterval(() => {
      if (existsSync(path.join(root, '.loupe', 'lock'))) {
        clearInterval(poll);
        t = setTimeout(() => c.kill('SIGINT'), delayMs);
      }
    }, 10);
    const hard = setTimeout(() => c.kill('SIGKILL'), 120_000);
    c.on('close', (code, signal) => {
      clearInterval(poll);
      clearTimeout(t);
      clearTimeout(hard);
      resolve({ code, signal, err });
    });
  });
}

describe('Ctrl-C during loupe index (real CLI)', () => {
  let root: string;
  let cleanup: () => void;
  let reference: string[];
  before(async () => {
    ({ dir: root, cleanup } = tempDir('loupe-cancel-'));
    writeTree(root, SAMPLE_PROJECT);
    for (let i = 0; i < 80; i++) {
      writeFileSync(
        path.join(root, `gen${i}.ts`),
        Array.from({ length: 6 }, (_, j) => `export function step${i}_${j}(x: number): number {\n  return x * ${i + j} - ${j};\n}\n`).join(
          '\n',
        ),
      );
    }
    const ix = await runCli(['index', root, ...modelArgs()]);
    assert.equal(ix.code, 0, ix.err);
    const s = await runCli(['search', root, 'parse config file', '--json', '-k', '10', ...modelArgs()]);
    reference = locations(s.out);
  });
  after(() => cleanup());

  test(`SIGINT ${ROUNDS} times at varied points: exit 130 (or 0), never a crash; the store stays consistent`, async () => {
    const rand = prng(7);
    const codes: Record<string, number> = {};
    for (let i = 0; i < ROUNDS; i++) {
      const delay = Math.floor(rand() * 2500);
      const r = await indexThenSigint(root, delay);
      const key = r.signal ?? String(r.code);
      codes[key] = (codes[key] ?? 0) + 1;
      assert.notEqual(r.signal, 'SIGSEGV', `round ${i} (${delay} ms): SIGSEGV\n${r.err.slice(-500)}`);
      assert.ok(
        r.code === 130 || r.code === 0 || r.signal === 'SIGINT',
        `round ${i} (${delay} ms): code ${r.code} signal ${r.signal}\n${r.err.slice(-800)}`,
      );
      if (r.code === 130) assert.match(r.err, /indexing cancelled/);
    }
    process.stdout.write(`# cancel: ${ROUNDS} SIGINTs: ${JSON.stringify(codes)}\n`);
    const ix = await runCli(['index', root, ...modelArgs()]);
    assert.equal(ix.code, 0, ix.err);
    assert.doesNotMatch(ix.err, /\[warn\]/, 'the store needed no repair');
    const s = await runCli(['search', root, 'parse config file', '--json', '-k', '10', ...modelArgs()]);
    assert.equal(s.code, 0, s.err);
    assert.deepEqual(locations(s.out), reference);
  });
});
