/** Signal parsers on real captured output (Linux) and documented formats (macOS, nvidia-smi): see test/fixtures/compute/README.md. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import {
  agentOfProcess,
  agentsFromEnv,
  agentsFromPsEnvironment,
  cpuBusyBetween,
  llmServerOfProcess,
  onBatteryFromPowerSupplies,
  parseEnviron,
  parseIoregAccelerators,
  parseLlamaServerSlots,
  parseModelList,
  parseNvidiaSmiApps,
  parseNvidiaSmiGpus,
  parsePmsetBatt,
  parseProcPidStat,
  parseProcStat,
  parsePs,
  parseWin32Processes,
  baseName,
} from '../src/core/compute/signals.js';
import { describeHardware, physicalCoresFromCpuinfo } from '../src/core/compute/hardware.js';
import { REPO } from './support/files.js';

const fx = (name: string): string => readFileSync(path.join(REPO, 'test/fixtures/compute', name), 'utf8');

test('ps (procps, captured here): parses every line and finds the agent- and server-named processes', () => {
  const text = fx('ps-linux-procps.txt');
  const procs = parsePs(text);
  assert.equal(procs.length, text.trim().split('\n').length);
  const claude = procs.find((p) => p.name === 'claude');
  assert.ok(claude, 'claude-named process');
  assert.equal(agentOfProcess(claude), 'claude');
  const server = procs.find((p) => p.name === 'llama-server');
  assert.ok(server);
  assert.equal(llmServerOfProcess(server), 'llama-server');
  // Kernel threads ([kthreadd]) keep their bracketed name and match nothing.
  assert.ok(procs.some((p) => p.args.startsWith('[')));
  assert.equal(
    procs.filter((p) => agentOfProcess(p)).length,
    1,
    procs
      .filter((p) => agentOfProcess(p))
      .map((p) => p.args)
      .join('\n'),
  );
});

test('ps (macOS format): paths with spaces, node scripts, Ollama runner, mlx_lm.server, aider', () => {
  const procs = parsePs(fx('ps-macos.txt'));
  assert.equal(procs.length, 12);
  const agents = procs.map((p) => [p.pid, agentOfProcess(p)]).filter(([, a]) => a);
  assert.deepEqual(agents, [
    [1240, 'claude'],
    [1301, 'codex'],
    [1610, 'aider'],
  ]);
  const servers = procs.map((p) => [p.pid, llmServerOfProcess(p)]).filter(([, s]) => s);
  assert.deepEqual(servers, [
    [1377, 'ollama'],
    [1378, 'ollama'],
    [1420, 'lmstudio'],
    [1502, 'mlx_lm.server'],
  ]);
  assert.equal(procs.find((p) => p.pid === 1377)!.cpuPercent, 96.5);
  // VS Code itself is not an agent.
  assert.equal(agentOfProcess(procs.find((p) => p.pid === 901)!), null);
});

test('environment markers: /proc environ blocks and BSD ps -E output; CLAUDECODE=0 is not a marker', () => {
  const env = parseEnviron('PATH=/usr/bin\0CLAUDECODE=1\0EMPTY=\0X=a=b\0');
  assert.equal(env.get('X'), 'a=b');
  assert.deepEqual(agentsFromEnv(env), [{ agent: 'claude', marker: 'CLAUDECODE=1' }]);
  assert.deepEqual(agentsFromEnv(parseEnviron('CLAUDECODE=0\0')), []);
  const mac = agentsFromPsEnvironment(fx('ps-macos-environment.txt'));
  assert.deepEqual(
    mac.map((m) => [m.pid, m.agent]),
    [
      [1250, 'claude'],
      [1311, 'codex'],
      [1320, 'gemini'],
    ],
  );
});

test('/proc/stat and /proc/<pid>/stat (captured here), including a comm with spaces and parentheses', () => {
  const a = parseProcStat(fx('proc-stat-1.txt'))!;
  const b = parseProcStat(fx('proc-stat-2.txt'))!;
  assert.ok(a.total > 0 && b.total > a.total);
  assert.equal(cpuBusyBetween(a, b), 1, 'idle did not move between the captures: fully busy');
  assert.equal(cpuBusyBetween(b, b), null);
  const st = parseProcPidStat(fx('proc-pid-stat-parens.txt'))!;
  assert.equal(st.comm, 'agent (x) y');
  assert.equal(st.state, 'S');
  assert.ok(st.ppid > 0 && st.utime >= 0 && st.starttime > 0);
  assert.equal(parseProcPidStat('garbage'), null);
  assert.equal(physicalCoresFromCpuinfo(fx('proc-cpuinfo-epyc-2core.txt')), 2);
});

test('nvidia-smi CSV (documented format): utilisation, [N/A] fields, compute apps', () => {
  const gpus = parseNvidiaSmiGpus(fx('nvidia-smi-gpus.csv'));
  assert.deepEqual(
    gpus.map((g) => [g.index, g.name, g.utilization]),
    [
      [0, 'NVIDIA GeForce RTX 4090', 0.87],
      [1, 'NVIDIA A100-SXM4-40GB', null],
    ],
  );
  const apps = parseNvidiaSmiApps(fx('nvidia-smi-apps.csv'));
  assert.deepEqual(apps, [
    { pid: 2411, name: 'ollama', usedMemoryMiB: 5120 },
    { pid: 9876, name: 'python3', usedMemoryMiB: null },
  ]);
  assert.deepEqual(parseNvidiaSmiApps(''), []);
  assert.deepEqual(parseNvidiaSmiGpus('NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.'), []);
});

test('ioreg IOAccelerator (documented format): device, renderer and tiler utilisation of an M2 Pro', () => {
  const g = parseIoregAccelerators(fx('ioreg-accelerator-m2pro.txt'));
  assert.deepEqual(g, [{ name: 'Apple M2 Pro', device: 0.12, renderer: 0.08, tiler: 0.09 }]);
  assert.deepEqual(parseIoregAccelerators(''), []);
  // A tree listing indents entries behind `| ` guides; values may be fractional; an entry
  // without statistics (a display controller) is skipped; the legend's channel names feed nothing.
  const tree = [
    '+-o Root  <class IORegistryEntry, id 0x100000100, retain 20>',
    '  | +-o AGXAcceleratorG17X  <class AGXAcceleratorG17X, id 0x1000004c1, registered, matched, active, busy 0 (1 ms), retain 9>',
    '  | |   {',
    '  | |     "IOReportLegend" = ({"IOReportChannels"=((1,2,"Device Utilization %"))})',
    '  | |     "model" = "Apple M4 Max"',
    '  | |     "PerformanceStatistics" = {"In use system memory (driver)"=0,"Tiler Utilization %"=10.5,"recoveryCount"=0,"Device Utilization %"=16,"Renderer Utilization %"=150}',
    '  | |   }',
    '  | +-o AppleDisplayCtrl  <class AppleDisplayCtrl, id 0x1000004c2, registered>',
    '  | |   {',
    '  | |     "IOClass" = "AppleDisplayCtrl"',
    '  | |   }',
    '  | +-o AMDRadeonX6000_AMDNavi14GraphicsAccelerator  <class AMDRadeonX6000_AMDNavi14GraphicsAccelerator, id 0x1000004d0, registered>',
    '  |     {',
    '  |       "PerformanceStatistics" = {"Device Utilization %"=3,"GPU Activity(%)"=3}',
    '  |     }',
  ].join('\n');
  assert.deepEqual(parseIoregAccelerators(tree), [
    { name: 'Apple M4 Max', device: 0.16, renderer: 1, tiler: 0.105 },
    { name: 'AMDRadeonX6000_AMDNavi14GraphicsAccelerator', device: 0.03, renderer: null, tiler: null },
  ]);
});

test('power: pmset on battery / AC; Linux power_supply', () => {
  assert.equal(parsePmsetBatt(fx('pmset-batt-battery.txt')), true);
  assert.equal(parsePmsetBatt(fx('pmset-batt-ac.txt')), false);
  assert.equal(parsePmsetBatt('nothing'), null);
  assert.equal(
    onBatteryFromPowerSupplies([
      { type: 'Battery\n', status: 'Discharging\n' },
      { type: 'Mains\n', online: '0\n' },
    ]),
    true,
  );
  assert.equal(
    onBatteryFromPowerSupplies([
      { type: 'Battery\n', status: 'Charging\n' },
      { type: 'Mains\n', online: '1\n' },
    ]),
    false,
  );
  assert.equal(onBatteryFromPowerSupplies([]), null, 'a desktop or VM without a battery');
});

test('LLM server JSON: llama-server /slots, OpenAI /v1/models, Ollama /api/ps', () => {
  assert.deepEqual(
    parseLlamaServerSlots([
      { id: 0, is_processing: true },
      { id: 1, is_processing: false },
    ]),
    { processing: 1, total: 2 },
  );
  assert.equal(parseLlamaServerSlots({ error: 'x' }), null);
  assert.deepEqual(parseModelList({ object: 'list', data: [{ id: 'qwen' }] }), ['qwen']);
  assert.deepEqual(parseModelList({ models: [{ name: 'llama3:8b' }] }), ['llama3:8b']);
  assert.equal(parseModelList('nope'), null);
});

test('hardware description: Apple Silicon, Rosetta, Linux without ANE', () => {
  const m2 = describeHardware({
    platform: 'darwin',
    arch: 'arm64',
    cpuModel: 'Apple M2 Pro',
    logicalCores: 12,
    physicalCores: 12,
    performanceCores: 8,
    efficiencyCores: 4,
    rosetta: false,
    hwArm64: true,
    gpuBackend: 'metal',
    gpus: ['Apple M2 Pro'],
  });
  assert.equal(m2.appleSilicon, true);
  assert.equal(m2.hasAne, true);
  assert.match(m2.summary, /Apple M2 Pro · 12 cores \(8P\+4E\) · GPU: Metal/);
  const rosetta = describeHardware({
    platform: 'darwin',
    arch: 'x64',
    cpuModel: 'Apple M1',
    logicalCores: 8,
    physicalCores: 8,
    rosetta: true,
    hwArm64: true,
    gpuBackend: false,
    gpus: [],
  });
  assert.equal(rosetta.appleSilicon, true);
  assert.ok(rosetta.notes.some((n) => /Rosetta/.test(n)));
  const intelMac = describeHardware({
    platform: 'darwin',
    arch: 'x64',
    cpuModel: 'Intel(R) Core(TM) i7-9750H CPU @ 2.60GHz',
    logicalCores: 12,
    physicalCores: 6,
    rosetta: false,
    hwArm64: false,
    gpuBackend: 'metal',
    gpus: [],
  });
  assert.equal(intelMac.hasAne, false);
  const linux = describeHardware({
    platform: 'linux',
    arch: 'x64',
    cpuModel: 'AMD EPYC',
    logicalCores: 2,
    physicalCores: 2,
    rosetta: false,
    hwArm64: null,
    gpuBackend: false,
    gpus: [],
  });
  assert.equal(linux.hasAne, false);
  assert.match(linux.summary, /Neural Engine: no/);
});

test('Windows names and command lines: backslash paths, .exe, the PowerShell listing', () => {
  assert.equal(baseName('C:\\Users\\dev\\AppData\\Local\\Programs\\Ollama\\ollama.exe'), 'ollama');
  assert.equal(baseName('/usr/local/bin/llama-server'), 'llama-server');
  const proc = (name: string, args: string) => ({ name: baseName(name), args });
  assert.equal(
    llmServerOfProcess(proc('C:\\llama.cpp\\llama-server.exe', 'C:\\llama.cpp\\llama-server.exe -m model.gguf')),
    'llama-server',
  );
  assert.equal(llmServerOfProcess(proc('LM Studio.exe', '"C:\\Program Files\\LM Studio\\LM Studio.exe"')), 'lmstudio');
  assert.equal(
    agentOfProcess(proc('node.exe', 'node.exe C:\\Users\\dev\\AppData\\Roaming\\npm\\node_modules\\@openai\\codex\\bin\\codex.js')),
    'codex',
  );
  assert.equal(agentOfProcess(proc('claude.exe', 'claude.exe')), 'claude');
  assert.equal(agentOfProcess(proc('python.exe', 'python.exe -m aider --model x')), 'aider');
  assert.equal(agentOfProcess(proc('node.exe', 'node.exe server.js')), null);
  const procs = parseWin32Processes(
    '12\t4\tollama.exe\t100\t250\t638670000000000000\t"C:\\Ollama\\ollama.exe" serve\r\nbad\r\n13\t12\tnotepad.exe\t0\t0\t0\t\r\n',
  );
  assert.deepEqual(procs, [
    { pid: 12, ppid: 4, name: 'ollama', args: '"C:\\Ollama\\ollama.exe" serve', cpuTime100ns: 350, created: '638670000000000000' },
    { pid: 13, ppid: 12, name: 'notepad', args: 'notepad.exe', cpuTime100ns: 0, created: '0' },
  ]);
});
