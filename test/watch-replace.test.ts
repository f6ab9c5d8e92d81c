/**
 * Watch mode when a folder is replaced: by a file, or by another folder of the same name
 * (renamed away and recreated, or `rm -rf` + `mkdir`). Real chokidar, real engine: after every
 * round the index holds exactly the files on disk, new files are found by search, old ones are gone.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ChokidarWatcher } from '../src/adapters/chokidar-watcher.js';
import type { Engine } from '../src/core/engine.js';
import { openTestEngine, tempDir, writeTree } from './support/helpers.js';

const ROUNDS = 5;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every file under `root` (relative, `/`-separated), the store folder left out. */
function filesOnDisk(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.name === '.loupe') continue;
      if (e.isDirectory()) walk(r);
      else if (e.isFile()) out.push(r);
    }
  };
  walk('');
  return out.sort();
}

const source = (word: string) => `export function ${word}Handler(input: string) {\n  return '${word}' + input.length;\n}\n`;

describe('watch mode: a folder replaced by a file or by another folder', () => {
  let dir: string;
  let cleanup: () => void;
  let engine: Engine;
  let watcher: ChokidarWatcher;
  const errors: string[] = [];

  before(async () => {
    ({ dir, cleanup } = tempDir('loupe-watch-replace-'));
    writeTree(dir, { 'keep.ts': source('keeper'), 'pkg/first.ts': source('alphaone'), 'pkg/deep/second.ts': source('alphatwo') });
    engine = await openTestEngine(dir);
    await engine.index();
    watcher = new ChokidarWatcher({
      root: dir,
      isIgnored: (rel, isDir) => engine.isIgnored(rel, isDir),
      debounceMs: 100,
      maxWaitMs: 1000,
      logger: { info: () => {}, debug: () => {}, warn: (m) => errors.push(m), error: (m) => errors.push(m) },
    });
    await watcher.start(async (batch) => {
      if (batch.rescan) await engine.index();
      else await engine.updatePaths(batch.changed, batch.deleted);
    });
  });

  after(async () => {
    await watcher?.close();
    await engine?.close();
    cleanup?.();
  });

  /** Waits until the index equals the disk (or fails with both lists). */
  async function converged(what: string): Promise<void> {
    const end = Date.now() + 15_000;
    for (;;) {
      await sleep(150);
      await watcher.idle();
      const want = filesOnDisk(dir);
      const have = [...engine.store.files.keys()].sort();
      if (JSON.stringify(want) === JSON.stringify(have)) return;
      if (Date.now() > end) assert.deepEqual(have, want, `${what}: the index should hold exactly the files on disk`);
    }
  }

  async function found(word: string, rel: string): Promise<void> {
    const hits = await engine.search(`${word}Handler`, { k: 10 });
    assert.ok(
      hits.some((h) => h.path === rel),
      `search for ${word} should find ${rel}; got ${hits.map((h) => h.path).join(', ')}`,
    );
  }

  async function notFound(rels: string[]): Promise<void> {
    const hits = await engine.search('Handler input length', { k: 50 });
    for (const rel of rels) assert.ok(!hits.some((h) => h.path === rel), `${rel} is gone from disk but still found`);
  }

  test(`a folder renamed away and recreated with other files (${ROUNDS} rounds)`, async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const old = filesOnDisk(dir).filter((f) => f.startsWith('pkg/'));
      fs.renameSync(path.join(dir, 'pkg'), path.join(dir, `moved${i}`));
      fs.mkdirSync(path.join(dir, 'pkg'));
      writeTree(dir, { [`pkg/renew${i}.ts`]: source(`renew${i}`), [`pkg/sub${i}/inner.ts`]: source(`inner${i}`) });
      await converged(`rename round ${i}`);
      await found(`renew${i}`, `pkg/renew${i}.ts`);
      await found(`inner${i}`, `pkg/sub${i}/inner.ts`);
      await notFound(old);
      fs.rmSync(path.join(dir, `moved${i}`), { recursive: true });
      await converged(`rename round ${i}, old copy deleted`);
    }
  });

  test(`a folder removed with rm -rf and made again with mkdir (${ROUNDS} rounds)`, async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const old = filesOnDisk(dir).filter((f) => f.startsWith('pkg/'));
      fs.rmSync(path.join(dir, 'pkg'), { recursive: true });
      fs.mkdirSync(path.join(dir, 'pkg'));
      writeTree(dir, { [`pkg/again${i}.ts`]: source(`again${i}`), [`pkg/nest${i}/more.ts`]: source(`more${i}`) });
      await converged(`rm -rf round ${i}`);
      await found(`again${i}`, `pkg/again${i}.ts`);
      await found(`more${i}`, `pkg/nest${i}/more.ts`);
      await notFound(old);
      // The new folder is watched, not the deleted one under the same name.
      writeTree(dir, { [`pkg/later${i}.ts`]: source(`later${i}`) });
      await converged(`rm -rf round ${i}, a write in the new folder`);
      await found(`later${i}`, `pkg/later${i}.ts`);
    }
  });

  test(`a folder replaced by a file of the same name, and back (${ROUNDS} rounds)`, async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const old = filesOnDisk(dir).filter((f) => f.startsWith('pkg/'));
      fs.rmSync(path.join(dir, 'pkg'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'pkg'), source(`plainfile${i}`));
      await converged(`folder to file round ${i}`);
      await found(`plainfile${i}`, 'pkg');
      await notFound(old);
      fs.rmSync(path.join(dir, 'pkg'));
      writeTree(dir, { [`pkg/back${i}.ts`]: source(`back${i}`) });
      await converged(`file to folder round ${i}`);
      await found(`back${i}`, `pkg/back${i}.ts`);
      await notFound(['pkg']);
    }
    assert.deepEqual(errors, []);
  });
});
