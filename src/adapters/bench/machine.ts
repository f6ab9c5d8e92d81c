/**
 * Facts about the machine for `loupe bench`: CPU model, clock and vector extensions (for the
 * theoretical FP32 peak), GPU names, a measured memory bandwidth, and package versions.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cpuPeakFlops, knownGpuPeak, type DevicePeak } from '../../core/bench/flops.js';
import { round } from '../../core/bench/stats.js';

function run(cmd: string, args: string[]): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 2000, windowsHide: true }, (err, stdout) => resolve(err ? null : String(stdout).trim()));
  });
}

/** Version of an installed package, from its package.json beside this module's node_modules. */
export function packageVersion(name: string, fromDir: string): string {
  let dir = fromDir;
  for (let i = 0; i < 6; i++) {
    try {
      return (JSON.parse(readFileSync(path.join(dir, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      dir = path.dirname(dir);
    }
  }
  return 'unknown';
}

export interface CpuFacts {
  model: string;
  ghz: number;
  ghzSource: string;
  flags: string[];
  arch: string;
  /** `AuthenticAMD`, `GenuineIntel`, … (Linux). */
  vendor?: string;
  /** CPU family (Linux `cpu family`): 25 = AMD Zen 3/4, 26 = Zen 5. */
  family?: number;
}

/** Clock and vector extensions of this CPU, as well as the OS tells them. */
export async function cpuFacts(): Promise<CpuFacts> {
  const model = os.cpus()[0]?.model ?? 'unknown CPU';
  const arch = process.arch;
  let flags: string[] = [];
  let ghz = 0;
  let ghzSource = '';
  let vendor: string | undefined;
  let family: number | undefined;
  if (process.platform === 'linux') {
    try {
      const text = readFileSync('/proc/cpuinfo', 'utf8');
      flags = (/^(flags|Features)\s*:\s*(.*)$/m.exec(text)?.[2] ?? '').split(/\s+/).filter(Boolean);
      vendor = /^vendor_id\s*:\s*(\S+)/m.exec(text)?.[1];
      const fam = Number(/^cpu family\s*:\s*(\d+)/m.exec(text)?.[1]);
      if (Number.isFinite(fam) && fam > 0) family = fam;
    } catch {
      /* no cpuinfo */
    }
    try {
      ghz = Number(readFileSync('/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq', 'utf8').trim()) / 1e6;
      ghzSource = 'cpufreq maximum';
    } catch {
      /* no cpufreq (VMs) */
    }
  } else if (process.platform === 'darwin') {
    const feats = await run('sysctl', ['-n', 'machdep.cpu.features', 'machdep.cpu.leaf7_features']);
    if (feats)
      flags = feats
        .toLowerCase()
        .replace(/\./g, '_')
        .split(/\s+/)
        .filter(Boolean)
        .map((f) => (f === 'avx2_0' ? 'avx2' : f));
    const hz = Number(await run('sysctl', ['-n', 'hw.cpufrequency_max']));
    if (hz > 0) {
      ghz = hz / 1e9;
      ghzSource = 'hw.cpufrequency_max';
    } else {
      // Apple Silicon does not report its clock; published performance-core maxima.
      const chip = /M(\d)/.exec(model)?.[1];
      const table: Record<string, number> = { '1': 3.2, '2': 3.5, '3': 4.05, '4': 4.4 };
      if (chip && table[chip]) {
        ghz = table[chip];
        ghzSource = `published P-core maximum of the M${chip}`;
      }
    }
  }
  if (!ghz) {
    const mhz = Math.max(...os.cpus().map((c) => c.speed));
    if (mhz > 0) {
      ghz = mhz / 1000;
      ghzSource = 'os.cpus() current speed';
    } else {
      ghz = 3;
      ghzSource = 'assumed (the OS does not report it)';
    }
  }
  return { model, ghz: round(ghz, 2), ghzSource, flags, arch, vendor, family };
}

/**
 * Memory bandwidth one thread achieves copying 64 MiB buffers (TypedArray.set is a memcpy):
 * bytes read + written per second, best of `rounds`. The roof for work on one or two threads.
 */
export function measureCopyBandwidth(rounds = 5, mib = 64): number {
  const n = (mib * 1048576) / 8;
  const a = new Float64Array(n);
  const b = new Float64Array(n);
  for (let i = 0; i < n; i += 512) a[i] = i;
  b.set(a); // fault the pages in
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    b.set(a);
    best = Math.min(best, performance.now() - t0);
  }
  return (2 * n * 8) / (best / 1000);
}

/**
 * The ceilings the roofline compares with: a known GPU's published figures when embedding runs
 * there, else the CPU threads in use (theoretical FP32 peak from clock and vector width) with the
 * measured copy bandwidth. Null for a GPU we have no figures for.
 */
export function devicePeak(o: {
  computeUnit: string;
  gpuNames: string[];
  cpu: CpuFacts;
  threads: number;
  bandwidth: number;
}): DevicePeak | { unknown: string } {
  if (o.computeUnit.startsWith('GPU')) {
    for (const name of o.gpuNames) {
      const k = knownGpuPeak(name);
      if (k)
        return {
          label: `${name} GPU`,
          flops: k.tflops * 1e12,
          bytesPerSec: k.gbPerSec * 1e9,
          source: `published FP32 ${k.tflops} TFLOP/s and ${k.gbPerSec} GB/s of the ${k.match}`,
        };
    }
    return { unknown: `no published peak known for ${o.gpuNames.join(', ') || 'this GPU'}` };
  }
  const p = cpuPeakFlops({
    threads: o.threads,
    ghz: o.cpu.ghz,
    flags: o.cpu.flags,
    arch: o.cpu.arch,
    vendor: o.cpu.vendor,
    family: o.cpu.family,
  });
  return {
    label: `${o.threads} thread${o.threads === 1 ? '' : 's'} of ${o.cpu.model.trim()}`,
    flops: p.flops,
    bytesPerSec: o.bandwidth,
    source: `${p.isa}: ${p.perCycle} FP32 FLOP/cycle × ${o.cpu.ghz} GHz (${o.cpu.ghzSource}) × ${o.threads}; bandwidth measured by a one-thread 64 MiB copy`,
  };
}
