// Run by a Windows node.exe under Wine (test/e2e/platforms.e2e.ts): the shared engine's named-pipe
// transport, end to end. Loupe's own socket module (out/src/adapters/engine-socket.js) names the
// pipe, probes it and frames the messages; the engines are the real bundle (dist/engine-server.mjs,
// no native module is loaded until an index is opened), started as the engine client starts them.
// Wine's console handles are not pipes Node can write to: every result goes to a JSON file.
// Usage: node.exe wine-pipe-probe.mjs <repo> <work folder> <result file name>
// Not `import process from 'node:process'`: its ESM facade reads process.stdout, which throws EBADF under Wine (the global is used).
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

const [repo, work, outName] = process.argv.slice(2);
const out = { platform: process.platform, steps: [] };
const save = () => writeFileSync(path.join(work, outName), JSON.stringify(out, null, 1));
const step = (name, data) => {
  out.steps.push({ name, ...data });
  save();
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

try {
  const sock = await import(pathToFileURL(path.join(repo, 'out', 'src', 'adapters', 'engine-socket.js')).href);
  const { PROTOCOL_VERSION } = await import(pathToFileURL(path.join(repo, 'out', 'src', 'core', 'protocol.js')).href);
  const env = { ...process.env, LOUPE_RUN_DIR: path.join(work, 'run') };
  const store = path.join(work, 'project', '.loupe');
  const addr = sock.engineAddress(store, env);
  // The same folder spelt in other case: one index, one pipe (Windows paths are case-insensitive).
  out.socket = addr.socket;
  out.sameForOtherCase = sock.engineAddress(store.toUpperCase(), env).socket === addr.socket;
  out.otherFolder = sock.engineAddress(path.join(work, 'other', '.loupe'), env).socket;
  /** What a plain connect to the pipe meets (probeSocket reads ENOENT as absent, other errors as stale). */
  const connectError = () =>
    new Promise((resolve) => {
      const s = net.connect(addr.socket);
      s.once('connect', () => {
        s.destroy();
        resolve('connected');
      });
      s.once('error', (e) => resolve(e.code));
    });
  step('address', { probe: await sock.probeSocket(addr.socket), error: await connectError() });

  const serverScript = path.join(repo, 'dist', 'engine-server.mjs');
  /** Starts an engine as EngineClient.startDetached does; resolves its exit code when it ends. */
  const startEngine = (tag) => {
    const log = path.join(work, `${tag}.log`);
    const fd = openSync(log, 'a');
    const child = spawn(process.execPath, [serverScript, '--shared', '--store', store, '--idle-ms', '0'], {
      stdio: ['ignore', fd, fd],
      env,
      windowsHide: true,
    });
    closeSync(fd);
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    return { child, exited, log: () => readFileSync(log, 'utf8') };
  };
  const waitLive = async (engine, ms = 30_000) => {
    const until = Date.now() + ms;
    let p;
    while (Date.now() < until) {
      p = await sock.probeSocket(addr.socket);
      if (p === 'live') return p;
      const gone = await Promise.race([engine.exited, sleep(100).then(() => null)]);
      if (gone) throw new Error(`engine exited (${JSON.stringify(gone)}) before listening: ${engine.log()}`);
    }
    throw new Error(`pipe not live after ${ms} ms (last probe: ${p}): ${engine.log()}`);
  };
  /** One connection: Loupe's JSON-lines framing, one request, its response. */
  const request = (method, params) =>
    new Promise((resolve, reject) => {
      const s = net.connect(addr.socket);
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`no response to ${method} in 10 s`));
      }, 10_000);
      s.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      const lines = new sock.JsonLines(s, (m) => {
        if (m.type !== 'response' || m.id !== 1) return;
        clearTimeout(timer);
        s.end();
        resolve(m);
      });
      // The engine may end the connection without a response (after `shutdown`): say so, not hang.
      s.once('close', () => {
        clearTimeout(timer);
        resolve({ type: 'closed', ok: false });
      });
      s.once('connect', () => {
        // `hello` first: the engine answers nothing else on a connection that has not said it.
        if (method !== 'hello')
          lines.send({ type: 'request', id: 0, method: 'hello', params: { protocol: PROTOCOL_VERSION, client: 'wine-probe' } });
        lines.send({ type: 'request', id: 1, method, params });
      });
    });

  // An engine listens on the pipe, and a client completes a round trip on it.
  const first = startEngine('first');
  step('first listening', { probe: await waitLive(first) });
  const hello = await request('hello', { protocol: PROTOCOL_VERSION, client: 'wine-probe' });
  step('hello', {
    ok: hello.ok,
    protocol: hello.result?.protocol,
    enginePid: hello.result?.pid,
    childPid: first.child.pid,
    clients: hello.result?.clients,
  });

  // A second engine on the same pipe finds the first one live and refuses (exit code 3).
  const b = startEngine('b');
  const bExit = await Promise.race([b.exited, sleep(30_000).then(() => ({ code: 'timeout' }))]);
  step('second engine', { ...bExit, log: b.log().trim().split('\n').pop() });
  const stillA = await request('hello', { protocol: PROTOCOL_VERSION, client: 'wine-probe' });
  step('first still serves', { ok: stillA.ok, enginePid: stillA.result?.pid, childPid: first.child.pid });

  // Shut down gracefully: the pipe is gone, and a new engine listens on the same name.
  const bye = await request('shutdown', {});
  step('shutdown', { response: bye.type, ...(await Promise.race([first.exited, sleep(15_000).then(() => ({ code: 'timeout' }))])) });
  step('after shutdown', { probe: await sock.probeSocket(addr.socket), error: await connectError() });
  const c = startEngine('c');
  await waitLive(c);
  const helloC = await request('hello', { protocol: PROTOCOL_VERSION, client: 'wine-probe' });
  step('relisten after shutdown', { ok: helloC.ok, enginePid: helloC.result?.pid, childPid: c.child.pid });

  // Killed (TerminateProcess, no cleanup): nothing stale is left, the next engine listens.
  c.child.kill();
  step('killed', await c.exited);
  step('after kill', { probe: await sock.probeSocket(addr.socket), error: await connectError() });
  const d = startEngine('d');
  await waitLive(d);
  const helloD = await request('hello', { protocol: PROTOCOL_VERSION, client: 'wine-probe' });
  step('relisten after kill', { ok: helloD.ok, enginePid: helloD.result?.pid, childPid: d.child.pid });
  await request('shutdown', {});
  step('last exit', await d.exited);

  // Loupe's own client, as the extension and the CLI use it: the first starts the engine detached
  // (start lock, spawn, wait for the pipe), the second shares it; a shutdown it asks for is answered.
  const { EngineClient } = await import(pathToFileURL(path.join(repo, 'out', 'src', 'adapters', 'engine-client.js')).href);
  const clientOpts = (name) => ({ shared: name, env: { LOUPE_RUN_DIR: env.LOUPE_RUN_DIR }, serverScript, idleMs: 0 });
  const params = { root: path.join(work, 'project'), storeDir: store };
  const clientA = new EngineClient(clientOpts('wine-client-a'));
  const infoA = await clientA.attach(params);
  const clientB = new EngineClient(clientOpts('wine-client-b'));
  const infoB = await clientB.attach(params);
  step('clients', { socket: clientA.address(params).socket, pidA: infoA.pid, pidB: infoB.pid, clientsB: infoB.clients });
  await clientB.close();
  const stopped = await clientA.request('shutdown', {}).then(
    (r) => ({ result: r }),
    (e) => ({ error: String(e.message) }),
  );
  let after = 'live';
  for (let i = 0; i < 100 && after === 'live'; i++) {
    await sleep(100);
    after = await sock.probeSocket(addr.socket);
  }
  step('client shutdown', { ...stopped, after });
  await clientA.close().catch(() => undefined);
  out.done = true;
} catch (e) {
  out.error = String(e?.stack ?? e);
}
save();
process.exit(0);
