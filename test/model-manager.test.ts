import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { downloadFile, ModelManager, CATALOG, type CatalogEntry, type DownloadProgress } from '../src/core/models/manager.js';
import { profileFor } from '../src/core/model-profiles.js';
import { LoupeError } from '../src/core/types.js';
import { tempDir } from './support/files.js';
import { runModelsCli } from '../src/cli/models.js';

/** A generated "model": 3 MiB of deterministic pseudo-random bytes. */
const SIZE = 3 * 1024 * 1024;
const FILE = (() => {
  const b = Buffer.alloc(SIZE);
  let x = 0x12345678;
  for (let i = 0; i < SIZE; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
})();
const SHA = createHash('sha256').update(FILE).digest('hex');

type Mode = 'ok' | 'truncate' | 'corrupt' | 'slow' | 'no-range' | 'missing';

/**
 * A tiny stand-in for the hub on 127.0.0.1: `/api/models/<repo>/tree/main` lists the file with
 * its LFS sha256 and size, `/<repo>/resolve/main/<file>` serves it with Range support. `mode`
 * makes the next transfers misbehave.
 */
class FakeHub {
  server!: Server;
  mode: Mode = 'ok';
  requests: { url: string; range?: string }[] = [];

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.requests.push({ url: req.url!, range: req.headers.range });
      if (req.url === '/api/models/acme/tiny-GGUF/tree/main') {
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify([
            { type: 'file', path: 'README.md', size: 10 },
            { type: 'file', path: 'tiny-Q4_K_M.gguf', size: 5, lfs: { oid: 'a'.repeat(64), size: 5 } },
            { type: 'file', path: 'tiny-Q8_0.gguf', size: SIZE, lfs: { oid: SHA, size: SIZE } },
          ]),
        );
        return;
      }
      if (req.url !== '/acme/tiny-GGUF/resolve/main/tiny-Q8_0.gguf' || this.mode === 'missing') {
        res.statusCode = 404;
        res.end('not found');
        return;
      }
      let body = FILE;
      if (this.mode === 'corrupt') {
        body = Buffer.from(FILE);
        body[SIZE >> 1] ^= 0xff;
      }
      let start = 0;
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      if (m && this.mode !== 'no-range') {
        start = Number(m[1]);
        if (start >= SIZE) {
          res.statusCode = 416;
          res.setHeader('content-range', `bytes */${SIZE}`);
          res.end();
          return;
        }
        res.statusCode = 206;
        res.setHeader('content-range', `bytes ${start}-${SIZE - 1}/${SIZE}`);
      }
      res.setHeader('content-length', String(SIZE - start));
      res.setHeader('accept-ranges', 'bytes');
      const rest = body.subarray(start);
      if (this.mode === 'truncate') {
        // Announce the whole length, send a third, then drop the connection.
        res.write(rest.subarray(0, Math.floor(rest.length / 3)), () => setTimeout(() => res.destroy(), 20));
        return;
      }
      if (this.mode === 'slow') {
        let off = 0;
        const tick = (): void => {
          if (res.destroyed) return;
          if (off >= rest.length) return void res.end();
          res.write(rest.subarray(off, off + 64 * 1024));
          off += 64 * 1024;
          setTimeout(tick, 15);
        };
        tick();
        return;
      }
      res.end(rest);
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

const TINY: CatalogEntry = {
  id: 'tiny',
  name: 'tiny-bge-small-en',
  repo: 'acme/tiny-GGUF',
  revision: 'main',
  file: /Q8_0\.gguf$/i,
  approxMB: 3,
  dimensions: 384,
  pooling: 'cls',
  profile: profileFor('bge-small-en'),
  licence: 'MIT',
  notes: 'test',
};

async function rejectsWith(p: Promise<unknown>, code: string): Promise<LoupeError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof LoupeError, `expected a LoupeError, got ${(e as Error).stack}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ${code}`);
}

describe('model manager: downloads from a local stand-in hub on 127.0.0.1', () => {
  const hub = new FakeHub();
  let base = '';
  before(async () => {
    base = await hub.start();
  });
  after(() => hub.stop());

  test('install: resolves the file and its sha256 from the listing, downloads with progress, verifies, lists and removes', async () => {
    const { dir, cleanup } = tempDir();
    try {
      hub.mode = 'ok';
      const mm = new ModelManager({ dir, endpoint: base, catalog: [TINY] });
      const r = await mm.resolve('tiny');
      assert.equal(r.file, 'tiny-Q8_0.gguf');
      assert.equal(r.sha256, SHA);
      assert.equal(r.size, SIZE);
      const seen: DownloadProgress[] = [];
      const rec = await mm.install('TINY', { onProgress: (p) => seen.push(p) });
      assert.equal(rec.sha256, SHA);
      assert.deepEqual(readFileSync(rec.path), FILE);
      assert.ok(seen.length >= 1 && seen.at(-1)!.received === SIZE && seen.at(-1)!.total === SIZE);
      assert.ok(
        seen.every((p, i) => i === 0 || p.received >= seen[i - 1].received),
        'progress only grows',
      );
      assert.equal(existsSync(`${rec.path}.part`), false);
      assert.deepEqual(
        mm.installed().map((m) => m.id),
        ['tiny'],
      );
      // Installing again is a no-op.
      const before = hub.requests.length;
      await mm.install('tiny');
      assert.equal(hub.requests.length, before);
      assert.equal(mm.remove('tiny'), true);
      assert.deepEqual(mm.installed(), []);
      await rejectsWith(mm.install('nope'), 'unknown-model');
    } finally {
      cleanup();
    }
  });

  test('a truncated transfer keeps the partial file; the next call resumes with a Range request and verifies the whole', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const dest = path.join(dir, 'm.gguf');
      const url = `${base}/acme/tiny-GGUF/resolve/main/tiny-Q8_0.gguf`;
      hub.mode = 'truncate';
      await rejectsWith(downloadFile({ url, dest, sha256: SHA, size: SIZE }), 'download-incomplete');
      const partial = statSync(`${dest}.part`).size;
      assert.ok(partial > 0 && partial < SIZE, `partial ${partial}`);
      assert.equal(existsSync(dest), false, 'nothing half-written at the final path');
      hub.mode = 'ok';
      hub.requests = [];
      const got = await downloadFile({ url, dest, sha256: SHA, size: SIZE });
      assert.equal(got.resumedFrom, partial);
      assert.equal(hub.requests[0].range, `bytes=${partial}-`);
      assert.equal(got.sha256, SHA);
      assert.deepEqual(readFileSync(dest), FILE);
    } finally {
      cleanup();
    }
  });

  test('a corrupted transfer fails the checksum, deletes the partial file and leaves no model behind', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const dest = path.join(dir, 'm.gguf');
      hub.mode = 'corrupt';
      const e = await rejectsWith(
        downloadFile({ url: `${base}/acme/tiny-GGUF/resolve/main/tiny-Q8_0.gguf`, dest, sha256: SHA, size: SIZE }),
        'checksum-mismatch',
      );
      assert.match(e.message, /corrupt: sha256 [0-9a-f]{64}, expected/);
      assert.equal(existsSync(dest), false);
      assert.equal(existsSync(`${dest}.part`), false);
      // A corrupt partial file on disk (e.g. a bad earlier attempt) is caught too, even when resumed.
      hub.mode = 'ok';
      writeFileSync(`${dest}.part`, Buffer.alloc(1000, 7));
      await rejectsWith(
        downloadFile({ url: `${base}/acme/tiny-GGUF/resolve/main/tiny-Q8_0.gguf`, dest, sha256: SHA, size: SIZE }),
        'checksum-mismatch',
      );
      assert.equal(existsSync(dest), false);
      const ok = await downloadFile({ url: `${base}/acme/tiny-GGUF/resolve/main/tiny-Q8_0.gguf`, dest, sha256: SHA, size: SIZE });
      assert.equal(ok.resumedFrom, 0);
      assert.deepEqual(readFileSync(dest), FILE);
    } finally {
      cleanup();
    }
  });

  test('cancel keeps the partial file; resuming completes; a server that ignores Range restarts cleanly', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const mm = new ModelManager({ dir, endpoint: base, catalog: [TINY] });
      hub.mode = 'slow';
      const ac = new AbortController();
      await rejectsWith(
        mm.install('tiny', { signal: ac.signal, onProgress: (p) => p.received > SIZE / 4 && ac.abort() }),
        'download-cancelled',
      );
      const part = path.join(dir, 'tiny-Q8_0.gguf.part');
      const kept = statSync(part).size;
      assert.ok(kept > SIZE / 4 && kept < SIZE, `kept ${kept}`);
      assert.deepEqual(mm.installed(), []);

      hub.mode = 'no-range';
      const rec = await mm.install('tiny');
      assert.deepEqual(readFileSync(rec.path), FILE, 'a 200 answer to a Range request replaces the partial file, not appends to it');
      mm.remove('tiny');

      hub.mode = 'slow';
      const ac2 = new AbortController();
      await rejectsWith(
        mm.install('tiny', { signal: ac2.signal, onProgress: (p) => p.received > SIZE / 2 && ac2.abort() }),
        'download-cancelled',
      );
      hub.mode = 'ok';
      const seen: DownloadProgress[] = [];
      const again = await mm.install('tiny', { onProgress: (p) => seen.push(p) });
      assert.ok(seen[0].resumedFrom > SIZE / 2, 'resumed, not restarted');
      assert.deepEqual(readFileSync(again.path), FILE);
    } finally {
      cleanup();
    }
  });

  test('offline or a missing file: a clear error, nothing installed', async () => {
    const { dir, cleanup } = tempDir();
    try {
      // A port nothing listens on.
      const closed = createServer();
      await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
      const port = (closed.address() as AddressInfo).port;
      await new Promise<void>((r) => closed.close(() => r()));
      const offline = new ModelManager({ dir, endpoint: `http://127.0.0.1:${port}`, catalog: [TINY] });
      const e = await rejectsWith(offline.install('tiny'), 'offline');
      assert.match(e.message, /Are you offline\? Nothing was changed; the current model stays in use/);
      assert.deepEqual(offline.installed(), []);

      hub.mode = 'missing';
      const mm = new ModelManager({ dir, endpoint: base, catalog: [TINY, { ...TINY, id: 'gone', repo: 'acme/gone' }] });
      await rejectsWith(mm.install('tiny'), 'not-found');
      await rejectsWith(mm.install('gone'), 'not-found');
      hub.mode = 'ok';
    } finally {
      cleanup();
    }
  });

  test('loupe models: install, list, path, remove through the CLI; offline exits 1 with the reason', async () => {
    const { dir, cleanup } = tempDir();
    const env = process.env.HF_ENDPOINT;
    try {
      hub.mode = 'ok';
      const out: string[] = [];
      const err: string[] = [];
      const io = { out: (s: string) => out.push(s), err: (s: string) => err.push(s), isTTY: false };
      // The CLI installs catalogue models; point one at the stand-in hub's repository.
      const entry = CATALOG.find((c) => c.id === 'bge-small-en-v1.5')!;
      const saved = { repo: entry.repo, file: entry.file };
      Object.assign(entry, { repo: 'acme/tiny-GGUF', file: /Q8_0\.gguf$/i });
      try {
        process.env.HF_ENDPOINT = base;
        assert.equal(await runModelsCli(['install', 'bge-small-en-v1.5', '--dir', dir], io), 0, err.join('\n'));
        assert.match(out.join('\n'), /installed: .*tiny-Q8_0\.gguf/);
        assert.equal(await runModelsCli(['list', '--json', '--dir', dir], io), 0);
        const listed = JSON.parse(out.at(-1)!) as { id: string; installed: unknown }[];
        assert.ok(listed.find((m) => m.id === 'bge-small-en-v1.5')!.installed);
        assert.equal(await runModelsCli(['remove', 'bge-small-en-v1.5', '--dir', dir], io), 0);
        process.env.HF_ENDPOINT = 'http://127.0.0.1:9';
        assert.equal(await runModelsCli(['install', 'bge-small-en-v1.5', '--dir', dir], io), 1);
        assert.match(err.at(-1)!, /Are you offline\?/);
      } finally {
        Object.assign(entry, saved);
      }
    } finally {
      if (env === undefined) delete process.env.HF_ENDPOINT;
      else process.env.HF_ENDPOINT = env;
      cleanup();
    }
  });

  test('the catalogue names the recommended models with complete profiles', () => {
    const ids = CATALOG.map((c) => c.id);
    for (const id of ['embeddinggemma-300m', 'qwen3-embedding-0.6b', 'coderankembed', 'jina-embeddings-v2-base-code', 'bge-small-en-v1.5'])
      assert.ok(ids.includes(id), id);
    for (const c of CATALOG) {
      assert.ok(c.dimensions > 0 && c.profile.maxTokens > 0 && ['mean', 'cls', 'last'].includes(c.pooling), c.id);
    }
    assert.match(CATALOG.find((c) => c.id === 'coderankembed')!.profile.queryPrefix, /searching relevant code/);
    assert.match(CATALOG.find((c) => c.id === 'embeddinggemma-300m')!.profile.documentPrefix, /title: none/);
  });
});

test('model profiles: query/document prefixes and token budgets by model name', () => {
  assert.deepEqual(profileFor('all-MiniLM-L6-v2'), { queryPrefix: '', documentPrefix: '', maxTokens: 256 });
  assert.equal(profileFor('bge-small-en-v1.5').queryPrefix, 'Represent this sentence for searching relevant passages: ');
  assert.deepEqual(profileFor('e5-small-v2'), { queryPrefix: 'query: ', documentPrefix: 'passage: ', maxTokens: 512 });
  assert.equal(profileFor('multilingual-e5-small').queryPrefix, 'query: ');
  // "e5-" inside another word is not an e5 model.
  assert.equal(profileFor('shoe5-small').queryPrefix, '');
});
