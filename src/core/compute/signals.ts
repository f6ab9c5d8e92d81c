/**
 * Contention signals and the parsers that turn OS tool output into them. Pure: the adapters in
 * src/adapters/compute run the tools (or read /proc) and hand the text here.
 *
 * Formats parsed:
 * - `ps -axww -o pid=,ppid=,pcpu=,args=` (macOS/BSD) and `ps -eo pid=,ppid=,pcpu=,args=` (procps on Linux);
 * - Linux `/proc/stat` (aggregate `cpu` line), `/proc/<pid>/stat`, `/proc/<pid>/environ`, `/proc/<pid>/cmdline`;
 * - `nvidia-smi --query-gpu=index,name,utilization.gpu,memory.used,memory.total --format=csv,noheader,nounits`
 *   and `nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv,noheader,nounits`;
 * - `ioreg -r -d 1 -w 0 -c IOAccelerator` (macOS: the `PerformanceStatistics` dictionary of each GPU);
 * - `pmset -g batt` (macOS) and `/sys/class/power_supply/<name>/{type,online}` (Linux).
 */

/** One process as seen by `ps` or /proc. */
export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** CPU use in percent of one core (ps convention; may exceed 100 for multi-threaded processes). */
  cpuPercent: number;
  /** Executable name (basename of argv[0], or the kernel's comm). */
  name: string;
  /** The full command line. */
  args: string;
  /** Linux: the kernel's comm (what prctl / process.title set), when it differs from name. */
  comm?: string;
}

/** A coding agent found running. */
export interface AgentSignal {
  /** Agent id: `claude`, `codex`, `gemini`, `aider`, `cursor`, `copilot`, `opencode`, `goose`. */
  agent: string;
  pid: number;
  /** How it was found: its process, an environment marker in some process's environment, or its queries to Loupe (MCP, the VS Code tool). */
  via: 'process' | 'env' | 'query';
  /** What matched (`process claude`, `CLAUDECODE=1 in bash (pid 123)`). */
  detail: string;
  /** CPU use of the matched process, percent of one core, when known. */
  cpuPercent?: number;
}

/** A local LLM server found on this machine. */
export interface LlmServerSignal {
  /** `ollama`, `lmstudio`, `llama-server`, `mlx_lm.server`, or `openai-compatible`. */
  server: string;
  /** `http://127.0.0.1:11434`, or `pid 123` when found by process only. */
  endpoint: string;
  /** True while it is generating or processing a prompt; null when that cannot be told. */
  busy: boolean | null;
  /** How busy was decided (`/slots: 1 of 4 processing`, `process CPU 180%`). */
  how: string;
  /** Models it reports loaded, when it says. */
  models?: string[];
}

/** One sample of everything the scheduler looks at. */
export interface ContentionSample {
  /** Milliseconds (monotonic or wall, consistent within a trace). */
  at: number;
  /** Busy fraction of all CPU cores used by processes other than Loupe's own (0..1), null if unknown. */
  cpuOthers: number | null;
  /** GPU utilisation (0..1) over all GPUs, null if it cannot be measured here. */
  gpu: number | null;
  /** True when a process other than Loupe holds GPU memory or compute (nvidia-smi), null if unknown. */
  gpuHeldByOther: boolean | null;
  agents: AgentSignal[];
  llmServers: LlmServerSignal[];
  /** True on battery power, null if unknown (desktops, Linux without a battery). */
  onBattery: boolean | null;
}

/** Agent process names (basename of argv[0] or comm) and script paths that identify them. */
export const AGENT_PROCESS_PATTERNS: readonly { agent: string; name?: RegExp; args?: RegExp }[] = [
  // Paths in args may use either separator (Windows command lines use backslashes).
  { agent: 'claude', name: /^claude$/i, args: /@anthropic-ai[\\/]claude-code[\\/]|[\\/]\.claude[\\/]local[\\/]claude\b/ },
  { agent: 'codex', name: /^codex(-[a-z0-9_-]+)?$/i, args: /@openai[\\/]codex[\\/]/ },
  { agent: 'gemini', name: /^gemini$/i, args: /@google[\\/]gemini-cli[\\/]/ },
  { agent: 'aider', name: /^aider$/i, args: /(^|[\\/]|\s)aider(\.exe)?(\s|$)|-m aider\b/ },
  { agent: 'cursor', name: /^cursor-agent$/i, args: /cursor-agent(\.exe)?(\s|$)/ },
  { agent: 'copilot', name: /^copilot$/i, args: /@github[\\/]copilot[\\/]/ },
  { agent: 'opencode', name: /^opencode$/i, args: /opencode-ai[\\/]/ },
  { agent: 'goose', name: /^goose$/i },
];

/** Environment variables agents set in the shells and tools they run (inherited by children). */
export const AGENT_ENV_MARKERS: readonly { agent: string; key: string; value?: RegExp }[] = [
  { agent: 'claude', key: 'CLAUDECODE', value: /^1$/ },
  { agent: 'claude', key: 'CLAUDE_CODE_ENTRYPOINT' },
  { agent: 'codex', key: 'CODEX_SANDBOX' },
  { agent: 'codex', key: 'CODEX_SANDBOX_NETWORK_DISABLED' },
  { agent: 'gemini', key: 'GEMINI_CLI', value: /^1$/ },
  { agent: 'copilot', key: 'COPILOT_AGENT', value: /^1$/ },
  { agent: 'cursor', key: 'CURSOR_AGENT', value: /^1$/ },
  { agent: 'opencode', key: 'OPENCODE', value: /^1$/ },
];

/** Local LLM server processes, by process name or command line. */
export const LLM_SERVER_PATTERNS: readonly { server: string; name?: RegExp; args?: RegExp }[] = [
  { server: 'ollama', name: /^(ollama|ollama_llama_server|ollama app)$/i, args: /(^|[\\/])ollama(\.exe)? (serve|runner)\b/ },
  { server: 'lmstudio', name: /^(LM Studio|lms|llmworker)$/i, args: /LM Studio\.app\/|\/\.lmstudio\/|\/lm-studio\// },
  { server: 'llama-server', name: /^llama-server$/i },
  { server: 'mlx_lm.server', name: /^mlx_lm\.server$/i, args: /-m mlx_lm[. ]server\b|mlx_lm\.server\b/ },
];

/** Basename of a path-like argv[0] (either separator), without a Windows `.exe`. */
export function baseName(p: string): string {
  const i = Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\'));
  return (i >= 0 ? p.slice(i + 1) : p).replace(/\.exe$/i, '');
}

/** One process from the Windows listing (`WIN32_PROCESS_QUERY`). */
export interface Win32Process {
  pid: number;
  ppid: number;
  name: string;
  args: string;
  /** Kernel + user CPU time in 100 ns units (cumulative). */
  cpuTime100ns: number;
  /** Creation time (ticks): with the pid, identifies the process across samples. */
  created: string;
}

/**
 * PowerShell that lists every process as one tab-separated line: pid, parent pid, image name,
 * kernel and user CPU time (100 ns), creation ticks, command line (tabs and newlines blanked).
 * `Get-CimInstance Win32_Process` needs no elevation; command lines of other users' processes
 * read as empty.
 */
export const WIN32_PROCESS_QUERY = [
  'Get-CimInstance Win32_Process | ForEach-Object {',
  ' "{0}`t{1}`t{2}`t{3}`t{4}`t{5}`t{6}" -f $_.ProcessId, $_.ParentProcessId, $_.Name, $_.KernelModeTime, $_.UserModeTime,',
  " $(if ($_.CreationDate) { $_.CreationDate.Ticks } else { 0 }), ($_.CommandLine -replace '[\\t\\r\\n]', ' ')",
  ' }',
].join('');

/** Parses the output of WIN32_PROCESS_QUERY; malformed lines are skipped. */
export function parseWin32Processes(text: string): Win32Process[] {
  const out: Win32Process[] = [];
  for (const line of text.split(/\r?\n/)) {
    const f = line.split('\t');
    if (f.length < 7 || !/^\d+$/.test(f[0]) || !/^\d+$/.test(f[1])) continue;
    const kernel = Number(f[3]) || 0;
    const user = Number(f[4]) || 0;
    const args = f.slice(6).join(' ').trim();
    out.push({
      pid: Number(f[0]),
      ppid: Number(f[1]),
      name: baseName(f[2]),
      args: args || f[2],
      cpuTime100ns: kernel + user,
      created: f[5],
    });
  }
  return out;
}

/**
 * Parses `ps -o pid=,ppid=,pcpu=,args=` output (one process per line; args is the rest of the
 * line and may contain spaces). Lines that do not parse are skipped.
 */
export function parsePs(text: string): ProcessInfo[] {
  const out: ProcessInfo[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+)\s+(\d+)\s+([\d.,]+)\s+(.*\S)\s*$/.exec(line);
    if (!m) continue;
    const args = m[4];
    const argv0 = args.startsWith('[') ? args : args.split(/\s+/)[0];
    out.push({ pid: Number(m[1]), ppid: Number(m[2]), cpuPercent: Number(m[3].replace(',', '.')), name: baseName(argv0), args });
  }
  return out;
}

/** Fields of `/proc/<pid>/stat` that the sampler uses (times in clock ticks). */
export interface ProcPidStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  utime: number;
  stime: number;
  starttime: number;
}

/** Parses `/proc/<pid>/stat`; comm may contain spaces and parentheses, so it is cut at the last `)`. */
export function parseProcPidStat(text: string): ProcPidStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  const rest = text
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  // rest[0] is field 3 (state); utime is field 14, stime 15, starttime 22.
  if (!Number.isInteger(pid) || rest.length < 20) return null;
  return {
    pid,
    comm: text.slice(open + 1, close),
    state: rest[0],
    ppid: Number(rest[1]),
    utime: Number(rest[11]),
    stime: Number(rest[12]),
    starttime: Number(rest[19]),
  };
}

/** Aggregate CPU times from `/proc/stat` (clock ticks). */
export interface CpuTimes {
  total: number;
  idle: number;
}

/** Parses the aggregate `cpu` line of `/proc/stat`; idle includes iowait. */
export function parseProcStat(text: string): CpuTimes | null {
  const line = text.split('\n').find((l) => /^cpu\s/.test(l));
  if (!line) return null;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  if (v.length < 4 || v.some((n) => !Number.isFinite(n))) return null;
  // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user.
  const fields = v.slice(0, 8);
  const total = fields.reduce((a, b) => a + b, 0);
  return { total, idle: v[3] + (v[4] ?? 0) };
}

/** Busy fraction between two /proc/stat readings (0..1), null if no time passed. */
export function cpuBusyBetween(a: CpuTimes, b: CpuTimes): number | null {
  const dt = b.total - a.total;
  if (dt <= 0) return null;
  return clamp01(1 - (b.idle - a.idle) / dt);
}

/** Parses a NUL-separated environment block (`/proc/<pid>/environ`). */
export function parseEnviron(data: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const kv of data.split('\0')) {
    const i = kv.indexOf('=');
    if (i > 0) env.set(kv.slice(0, i), kv.slice(i + 1));
  }
  return env;
}

/** Agents whose environment markers appear in one process's environment. */
export function agentsFromEnv(env: Map<string, string>): { agent: string; marker: string }[] {
  const found: { agent: string; marker: string }[] = [];
  for (const m of AGENT_ENV_MARKERS) {
    const v = env.get(m.key);
    if (v === undefined || (m.value && !m.value.test(v))) continue;
    if (!found.some((f) => f.agent === m.agent))
      found.push({ agent: m.agent, marker: `${m.key}=${v.length > 20 ? v.slice(0, 20) + '…' : v}` });
  }
  return found;
}

/** The agent a process is, if any. */
export function agentOfProcess(p: Pick<ProcessInfo, 'name' | 'args' | 'comm'>): string | null {
  for (const pat of AGENT_PROCESS_PATTERNS) {
    if (pat.name?.test(p.name) || (p.comm !== undefined && pat.name?.test(p.comm)) || pat.args?.test(p.args)) return pat.agent;
  }
  return null;
}

/** The LLM server a process is, if any. */
export function llmServerOfProcess(p: Pick<ProcessInfo, 'name' | 'args' | 'comm'>): string | null {
  for (const pat of LLM_SERVER_PATTERNS) {
    if (pat.name?.test(p.name) || (p.comm !== undefined && pat.name?.test(p.comm)) || pat.args?.test(p.args)) return pat.server;
  }
  return null;
}

/** One GPU from `nvidia-smi --query-gpu=index,name,utilization.gpu,memory.used,memory.total`. */
export interface NvidiaGpu {
  index: number;
  name: string;
  /** 0..1 */
  utilization: number | null;
  memoryUsedMiB: number | null;
  memoryTotalMiB: number | null;
}

function numOrNull(s: string | undefined): number | null {
  if (s === undefined) return null;
  const t = s.trim();
  // nvidia-smi prints `[N/A]` or `[Not Supported]` for fields a GPU does not report.
  if (!t || t.startsWith('[')) return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : null;
}

/** Parses nvidia-smi's `--format=csv,noheader,nounits` GPU query output. */
export function parseNvidiaSmiGpus(text: string): NvidiaGpu[] {
  const out: NvidiaGpu[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(',').map((s) => s.trim());
    if (f.length < 5 || !/^\d+$/.test(f[0])) continue;
    const util = numOrNull(f[2]);
    out.push({
      index: Number(f[0]),
      name: f[1],
      utilization: util === null ? null : clamp01(util / 100),
      memoryUsedMiB: numOrNull(f[3]),
      memoryTotalMiB: numOrNull(f[4]),
    });
  }
  return out;
}

/** One compute process from `nvidia-smi --query-compute-apps=pid,process_name,used_memory`. */
export interface NvidiaApp {
  pid: number;
  name: string;
  usedMemoryMiB: number | null;
}

/** Parses nvidia-smi's compute-apps CSV (no header, no units). An empty output means no processes. */
export function parseNvidiaSmiApps(text: string): NvidiaApp[] {
  const out: NvidiaApp[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+)\s*,\s*(.*?)\s*,\s*([^,]*)$/.exec(line);
    if (!m) continue;
    out.push({ pid: Number(m[1]), name: baseName(m[2]), usedMemoryMiB: numOrNull(m[3]) });
  }
  return out;
}

/** One accelerator's statistics from `ioreg -r -d 1 -w 0 -c IOAccelerator`. */
export interface IoregGpu {
  /** The IOClass / model name when printed (e.g. `AGXAcceleratorG14X`, `Apple M2 Pro`). */
  name: string;
  /** `Device Utilization %` as 0..1. */
  device: number | null;
  renderer: number | null;
  tiler: number | null;
}

/**
 * Parses ioreg's IOAccelerator entries: each `+-o NAME <class …>` header is followed by
 * properties, among them `"PerformanceStatistics" = {"Device Utilization %"=NN,…}` and
 * `"model" = "Apple M2 Pro"`. No sudo needed.
 */
export function parseIoregAccelerators(text: string): IoregGpu[] {
  const out: IoregGpu[] = [];
  // `-r -d 1` prints each entry's `+-o` at the line start; a tree listing (`ioreg -l`, other
  // depths) indents it behind `| ` guides, and its property lines carry the same guides.
  const blocks = text.split(/^[ |]*\+-o /m).slice(1);
  for (const b of blocks) {
    const header = /^(\S+)/.exec(b)?.[1] ?? 'GPU';
    const model = /"model"\s*=\s*"([^"]*)"/.exec(b)?.[1] ?? /"model"\s*=\s*<"([^"]*)">/.exec(b)?.[1];
    const stats = /"PerformanceStatistics"\s*=\s*\{([^}]*)\}/.exec(b)?.[1];
    if (!stats) continue;
    const pct = (key: string): number | null => {
      const m = new RegExp(`"${key}"\\s*=\\s*(\\d+(?:\\.\\d+)?)`).exec(stats);
      return m ? clamp01(Number(m[1]) / 100) : null;
    };
    out.push({
      name: model ?? header,
      device: pct('Device Utilization %'),
      renderer: pct('Renderer Utilization %'),
      tiler: pct('Tiler Utilization %'),
    });
  }
  return out;
}

/** Parses `pmset -g batt`: true on battery, false on AC, null if it does not say. */
export function parsePmsetBatt(text: string): boolean | null {
  const m = /Now drawing from '([^']+)'/.exec(text);
  if (!m) return null;
  return m[1] === 'Battery Power';
}

/** Linux: on battery when a battery exists and no mains/USB supply is online. */
export function onBatteryFromPowerSupplies(supplies: { type: string; online?: string; status?: string }[]): boolean | null {
  const batteries = supplies.filter((s) => s.type.trim() === 'Battery');
  if (!batteries.length) return null;
  const mains = supplies.filter((s) => s.type.trim() !== 'Battery' && s.online !== undefined);
  if (mains.length) return !mains.some((s) => s.online!.trim() === '1');
  return batteries.some((s) => s.status?.trim() === 'Discharging');
}

/** Parses the JSON of llama-server's `GET /slots`: how many slots are processing. */
export function parseLlamaServerSlots(json: unknown): { processing: number; total: number } | null {
  if (!Array.isArray(json)) return null;
  let processing = 0;
  for (const s of json as { is_processing?: boolean; state?: number }[]) {
    if (s?.is_processing === true || s?.state === 1) processing++;
  }
  return { processing, total: json.length };
}

/** Model names from an OpenAI-compatible `GET /v1/models` or Ollama `GET /api/ps` / `/api/tags`. */
export function parseModelList(json: unknown): string[] | null {
  const j = json as { data?: { id?: string }[]; models?: { name?: string; model?: string }[] };
  if (Array.isArray(j?.data)) return j.data.map((m) => String(m?.id ?? '?'));
  if (Array.isArray(j?.models)) return j.models.map((m) => String(m?.name ?? m?.model ?? '?'));
  return null;
}

export function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}

/**
 * macOS: agents from `ps -axE -ww -o pid=,command=` (BSD ps appends each own-user process's
 * environment to its command line as KEY=VALUE words). One match per process.
 */
export function agentsFromPsEnvironment(text: string): { pid: number; agent: string; marker: string }[] {
  const out: { pid: number; agent: string; marker: string }[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const env = new Map<string, string>();
    for (const w of m[2].split(/\s+/)) {
      const i = w.indexOf('=');
      if (i > 0 && /^[A-Z_][A-Z0-9_]*$/.test(w.slice(0, i))) env.set(w.slice(0, i), w.slice(i + 1));
    }
    for (const a of agentsFromEnv(env)) out.push({ pid: Number(m[1]), ...a });
  }
  return out;
}
