// The shared engine on its local socket (src/adapters/engine-socket.ts, src/engine-process/socket-server.ts),
// driven by EngineClient in shared mode against the real engine process and the tiny model:
// one engine for two clients, permissions, SIGKILL mid-index, stale and foreign socket files,
// another uid, version skew, idle exit.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { EngineClient } from '../src/adapters/engine-client.js';
import { engineAddress, JsonLines } from '../src/adapters/engine-socket.js';
import { PROTOCOL_VERSION, type EventMessage, type OpenParams } from '../src/core/protocol.js';
import { processAlive } from '../src/core/store.js';
import { SAMPLE_PROJECT, tempDir, tinyBertPath, writeTree } from './support/helpers.js';

const posix = process.platform !== 'win32';

function project(n: number): Record<string, string> {
  const files: Record<string, string> = { ...SAMPLE_PROJECT };
  for (let i = 0; i < n; i++)
    files[`gen/m${i}.ts`] =
      `export function compute_${i}(x: number): number {\n  // compute value ${i} for the report row\n  return x * ${i} + ${i % 7};\n}\n`;
  return files;
}

/** PIDs of shared engine processes serving `storeDir` (from the process table). */
function enginePids(storeDir: string): number[] {
  const ps = spawnSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).stdout;
  return ps
    .split('\n')
    .filter((l) => l.includes('--shared') && l.includes(`--store ${storeDir}`))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
}

async function waitFor(pred: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('shared engine on a local socket', { skip: !posix && 'Unix sockets (named pipes: test/e2e/platforms.e2e.ts)' }, () => {
  let runDir: string;
  const cleanups: (() => void)[] = [];
  const clients: EngineClient[] = [];
  let savedRunDir: string | undefined;

  before(() => {
    const t = tempDir('loupe-run-');
    cleanups.push(t.cleanup);
    // A private run folder for this test, inside a folder others may enter (as /tmp is).
    runDir = path.join(t.dir, 'run');
    chmodSync(t.dir, 0o755);
    savedRunDir = process.env.LOUPE_RUN_DIR;
    process.env.LOUPE_RUN_DIR = runDir;
  });
  after(async () => {
    for (const c of clients) {
      await c.request('shutdown', {}).catch(() => undefined);
      await c.close(1000).catch(() => undefined);
    }
    if (savedRunDir === undefined) delete process.env.LOUPE_RUN_DIR;
    else process.env.LOUPE_RUN_DIR = savedRunDir;
    for (const c of cleanups) c();
  });

  function newProject(n = 0): { root: string; params: OpenParams } {
    const t = tempDir('loupe-shared-');
    cleanups.push(t.cleanup);
    writeTree(t.dir, project(n));
    return { root: t.dir, params: { root: t.dir, modelPath: tinyBertPath(), gpu: false, contexts: 1, threadsPerContext: 1, batchSize: 8 } };
  }

  function client(name: string, extra: Partial<ConstructorParameters<typeof EngineClient>[0]> = {}): EngineClient {
    const c = new EngineClient({ shared: name, ...extra });
    clients.push(c);
    return c;
  }

  test('two clients share one engine; run folder 0700 and socket 0600; both search while one indexes', async () => {
    const { root, params } = newProject(20);
    const a = client('test-a');
    const b = client('test-b');
    await a.open(params);
    const indexing = a.request('index', { jobId: 'a-1' });
    await b.open(params);
    assert.equal(a.pid, b.pid, 'one engine for both clients');
    assert.deepEqual(enginePids(path.join(root, '.loupe')), [a.pid]);
    // b searches while a's index runs (the engine is the one writer; no store-locked refusal).
    await b.request('search', { query: 'compute value', k: 3 });
    const summary = await indexing;
    assert.equal(summary.files, 25);
    const hits = await b.request('search', { query: 'parse the config file', k: 1 });
    assert.equal(hits[0].path, 'src/config.ts');

    const addr = engineAddress(path.join(root, '.loupe'));
    assert.equal(statSync(addr.dir).mode & 0o777, 0o700);
    assert.equal(lstatSync(addr.socket).mode & 0o777, 0o600);
    assert.ok(lstatSync(addr.socket).isSocket());
  });

  // The killed engine's socket may still accept for a moment as it dies: the client's first connection
  // is then lost during `hello`. That used to start a second restart beside the first, and the new
  // engine loaded the store twice (two `open`s at once), so the index run and `status` saw two
  // different engines (85 files, then the 16 committed before the kill).
  test('SIGKILL mid-index: the next request restarts the engine, committed batches are kept', async () => {
    const { root, params } = newProject(80);
    const a = client('test-kill');
    await a.open(params);
    const first = a.pid!;
    let killed = false;
    const off = a.onEvent((e: EventMessage) => {
      if (!killed && e.event === 'progress' && e.jobId === 'k-1' && e.progress.chunksEmbedded >= 16) {
        killed = true;
        process.kill(first, 'SIGKILL');
      }
    });
    await assert.rejects(a.request('index', { jobId: 'k-1' }), (e: Error & { code?: string }) => e.code === 'engine-crashed');
    off();
    assert.ok(killed);
    await waitFor(() => !processAlive(first), 'the killed engine to go');
    // The stale socket left behind is cleaned by the next engine; the client re-opens it there.
    const summary = await a.request('index', { jobId: 'k-2' });
    assert.notEqual(a.pid, first);
    assert.equal(summary.files, 85);
    // Files whose batches committed before the kill are up to date: only the rest is processed again.
    assert.ok(summary.filesChanged < 85, `files committed before the kill are kept (${summary.filesChanged} of 85 processed again)`);
    const st = await a.request('status', {});
    assert.equal(st.files, 85);
    const hits = await a.request('search', { query: 'compute value 79 for the report row', k: 3 });
    assert.ok(hits.some((h) => h.path === 'gen/m79.ts'));
    assert.deepEqual(enginePids(path.join(root, '.loupe')), [a.pid]);
  });

  test('a connection lost during hello is retried, not restarted twice: one engine, one open', async () => {
    const { root, params } = newProject(4);
    const addr = engineAddress(path.join(root, '.loupe'));
    mkdirSync(addr.dir, { recursive: true, mode: 0o700 });
    // A dying engine: its socket still accepts (the client's probe, then its connection), drops the
    // connection before answering `hello`, and goes.
    let accepted = 0;
    const dying = net.createServer((s) => {
      if (++accepted < 2) return;
      s.destroy();
      dying.close();
    });
    await new Promise<void>((r) => dying.listen(addr.socket, r));
    const c = client('test-hello-lost');
    await c.open(params);
    const summary = await c.request('index', { jobId: 'h-1' });
    assert.equal(summary.files, 9);
    assert.equal((await c.request('status', {})).files, 9);
    assert.deepEqual(enginePids(path.join(root, '.loupe')), [c.pid]);
    // The engine loaded the model once: one `open` reached it, from one connection.
    assert.equal(readFileSync(addr.log, 'utf8').match(/Embedding backend/g)?.length, 1, readFileSync(addr.log, 'utf8'));
    assert.equal(c.engineInfo?.clients, 1);
  });

  test('two clients opening at once: the engine opens the index once', async () => {
    const { root, params } = newProject(4);
    const a = client('test-open-a');
    const b = client('test-open-b');
    const [sa, sb] = await Promise.all([a.open(params), b.open(params)]);
    assert.equal(a.pid, b.pid);
    assert.equal(sa.storeDir, sb.storeDir);
    const summary = await a.request('index', { jobId: 'o-1' });
    assert.equal(summary.files, 9);
    assert.equal((await b.request('status', {})).files, 9, 'both clients see the one engine that indexed');
    const log = readFileSync(engineAddress(path.join(root, '.loupe')).log, 'utf8');
    assert.equal(log.match(/Embedding backend/g)?.length, 1, log);
  });

  test('no engine is left behind: none restarted after a shutdown the client asked for, nor after its close', async () => {
    const { root, params } = newProject();
    const store = path.join(root, '.loupe');
    const c = client('test-leftover', { idleMs: 300 });
    await c.open(params);
    const first = c.pid!;
    await c.request('shutdown', {});
    await waitFor(() => !processAlive(first), 'the engine to stop');
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(enginePids(store), [], 'no engine restarted after a shutdown');
    // The next request starts one again.
    assert.equal((await c.request('status', {})).root, root);
    const second = c.pid!;
    assert.notEqual(second, first);
    // Killed, then the client closes while its restart is under way: nothing stays connected, so an
    // engine started meanwhile goes at its idle time, and this process can exit.
    process.kill(second, 'SIGKILL');
    await waitFor(() => c.pid === undefined, 'the client to see the engine go');
    await c.close();
    await waitFor(() => enginePids(store).length === 0, 'every engine for the index to exit', 20_000);
    assert.equal(c.pid, undefined);
  });

  test('a stale socket and a foreign file at the socket path are removed, never used', async () => {
    for (const kind of ['stale', 'foreign'] as const) {
      const { root, params } = newProject();
      const addr = engineAddress(path.join(root, '.loupe'));
      mkdirSync(addr.dir, { recursive: true, mode: 0o700 });
      if (kind === 'stale') {
        // A process that listened there and was killed: its socket file stays.
        const child = spawn(
          process.execPath,
          ['-e', `require('net').createServer().listen(${JSON.stringify(addr.socket)}, () => console.log('up'))`],
          { stdio: ['ignore', 'pipe', 'inherit'] },
        );
        await new Promise((r) => child.stdout!.once('data', r));
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
        assert.ok(lstatSync(addr.socket).isSocket());
      } else {
        writeFileSync(addr.socket, 'not a socket');
      }
      const c = client(`test-${kind}`);
      const st = await c.open(params);
      assert.equal(st.root, root);
      assert.ok(lstatSync(addr.socket).isSocket(), `${kind}: replaced by the engine's socket`);
      assert.match(
        readFileSync(addr.log, 'utf8'),
        kind === 'stale' ? /removed a stale socket/ : /removed a file that was not an engine socket/,
      );
      await c.request('shutdown', {});
      await waitFor(() => !existsSync(addr.socket), 'the socket to be removed at shutdown');
    }
  });

  test(
    'another user cannot connect',
    { skip: (process.getuid?.() ?? -1) !== 0 && 'needs root to run a client as another uid' },
    async () => {
      const { root, params } = newProject();
      const c = client('test-uid');
      await c.open(params);
      const addr = engineAddress(path.join(root, '.loupe'));
      // uid 65534 (nobody): the run folder (0700) and the socket (0600) keep it out.
      const child = spawn(
        process.execPath,
        [
          '-e',
          `const s = require('net').connect(${JSON.stringify(addr.socket)}); s.on('connect', () => { console.log('connected'); process.exit(0); }); s.on('error', (e) => { console.log(e.code); process.exit(1); });`,
        ],
        { uid: 65534, gid: 65534, cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      child.stdout!.on('data', (d) => (out += d));
      const code = await new Promise<number | null>((r) => child.once('exit', r));
      assert.equal(code, 1, out);
      assert.match(out.trim(), /^EACCES$/);
    },
  );

  test('version skew: refused with a clear message; an engine nobody else uses makes way', async () => {
    const { root, params } = newProject();
    const c = client('test-skew');
    await c.open(params);
    const pid = c.pid!;
    const addr = engineAddress(path.join(root, '.loupe'));
    const hello = (): Promise<{ ok: boolean; error?: { message: string; code?: string } }> =>
      new Promise((resolve, reject) => {
        const s = net.connect(addr.socket);
        const lines = new JsonLines(s, (m) => {
          s.end();
          resolve(m as { ok: boolean; error?: { message: string; code?: string } });
        });
        s.on('connect', () =>
          lines.send({ type: 'request', id: 1, method: 'hello', params: { protocol: PROTOCOL_VERSION + 1, client: 'future' } }),
        );
        s.on('error', reject);
      });
    const r1 = await hello();
    assert.equal(r1.ok, false);
    assert.equal(r1.error?.code, 'version-skew');
    assert.match(r1.error!.message, /protocol \d+ .* in use by 1 other client/);
    assert.ok(processAlive(pid), 'an engine in use stays');
    await c.close();
    await waitFor(() => c.pid === undefined, 'the client to disconnect');
    const r2 = await hello();
    assert.equal(r2.error?.code, 'version-skew-restart');
    await waitFor(() => !processAlive(pid), 'the unused engine to exit');
  });

  test('the engine exits after its idle period with no client, and removes its socket', async () => {
    const { root, params } = newProject();
    const c = client('test-idle', { idleMs: 300 });
    await c.open(params);
    const pid = c.pid!;
    const addr = engineAddress(path.join(root, '.loupe'));
    await new Promise((r) => setTimeout(r, 600));
    assert.ok(processAlive(pid), 'a connected client keeps it');
    await c.close();
    await waitFor(() => !processAlive(pid), 'the idle engine to exit', 15_000);
    assert.equal(existsSync(addr.socket), false);
  });
});
