/**
 * Hardware detection: chip (Apple Silicon, Rosetta), cores, node-llama-cpp's GPU backend, GPU
 * names. Each fact comes from a cheap call (os.cpus, sysctl, /proc/cpuinfo, nvidia-smi) and is
 * null when it cannot be told.
 */
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import { describeHardware, physicalCoresFromCpuinfo, type HardwareFacts, type HardwareInfo } from '../../core/compute/hardware.js';
import { parseIoregAccelerators, parseNvidiaSmiGpus } from '../../core/compute/signals.js';

function run(cmd: string, args: string[]): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 2000, windowsHide: true }, (err, stdout) => resolve(err ? null : String(stdout).trim()));
  });
}

async function sysctl(name: string): Promise<string | null> {
  return run('sysctl', ['-n', name]);
}

export interface DetectOptions {
  /**
   * node-llama-cpp's GPU backend if already known (from a loaded embedder); otherwise the runtime
   * is loaded with `gpu: 'auto'` (the call the embedder makes) and asked. `skip` leaves it unknown.
   */
  gpuBackend?: string | false | 'skip';
}

/** Loads node-llama-cpp with `gpu: auto` and reports the backend it picked (false: CPU only). */
export async function llamaGpuBackend(): Promise<string | false | null> {
  try {
    const mod = await import('node-llama-cpp');
    const llama = await mod.getLlama({ gpu: 'auto', build: 'never', logLevel: mod.LlamaLogLevel.error });
    return llama.gpu;
  } catch {
    return null;
  }
}

export async function detectHardware(opts: DetectOptions = {}): Promise<HardwareInfo> {
  const platform = process.platform;
  const cpus = os.cpus();
  const facts: HardwareFacts = {
    platform,
    arch: process.arch,
    cpuModel: cpus[0]?.model ?? 'unknown CPU',
    logicalCores: os.availableParallelism(),
    physicalCores: null,
    rosetta: null,
    hwArm64: null,
    gpuBackend: null,
    gpus: [],
  };
  if (platform === 'darwin') {
    const [brand, phys, p0, p1, translated, arm64, ioreg] = await Promise.all([
      sysctl('machdep.cpu.brand_string'),
      sysctl('hw.physicalcpu'),
      sysctl('hw.perflevel0.physicalcpu'),
      sysctl('hw.perflevel1.physicalcpu'),
      sysctl('sysctl.proc_translated'),
      sysctl('hw.optional.arm64'),
      run('ioreg', ['-r', '-d', '1', '-w', '0', '-c', 'IOAccelerator']),
    ]);
    if (brand) facts.cpuModel = brand;
    facts.physicalCores = phys ? Number(phys) : null;
    facts.performanceCores = p0 ? Number(p0) : null;
    facts.efficiencyCores = p1 ? Number(p1) : null;
    // sysctl.proc_translated does not exist on Intel Macs (null → not translated).
    facts.rosetta = translated === '1';
    facts.hwArm64 = arm64 === '1';
    facts.gpus = ioreg ? [...new Set(parseIoregAccelerators(ioreg).map((g) => g.name))] : [];
  } else if (platform === 'linux') {
    const info = await fsp.readFile('/proc/cpuinfo', 'utf8').catch(() => '');
    facts.physicalCores = physicalCoresFromCpuinfo(info);
    facts.rosetta = false;
    const smi = await run('nvidia-smi', [
      '--query-gpu=index,name,utilization.gpu,memory.used,memory.total',
      '--format=csv,noheader,nounits',
    ]);
    facts.gpus = smi ? parseNvidiaSmiGpus(smi).map((g) => g.name) : [];
  } else if (platform === 'win32') {
    const smi = await run('nvidia-smi', [
      '--query-gpu=index,name,utilization.gpu,memory.used,memory.total',
      '--format=csv,noheader,nounits',
    ]);
    facts.gpus = smi ? parseNvidiaSmiGpus(smi).map((g) => g.name) : [];
  }
  if (opts.gpuBackend === 'skip') facts.gpuBackend = null;
  else if (opts.gpuBackend !== undefined) facts.gpuBackend = opts.gpuBackend;
  else facts.gpuBackend = await llamaGpuBackend();
  return describeHardware(facts);
}
