/** Detection against real processes, real environments, a real HTTP server on 127.0.0.1, and this machine's hardware. */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { ContentionSampler } from '../src/adapters/compute/sampler.js';
import { detectHardware, llamaGpuBackend } from '../src/adapters/compute/hardware.js';
import { SAMPLE_PROJECT, tempDir, tinyBertPath, writeTree } from './support/helpers.js';
import { EngineClient } from '../src/adapters/engine-client.js';

const linux = process.platform === 'linux';

function startNamed(dir: string, name: string, env: Record<string, string> = {}): ChildProcess {
  const exe = path.join(dir, name);
  copyFileSync('/bin/sleep', exe);
  return spawn(exe, ['60'], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: 'ignore' });
}

test('a real process named like an agent is detected by name, with its pid', { skip: !linux && 'uses /bin/sleep and /proc' }, async () => {
  const { dir, cleanup } = tempDir();
  const child = startNamed(dir, 'claude');
  const other = startNamed(dir, 'not-an-agent');
  try {
    await new Promise((r) => setTimeout(r, 200));
    const s = new ContentionSampler({ llmPorts: [] });
    const smp = await s.sample();
    const found = s.details.agentProcesses.filter((a) => a.pid === child.pid);
    assert.equal(found.length, 1, JSON.stringify(s.details.agentProcesses));
    assert.equal(found[0].agent, 'claude');
    assert.ok(smp.agents.some((a) => a.agent === 'claude'));
    assert.ok(!s.details.agentProcesses.some((a) => a.pid === other.pid));
    child.kill();
    await new Promise((r) => child.once('exit', r));
    await s.sample();
    assert.ok(!s.details.agentProcesses.some((a) => a.pid === child.pid), 'gone after it exits');
  } finally {
    child.kill();
    other.kill();
    cleanup();
  }
});

test(
  'environment markers are read from /proc/<pid>/environ: CLAUDECODE=1 and GEMINI_CLI=1 on plainly named processes',
  { skip: !linux && 'Linux /proc' },
  async () => {
    const { dir, cleanup } = tempDir();
    const a = startNamed(dir, 'worker-a', { CLAUDECODE: '1' });
    const b = startNamed(dir, 'worker-b', { GEMINI_CLI: '1' });
    const c = startNamed(dir, 'worker-c', { CLAUDECODE: '0' });
    try {
      await new Promise((r) => setTimeout(r, 200));
      const s = new ContentionSampler({ llmPorts: [] });
      const smp = await s.sample();
      const byPid = new Map(s.details.envMatches.map((m) => [m.pid, m]));
      assert.equal(byPid.get(a.pid!)?.agent, 'claude');
      assert.equal(byPid.get(a.pid!)?.marker, 'CLAUDECODE=1');
      assert.equal(byPid.get(a.pid!)?.name, 'worker-a');
      assert.equal(byPid.get(b.pid!)?.agent, 'gemini');
      assert.equal(byPid.has(c.pid!), false);
      const g = smp.agents.find((x) => x.agent === 'gemini');
      assert.ok(g && g.via === 'env', JSON.stringify(smp.agents));
    } finally {
      for (const p of [a, b, c]) p.kill();
      cleanup();
    }
  },
);

test(
  "CPU: a busy child shows up in its own CPU figure, and others' CPU excludes the sampler's own process",
  { skip: !linux && 'Linux /proc' },
  async () => {
    const burner = spawn(process.execPath, ['-e', 'process.title="claude"; const t=Date.now(); while(Date.now()-t<4000){}'], {
      stdio: 'ignore',
    });
    try {
      const s = new ContentionSampler({ llmPorts: [] });
      await new Promise((r) => setTimeout(r, 300));
      await s.sample();
      await new Promise((r) => setTimeout(r, 1200));
      const smp = await s.sample();
      assert.ok(smp.cpuOthers !== null && smp.cpuOthers >= 0 && smp.cpuOthers <= 1);
      const p = s.details.agentProcesses.find((x) => x.pid === burner.pid);
      assert.ok(p, 'process.title sets comm: found as claude');
      assert.ok((p.cpuPercent ?? 0) > 5, `burner CPU ${p.cpuPercent}%`);
      // The same machine seen as if the burner were Loupe: its CPU is no longer "others".
      const asSelf = new ContentionSampler({ llmPorts: [], selfPids: [burner.pid!] });
      await asSelf.sample();
      await new Promise((r) => setTimeout(r, 1000));
      const mine = await asSelf.sample();
      assert.ok(!asSelf.details.agentProcesses.some((x) => x.pid === burner.pid));
      assert.ok(mine.cpuOthers !== null);
    } finally {
      burner.kill();
    }
  },
);

test('a real OpenAI-compatible server on 127.0.0.1: found, models listed, busy from llama-server /slots', async () => {
  let processing = false;
  let slots = true;
  const server = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/v1/models') res.end(JSON.stringify({ object: 'list', data: [{ id: 'tiny-llama' }] }));
    else if (req.url === '/slots' && slots)
      res.end(
        JSON.stringify([
          { id: 0, is_processing: processing },
          { id: 1, is_processing: false },
        ]),
      );
    else {
      res.statusCode = 404;
      res.end('{}');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    const s = new ContentionSampler({ llmPorts: [{ port, server: 'llama-server' }] });
    let found = await s.probeLlmServers();
    assert.deepEqual(found, [
      {
        server: 'llama-server',
        endpoint: `http://127.0.0.1:${port}`,
        busy: false,
        how: '/slots: 0 of 2 processing',
        models: ['tiny-llama'],
      },
    ]);
    processing = true;
    found = await s.probeLlmServers();
    assert.equal(found[0].busy, true);
    slots = false;
    found = await s.probeLlmServers();
    assert.deepEqual(
      found.map((f) => [f.server, f.busy]),
      [['openai-compatible', null]],
    );
    server.close();
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(await s.probeLlmServers(), [], 'nothing listening: nothing found');
  } finally {
    server.close();
  }
});

test("hardware on this machine: no Neural Engine off macOS, cores from /proc/cpuinfo, node-llama-cpp's GPU backend", async () => {
  const hw = await detectHardware({ gpuBackend: 'skip' });
  assert.equal(hw.platform, process.platform);
  if (process.platform !== 'darwin') {
    assert.equal(hw.hasAne, false);
    assert.ok(hw.notes.includes('no Neural Engine on this machine: back-off alone applies'));
  }
  if (linux) assert.ok(hw.physicalCores && hw.physicalCores >= 1);
  const backend = await llamaGpuBackend();
  assert.ok(backend === false || ['metal', 'cuda', 'vulkan'].includes(backend as string), String(backend));
  const full = await detectHardware({ gpuBackend: backend ?? 'skip' });
  assert.match(full.summary, /GPU: (none|Metal|CUDA|Vulkan)/);
});

test('engine process: open with backoff, a compute request shows hardware and the back-off state; without backoff too', async () => {
  const { dir, cleanup } = tempDir();
  writeTree(dir, SAMPLE_PROJECT);
  const client = new EngineClient();
  try {
    await client.open({ root: dir, modelPath: tinyBertPath(), gpu: false, contexts: 1, threadsPerContext: 1, backoff: true });
    await client.request('index', { jobId: 'j1' });
    const c = await client.request('compute', {});
    assert.ok(c, 'a compute status');
    assert.equal(c.backoff, true);
    assert.equal(c.unit, 'cpu');
    assert.equal(c.hardware?.platform, process.platform);
    assert.match(c.explanation, /^(full speed|backing off|backing off hard): /);
    assert.deepEqual(c.units, ['CPU']);
    await client.open({ root: dir, modelPath: tinyBertPath(), gpu: false, contexts: 1, threadsPerContext: 1 });
    const off = await client.request('compute', {});
    assert.equal(off?.backoff, false);
    assert.equal(off?.explanation, 'full speed: back-off off');
  } finally {
    await client.close();
    cleanup();
  }
});

// The Windows and NVIDIA paths of the sampler, run here with the tools' output canned (no
// Windows or NVIDIA GPU on the build machine): the sampler's own logic — CPU from time deltas,
// agent and server detection, "GPU held by another process" — runs for real.
describe('sampler on canned Windows and nvidia-smi output (samples written by hand)', () => {
  const ps = (claudeCpu100ns: number, ollamaCpu100ns: number) =>
    [
      `4\t0\tSystem\t9000000\t0\t0\t`,
      `5120\t4400\tnode.exe\t100000\t${claudeCpu100ns}\t638670000000000000\t"C:\\Program Files\\nodejs\\node.exe" C:\\Users\\dev\\AppData\\Roaming\\npm\\node_modules\\@anthropic-ai\\claude-code\\cli.js`,
      `7012\t6900\tollama.exe\t0\t${ollamaCpu100ns}\t638670000010000000\t"C:\\Users\\dev\\AppData\\Local\\Programs\\Ollama\\ollama.exe" serve`,
      `8100\t1\tCode.exe\t50000\t60000\t638670000020000000\t`,
      'not a process line',
    ].join('\r\n');

  test('win32: processes from PowerShell, agents by command line, server CPU from time deltas', async () => {
    let call = 0;
    const calls: string[] = [];
    const s = new ContentionSampler({
      platform: 'win32',
      llmPorts: [],
      selfPids: [8100],
      win32ProcessIntervalMs: 0,
      exec: async (cmd, args) => {
        calls.push(cmd);
        if (cmd === 'powershell.exe') {
          assert.ok(args.includes('-NoProfile') && args.at(-1)!.startsWith('Get-CimInstance Win32_Process'));
          // Between the two samples ollama burns ~0.3 s of CPU and claude almost none.
          return call++ === 0 ? ps(2_000_000, 10_000_000) : ps(2_000_100, 13_000_000);
        }
        return null; // no nvidia-smi
      },
    });
    await s.sample();
    await new Promise((r) => setTimeout(r, 300));
    const sample = await s.sample();
    assert.deepEqual(
      sample.agents.map((a) => a.agent),
      ['claude'],
    );
    assert.equal(s.details.agentProcesses[0].pid, 5120);
    const ollama = s.details.llmProcesses.find((p) => p.server === 'ollama');
    assert.ok(ollama && ollama.name === 'ollama', JSON.stringify(s.details.llmProcesses));
    // 0.3 s of CPU over ~0.3 s of wall time: busy (≥ 50 % of a core); the bound allows for timer slack.
    assert.ok(ollama.cpuPercent > 50 && ollama.cpuPercent <= 110, `ollama CPU ${ollama.cpuPercent}`);
    assert.deepEqual(
      sample.llmServers.map((x) => [x.server, x.busy]),
      [['ollama', true]],
    );
    assert.equal(sample.gpu, null, 'no nvidia-smi: GPU load unknown');
    assert.ok(calls.filter((c) => c === 'nvidia-smi').length === 1, 'a missing nvidia-smi is not asked again');
    // By default the costly listing is reused between refreshes.
    let lists = 0;
    const cached = new ContentionSampler({
      platform: 'win32',
      llmPorts: [],
      exec: async (cmd) => (cmd === 'powershell.exe' ? (lists++, ps(0, 0)) : null),
    });
    await cached.sample();
    await cached.sample();
    assert.equal(lists, 1);
    assert.equal(cached.details.llmProcesses.length, 1);
  });

  test('nvidia-smi: utilisation of the busiest GPU, and whether another process holds one', async () => {
    const mk = (apps: string) =>
      new ContentionSampler({
        platform: 'linux',
        llmPorts: [],
        selfPids: [process.pid],
        exec: async (cmd, args) => {
          if (cmd !== 'nvidia-smi') return null;
          return args[0].startsWith('--query-gpu')
            ? '0, NVIDIA GeForce RTX 4090, 97, 20311, 24564\n1, NVIDIA T400 4GB, [N/A], 5, 4096\n'
            : apps;
        },
      });
    const held = await mk(`31337, /usr/bin/llama-server, 19800\n`).sample();
    assert.equal(held.gpu, 0.97);
    assert.equal(held.gpuHeldByOther, true);
    const own = await mk(`${process.pid}, /usr/bin/node, 900\n`).sample();
    assert.equal(own.gpuHeldByOther, false, "Loupe's own GPU memory is not contention");
  });
});
