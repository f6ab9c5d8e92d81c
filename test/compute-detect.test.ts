/** Detection against real processes, real environments, a real HTTP server on 127.0.0.1, and this machine's hardware. */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { test } from 'node:test';
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

test('environment markers are read from /proc/<pid>/environ: CLAUDECODE=1 and GEMINI_CLI=1 on plainly named processes', { skip: !linux && 'Linux /proc' }, async () => {
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
});

test('CPU: a busy child shows up in its own CPU figure, and others\' CPU excludes the sampler\'s own process', { skip: !linux && 'Linux /proc' }, async () => {
  const burner = spawn(process.execPath, ['-e', 'process.title="claude"; const t=Date.now(); while(Date.now()-t<4000){}'], { stdio: 'ignore' });
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
});

test('a real OpenAI-compatible server on 127.0.0.1: found, models listed, busy from llama-server /slots', async () => {
  let processing = false;
  let slots = true;
  const server = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/v1/models') res.end(JSON.stringify({ object: 'list', data: [{ id: 'tiny-llama' }] }));
    else if (req.url === '/slots' && slots) res.end(JSON.stringify([{ id: 0, is_processing: processing }, { id: 1, is_processing: false }]));
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
    assert.deepEqual(found, [{ server: 'llama-server', endpoint: `http://127.0.0.1:${port}`, busy: false, how: '/slots: 0 of 2 processing', models: ['tiny-llama'] }]);
    processing = true;
    found = await s.probeLlmServers();
    assert.equal(found[0].busy, true);
    slots = false;
    found = await s.probeLlmServers();
    assert.deepEqual(found.map((f) => [f.server, f.busy]), [['openai-compatible', null]]);
    server.close();
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(await s.probeLlmServers(), [], 'nothing listening: nothing found');
  } finally {
    server.close();
  }
});

test('hardware on this machine: no Neural Engine off macOS, cores from /proc/cpuinfo, node-llama-cpp\'s GPU backend', async () => {
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
