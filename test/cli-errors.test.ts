// User mistakes at the command line, run through the built CLI as a child process: each gets one
// line on stderr that says what is wrong, and exit code 2 (usage) or 1; never a stack trace, and a
// failed command leaves nothing behind.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO, SAMPLE_PROJECT, tempDir, tinyBertPath, writeTree } from './support/helpers.js';

const BIN = path.join(REPO, 'bin/loupe.js');

function loupe(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** One line on stderr, no stack frames, the given exit code, and the message matching `re`. */
function assertUserError(r: { code: number; err: string }, code: number, re: RegExp): void {
  assert.equal(r.code, code, r.err);
  assert.equal(r.err.trimEnd().split('\n').length, 1, `one line expected, got:\n${r.err}`);
  assert.doesNotMatch(r.err, /\n\s+at |Error:|node:internal/, r.err);
  assert.match(r.err, re);
}

describe('loupe CLI user errors (real process)', () => {
  let root: string;
  let cleanup: () => void;
  const model = tinyBertPath();

  before(() => {
    ({ dir: root, cleanup } = tempDir());
    writeTree(path.join(root, 'project'), SAMPLE_PROJECT);
    writeFileSync(path.join(root, 'notes.txt'), 'a file, not a folder\n');
  });
  after(() => cleanup());

  test('a folder that does not exist: usage error naming it, for every command that takes one', () => {
    const missing = path.join(root, 'no-such-folder');
    for (const cmd of [
      ['search', missing, 'q'],
      ['index', missing],
      ['status', missing],
      ['ask', missing, 'why?'],
    ]) {
      const r = loupe(...cmd, '--model', model);
      assertUserError(r, 2, new RegExp(`^loupe ${cmd[0]}: no such folder: ${missing.replace(/[/\\]/g, '.')}`));
    }
    assert.equal(existsSync(missing), false, 'nothing is created for a missing folder');
  });

  test('a file instead of a folder says so and suggests the folder', () => {
    const r = loupe('index', path.join(root, 'notes.txt'), '--model', model);
    assertUserError(r, 2, /notes\.txt is a file; give the project folder/);
    assert.equal(existsSync(path.join(root, '.loupe')), false);
  });

  test('-k -3 and other bad numbers name the option and the value', () => {
    assertUserError(loupe('search', root, 'q', '-k', '-3'), 2, /-k must be a positive integer, got -3/);
    assertUserError(loupe('search', root, 'q', '-k', 'ten'), 2, /-k must be a positive integer, got ten/);
    assertUserError(loupe('ask', root, 'q', '-k', '-3'), 2, /^loupe ask: -k must be a positive integer, got -3/);
    assertUserError(loupe('index', root, '--dims', '0'), 2, /--dims must be a positive integer, got 0/);
  });

  test('the engine options (--backend, --dims) get the same checks in loupe index|search and loupe mcp', () => {
    for (const cmd of [
      ['index', root],
      ['search', root, 'q'],
      ['mcp', root],
    ]) {
      assertUserError(loupe(...cmd, '--backend', 'gpu'), 2, new RegExp(`^loupe ${cmd[0]}: --backend must be auto, onnx or llama$`, 'm'));
      assertUserError(loupe(...cmd, '--dims', '0'), 2, new RegExp(`^loupe(?: ${cmd[0]})?: --dims must be a positive integer, got 0$`, 'm'));
    }
  });

  test('an unknown command lists the commands', () => {
    const r = loupe('frobnicate', root);
    assertUserError(r, 2, /unknown command 'frobnicate'; the commands are index, search, status, ask, serve, mcp, bench, export, models/);
    assertUserError(loupe('models', 'frob'), 2, /loupe models: unknown command 'frob'; the commands are list, install, remove, path/);
  });

  test('an unknown option, and an option without its value, are one line pointing at --help', () => {
    assertUserError(
      loupe('search', root, 'q', '--bogus'),
      2,
      /^loupe search: unknown option --bogus; `loupe search --help` lists the options/,
    );
    assertUserError(loupe('ask', root, 'q', '--frob'), 2, /^loupe ask: unknown option --frob/);
    assertUserError(loupe('search', root, 'q', '--store'), 2, /^loupe search: --store needs a value/);
    assertUserError(loupe('search', root), 2, /^loupe search: missing "<query>"/);
    assertUserError(loupe('index'), 2, /^loupe index: missing <dir>/);
  });

  test('search and ask on a never-indexed folder fail with advice and leave no .loupe behind', () => {
    const project = path.join(root, 'project');
    const s = loupe('search', project, 'parse config', '--model', model);
    assertUserError(s, 1, /has no index yet; run `loupe index .*project` first/);
    const j = loupe('search', project, 'parse config', '--json', '--model', model);
    assert.equal(j.code, 0);
    assert.deepEqual(JSON.parse(j.out), []);
    const a = loupe('ask', project, 'how is config parsed?', '--model', model);
    assertUserError(a, 1, /has no index yet/);
    assert.equal(existsSync(path.join(project, '.loupe')), false, 'a failed search creates no index folder');
    const bad = loupe('index', project, '--model', path.join(root, 'nope.gguf'));
    assert.equal(bad.code, 1);
    assert.equal(existsSync(path.join(project, '.loupe')), false, 'an index run that cannot load its model creates nothing');
  });

  test('search | head: the reader going away is a quiet exit 0 (EPIPE)', async () => {
    const project = path.join(root, 'project');
    const idx = loupe('index', project, '--model', model, '--cpu');
    assert.equal(idx.code, 0, idx.err);
    for (const json of [false, true]) {
      const child = spawn(
        process.execPath,
        [BIN, 'search', project, 'parse config file', '-k', '50', '--model', model, '--cpu', ...(json ? ['--json'] : [])],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      // The reader closes before the first result is written, as `head -1` does after its line.
      child.stdout.destroy();
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
      assert.equal(code, 0, err);
      assert.doesNotMatch(err, /EPIPE|Unhandled|\n\s+at /, err);
    }
  });
});
