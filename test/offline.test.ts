/**
 * No network at index or search time: the CLI runs in a network namespace without interfaces
 * (`unshare -n`, as root), indexes and searches, and writes nothing outside the store folder
 * (the tree, a fresh HOME and TMPDIR are compared before and after).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { SAMPLE_PROJECT, tempDir, writeTree } from './support/helpers.js';
import { BIN, locations, modelArgs, treeDigest } from './support/store-faults.js';

const canUnshare = process.platform === 'linux' && process.getuid?.() === 0 && spawnSync('unshare', ['-n', 'true']).status === 0;

describe('offline (real CLI in a network namespace)', () => {
  test(
    'index and search with no network interface; nothing written outside the store',
    { skip: canUnshare ? false : 'needs root and unshare -n (Linux)' },
    () => {
      const { dir, cleanup } = tempDir('loupe-offline-');
      try {
        const root = path.join(dir, 'proj');
        writeTree(root, SAMPLE_PROJECT);
        const home = path.join(dir, 'home');
        const tmp = path.join(dir, 'tmp');
        mkdirSync(home);
        mkdirSync(tmp);
        const store = path.join(root, '.loupe');
        const before = treeDigest(dir, store);
        // The namespace really has no network: a connection attempt fails inside it.
        const probe = spawnSync(
          'unshare',
          [
            '-n',
            process.execPath,
            '-e',
            "require('net').connect(80, '1.1.1.1').on('error', (e) => { console.log(e.code); process.exit(0); }).on('connect', () => process.exit(1))",
          ],
          { encoding: 'utf8', timeout: 20_000 },
        );
        assert.equal(probe.status, 0, `a connection succeeded inside the namespace: ${probe.stdout}${probe.stderr}`);
        const env = { ...process.env, HOME: home, TMPDIR: tmp, XDG_CACHE_HOME: path.join(home, '.cache'), LOUPE_BACKOFF: '0' };
        const run = (...args: string[]) =>
          spawnSync('unshare', ['-n', process.execPath, BIN, ...args, ...modelArgs()], { encoding: 'utf8', env, timeout: 180_000 });
        const ix = run('index', root);
        assert.equal(ix.status, 0, ix.stderr);
        const s = run('search', root, 'parse config file', '--json', '-k', '3');
        assert.equal(s.status, 0, s.stderr);
        assert.equal(locations(s.stdout)[0]?.split(':')[0], 'src/config.ts');
        const after = treeDigest(dir, store);
        const changed = [...new Set([...before.keys(), ...after.keys()])].filter((k) => before.get(k) !== after.get(k));
        assert.deepEqual(changed, [], 'written outside the store folder');
      } finally {
        cleanup();
      }
    },
  );
});
