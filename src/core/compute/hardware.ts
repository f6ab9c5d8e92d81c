/**
 * What compute this machine has, from facts the adapter gathers (os.cpus(), sysctl, /proc/cpuinfo,
 * node-llama-cpp's GPU backend). Pure.
 */

export interface HardwareFacts {
  platform: string;
  /** process.arch of the running Node (x64 under Rosetta on an Apple Silicon Mac). */
  arch: string;
  /** os.cpus()[0].model or `sysctl -n machdep.cpu.brand_string`. */
  cpuModel: string;
  logicalCores: number;
  /** Physical cores when known (sysctl hw.physicalcpu, /proc/cpuinfo core ids). */
  physicalCores: number | null;
  /** macOS performance / efficiency cores (hw.perflevel0/1.physicalcpu). */
  performanceCores?: number | null;
  efficiencyCores?: number | null;
  /** `sysctl -n sysctl.proc_translated` = 1: this process runs under Rosetta 2. */
  rosetta: boolean | null;
  /** `sysctl -n hw.optional.arm64` = 1: the hardware is arm64 even if this process is x64. */
  hwArm64: boolean | null;
  /** node-llama-cpp's GPU backend: `metal`, `cuda`, `vulkan`, or false. null if not checked. */
  gpuBackend: string | false | null;
  /** GPU names when known (nvidia-smi, ioreg model). */
  gpus: string[];
}

export interface HardwareInfo extends HardwareFacts {
  appleSilicon: boolean;
  /** The chip (`Apple M2 Pro`) on Apple Silicon. */
  chip: string | null;
  /** Every Apple Silicon Mac (M1 and later) has a Neural Engine. */
  hasAne: boolean;
  /** One line for `loupe status` and the status bar tooltip. */
  summary: string;
  /** Honest notes (`Rosetta: x64 Node on Apple Silicon; Metal and the ANE helper need arm64 Node`). */
  notes: string[];
}

/** Parses `/proc/cpuinfo`: distinct (physical id, core id) pairs, or null if it does not list them. */
export function physicalCoresFromCpuinfo(text: string): number | null {
  const pairs = new Set<string>();
  let phys = '0';
  for (const line of text.split('\n')) {
    const m = /^(physical id|core id)\s*:\s*(\d+)/.exec(line);
    if (!m) continue;
    if (m[1] === 'physical id') phys = m[2];
    else pairs.add(`${phys}:${m[2]}`);
  }
  return pairs.size || null;
}

export function describeHardware(f: HardwareFacts): HardwareInfo {
  const appleChip = /^Apple (M\d+|A\d+)/.exec(f.cpuModel);
  const appleSilicon = f.platform === 'darwin' && (!!appleChip || f.hwArm64 === true || f.arch === 'arm64');
  const chip = appleSilicon ? (appleChip ? f.cpuModel.trim() : 'Apple Silicon') : null;
  const notes: string[] = [];
  if (f.platform === 'darwin' && f.rosetta)
    notes.push('Rosetta: x64 Node on Apple Silicon; install arm64 Node (or VS Code for Apple Silicon) for Metal and the Neural Engine');
  if (!appleSilicon) notes.push('no Neural Engine on this machine: back-off alone applies');
  if (f.gpuBackend === false) notes.push('no GPU backend in node-llama-cpp: embedding runs on the CPU');
  const cores = f.physicalCores
    ? `${f.physicalCores} cores${f.performanceCores ? ` (${f.performanceCores}P+${f.efficiencyCores ?? 0}E)` : ''}`
    : `${f.logicalCores} logical cores`;
  const gpu = f.gpuBackend
    ? `GPU: ${backendName(f.gpuBackend)}${f.gpus.length ? ` (${f.gpus.join(', ')})` : ''}`
    : f.gpuBackend === false
      ? 'GPU: none'
      : 'GPU: not checked';
  const summary = [chip ?? f.cpuModel.trim(), cores, gpu, appleSilicon ? 'Neural Engine: yes' : 'Neural Engine: no'].join(' · ');
  return { ...f, appleSilicon, chip, hasAne: appleSilicon, summary, notes };
}

export function backendName(b: string): string {
  return b === 'metal' ? 'Metal' : b === 'cuda' ? 'CUDA' : b === 'vulkan' ? 'Vulkan' : b;
}
