/**
 * Samples contention signals: processes (coding agents, LLM servers) and their environment
 * markers, CPU load of everything but Loupe, GPU load (nvidia-smi on Linux/Windows, ioreg on
 * macOS, both without sudo), local LLM servers on 127.0.0.1, battery. Each sample is cheap
 * (a few reads of /proc or one `ps`; the environment scan is cached per process).
 */
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  agentOfProcess,
  agentsFromEnv,
  agentsFromPsEnvironment,
  baseName,
  clamp01,
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
  WIN32_PROCESS_QUERY,
  type AgentSignal,
  type ContentionSample,
  type CpuTimes,
  type LlmServerSignal,
  type ProcessInfo,
} from '../../core/compute/signals.js';

/** Where local LLM servers listen by default. Only 127.0.0.1 is ever probed. */
export const DEFAULT_LLM_PORTS: readonly { port: number; server: string }[] = [
  { port: 11434, server: 'ollama' },
  { port: 1234, server: 'lmstudio' },
  { port: 8080, server: 'llama-server' },
];

export interface SamplerOptions {
  /** Processes that are Loupe itself (their CPU is not contention). Default: this process. */
  selfPids?: number[];
  /** Ports on 127.0.0.1 to probe for LLM servers (default DEFAULT_LLM_PORTS); [] turns probing off. */
  llmPorts?: readonly { port: number; server: string }[];
  /** A server process counts as busy above this CPU (percent of one core). Default 50. */
  busyCpuPercent?: number;
  /** Per-request timeout for probes and tools (ms, default 800). */
  timeoutMs?: number;
  /** Overrides for tests. */
  platform?: NodeJS.Platform;
  procRoot?: string;
  /**
   * Windows: the process list costs a PowerShell start (~0.3–1 s of CPU), so it is refreshed at
   * most this often and reused in between (default 10 s; agents and servers do not come and go
   * faster than that, and CPU shares are measured over the longer interval).
   */
  win32ProcessIntervalMs?: number;
  /** Runs a tool and returns its stdout, or null when it fails (default: child_process.execFile). */
  exec?: (cmd: string, args: string[], timeoutMs: number) => Promise<string | null>;
}

/** Everything one scan saw, for `loupe status --json` and tests. */
export interface SampleDetails {
  agentProcesses: (AgentSignal & { name: string })[];
  envMatches: { pid: number; agent: string; marker: string; name: string }[];
  llmProcesses: { pid: number; server: string; name: string; cpuPercent: number }[];
  gpuSource: string | null;
  processCount: number;
}

const CLK_TCK = 100; // USER_HZ on every Linux ABI Node runs on.

function run(cmd: string, args: string[], timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, windowsHide: true }, (err, stdout) =>
      resolve(err ? null : String(stdout)),
    );
  });
}

async function httpJson(url: string, timeoutMs: number): Promise<{ status: number; json: unknown } | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    let json: unknown = null;
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
    return { status: res.status, json };
  } catch {
    return null;
  }
}

export class ContentionSampler {
  private readonly platform: NodeJS.Platform;
  private readonly procRoot: string;
  private readonly selfPids: Set<number>;
  private readonly timeoutMs: number;
  private readonly exec: (cmd: string, args: string[], timeoutMs: number) => Promise<string | null>;
  private winProcs: ProcessInfo[] | null = null;
  private winProcsAt = 0;
  private prevCpu: CpuTimes | null = null;
  private prevSelfTicks = 0;
  private prevProcTicks = new Map<string, number>();
  private prevAt = 0;
  /** `${pid}:${starttime}` → agents its environment names (an environment never changes after exec). */
  private envCache = new Map<string, { agent: string; marker: string }[]>();
  private nvidiaSmi: boolean | null = null;
  private lastEnvScanMac = 0;
  private macEnv: { pid: number; agent: string; marker: string }[] = [];
  private prevCpusOs: os.CpuInfo[] | null = null;
  private prevSelfUsage: NodeJS.CpuUsage | null = null;
  private prevSelfAt = 0;
  details: SampleDetails = { agentProcesses: [], envMatches: [], llmProcesses: [], gpuSource: null, processCount: 0 };

  constructor(private readonly opts: SamplerOptions = {}) {
    this.platform = opts.platform ?? process.platform;
    this.procRoot = opts.procRoot ?? '/proc';
    this.selfPids = new Set(opts.selfPids ?? [process.pid]);
    this.timeoutMs = opts.timeoutMs ?? 800;
    this.exec = opts.exec ?? run;
  }

  async sample(): Promise<ContentionSample> {
    const at = Date.now();
    const [procs, gpu, llm, battery] = await Promise.all([
      this.platform === 'linux' ? this.linuxProcesses() : this.platform === 'win32' ? this.win32Processes() : this.psProcesses(),
      this.gpuLoad(),
      this.probeLlmServers(),
      this.battery(),
    ]);
    const cpuOthers = this.platform === 'linux' ? await this.linuxCpuOthers() : this.osCpuOthers();
    this.prevAt = at;

    const agents: AgentSignal[] = [];
    const agentProcesses: SampleDetails['agentProcesses'] = [];
    const llmProcesses: SampleDetails['llmProcesses'] = [];
    for (const p of procs) {
      if (this.selfPids.has(p.pid)) continue;
      const agent = agentOfProcess(p);
      if (agent) {
        const a = { agent, pid: p.pid, via: 'process' as const, detail: `process ${p.name} (pid ${p.pid})`, cpuPercent: p.cpuPercent };
        agentProcesses.push({ ...a, name: p.name });
        if (!agents.some((x) => x.agent === agent && x.via === 'process')) agents.push(a);
      }
      const server = llmServerOfProcess(p);
      if (server) llmProcesses.push({ pid: p.pid, server, name: p.name, cpuPercent: p.cpuPercent });
    }
    const envMatches = this.platform === 'linux' ? await this.linuxEnvMatches(procs) : await this.macEnvMatches(procs);
    for (const m of envMatches) {
      if (agents.some((x) => x.agent === m.agent)) continue;
      const n = envMatches.filter((x) => x.agent === m.agent).length;
      agents.push({
        agent: m.agent,
        pid: m.pid,
        via: 'env',
        detail: `${m.marker} in ${n} process${n > 1 ? 'es' : ''} (e.g. ${m.name}, pid ${m.pid})`,
      });
    }

    const llmServers = this.mergeServers(llm, llmProcesses);
    this.details = { agentProcesses, envMatches, llmProcesses, gpuSource: gpu.source, processCount: procs.length };
    return { at, cpuOthers, gpu: gpu.util, gpuHeldByOther: gpu.heldByOther, agents, llmServers, onBattery: battery };
  }

  /** Servers found over HTTP get their busy state from /slots, else from their process's CPU. */
  private mergeServers(http: LlmServerSignal[], procs: SampleDetails['llmProcesses']): LlmServerSignal[] {
    const busyCpu = this.opts.busyCpuPercent ?? 50;
    const out: LlmServerSignal[] = [];
    for (const h of http) {
      if (h.busy === null) {
        const p = procs.filter((x) => x.server === h.server || (h.server === 'openai-compatible' && procs.length === 1));
        if (p.length) {
          const cpu = p.reduce((a, x) => a + x.cpuPercent, 0);
          out.push({ ...h, busy: cpu >= busyCpu, how: `process CPU ${Math.round(cpu)}%` });
          continue;
        }
      }
      out.push(h);
    }
    for (const server of new Set(procs.map((p) => p.server))) {
      if (out.some((o) => o.server === server)) continue;
      const p = procs.filter((x) => x.server === server);
      const cpu = p.reduce((a, x) => a + x.cpuPercent, 0);
      out.push({ server, endpoint: `pid ${p[0].pid}`, busy: cpu >= busyCpu, how: `process CPU ${Math.round(cpu)}%` });
    }
    return out;
  }

  // ---- processes -------------------------------------------------------------------------

  private async linuxProcesses(): Promise<ProcessInfo[]> {
    const now = Date.now();
    const dt = this.prevAt ? (now - this.prevAt) / 1000 : 0;
    let names: string[];
    try {
      names = (await fsp.readdir(this.procRoot)).filter((n) => /^\d+$/.test(n));
    } catch {
      return [];
    }
    const next = new Map<string, number>();
    const out: ProcessInfo[] = [];
    await Promise.all(
      names.map(async (n) => {
        try {
          const st = parseProcPidStat(await fsp.readFile(path.join(this.procRoot, n, 'stat'), 'utf8'));
          if (!st) return;
          const cmd = await fsp.readFile(path.join(this.procRoot, n, 'cmdline'), 'utf8').catch(() => '');
          const argv = cmd.split('\0').filter(Boolean);
          const key = `${st.pid}:${st.starttime}`;
          const ticks = st.utime + st.stime;
          next.set(key, ticks);
          const prev = this.prevProcTicks.get(key);
          const cpuPercent = prev !== undefined && dt > 0 ? ((ticks - prev) / CLK_TCK / dt) * 100 : 0;
          // Kernel threads have no command line; argv[0] may be a path or a process.title.
          const name = argv.length ? baseName(argv[0]) : st.comm;
          // comm is what prctl/process.title sets on Linux (Claude Code's node shows as `claude`).
          out.push({
            pid: st.pid,
            ppid: st.ppid,
            cpuPercent,
            name: name || st.comm,
            comm: st.comm,
            args: argv.length ? argv.join(' ') : `[${st.comm}]`,
          });
        } catch {
          // The process exited between readdir and read.
        }
      }),
    );
    this.prevProcTicks = next;
    // Drop env-cache entries of exited processes.
    for (const k of this.envCache.keys()) if (!next.has(k)) this.envCache.delete(k);
    return out;
  }

  /**
   * Windows: Win32_Process through PowerShell (no elevation; ~0.3–1 s per call), CPU from the
   * change in each process's kernel + user time since the previous sample.
   */
  private async win32Processes(): Promise<ProcessInfo[]> {
    const now = Date.now();
    if (this.winProcs && now - this.winProcsAt < (this.opts.win32ProcessIntervalMs ?? 10_000)) return this.winProcs;
    const dt = this.winProcsAt ? (now - this.winProcsAt) / 1000 : 0;
    const text = await this.exec('powershell.exe', ['-NoProfile', '-NonInteractive', '-Command', WIN32_PROCESS_QUERY], this.timeoutMs * 4);
    if (!text) return [];
    const next = new Map<string, number>();
    const out: ProcessInfo[] = [];
    for (const p of parseWin32Processes(text)) {
      const key = `${p.pid}:${p.created}`;
      next.set(key, p.cpuTime100ns);
      const prev = this.prevProcTicks.get(key);
      const cpuPercent = prev !== undefined && dt > 0 ? ((p.cpuTime100ns - prev) / 1e7 / dt) * 100 : 0;
      out.push({ pid: p.pid, ppid: p.ppid, cpuPercent, name: p.name, args: p.args });
    }
    this.prevProcTicks = next;
    this.winProcs = out;
    this.winProcsAt = now;
    return out;
  }

  private async psProcesses(): Promise<ProcessInfo[]> {
    const text = await this.exec('ps', ['-axww', '-o', 'pid=,ppid=,pcpu=,args='], this.timeoutMs * 2);
    return text ? parsePs(text) : [];
  }

  private async linuxEnvMatches(procs: ProcessInfo[]): Promise<SampleDetails['envMatches']> {
    const out: SampleDetails['envMatches'] = [];
    const seen = new Set<number>();
    const starts = new Map<number, string>();
    for (const k of this.prevProcTicks.keys()) starts.set(Number(k.split(':')[0]), k);
    await Promise.all(
      procs.map(async (p) => {
        if (seen.has(p.pid) || this.selfPids.has(p.pid)) return;
        seen.add(p.pid);
        const key = starts.get(p.pid) ?? `${p.pid}:?`;
        let found = this.envCache.get(key);
        if (!found) {
          try {
            found = agentsFromEnv(parseEnviron(await fsp.readFile(path.join(this.procRoot, String(p.pid), 'environ'), 'latin1')));
          } catch {
            found = []; // another user's process, or gone
          }
          this.envCache.set(key, found);
        }
        for (const f of found) out.push({ pid: p.pid, agent: f.agent, marker: f.marker, name: p.name });
      }),
    );
    return out.sort((a, b) => a.pid - b.pid);
  }

  private async macEnvMatches(procs: ProcessInfo[]): Promise<SampleDetails['envMatches']> {
    if (this.platform !== 'darwin') return [];
    // `ps -E` lists every own-user process's environment; every 10 s is plenty.
    if (Date.now() - this.lastEnvScanMac > 10_000) {
      this.lastEnvScanMac = Date.now();
      const text = await this.exec('ps', ['-axE', '-ww', '-o', 'pid=,command='], this.timeoutMs * 2);
      this.macEnv = text ? agentsFromPsEnvironment(text).filter((m) => !this.selfPids.has(m.pid)) : [];
    }
    const names = new Map(procs.map((p) => [p.pid, p.name]));
    return this.macEnv.filter((m) => names.has(m.pid)).map((m) => ({ ...m, name: names.get(m.pid)! }));
  }

  // ---- CPU ---------------------------------------------------------------------------------

  private async linuxCpuOthers(): Promise<number | null> {
    try {
      const cpu = parseProcStat(await fsp.readFile(path.join(this.procRoot, 'stat'), 'utf8'));
      let selfTicks = 0;
      for (const pid of this.selfPids) {
        const st = parseProcPidStat(await fsp.readFile(path.join(this.procRoot, String(pid), 'stat'), 'utf8').catch(() => ''));
        if (st) selfTicks += st.utime + st.stime;
      }
      const prev = this.prevCpu;
      const prevSelf = this.prevSelfTicks;
      this.prevCpu = cpu;
      this.prevSelfTicks = selfTicks;
      if (!cpu || !prev) return null;
      const busy = cpuBusyBetween(prev, cpu);
      if (busy === null) return null;
      // /proc/stat sums ticks over all CPUs, so this is Loupe's share of the whole machine.
      const self = (selfTicks - prevSelf) / (cpu.total - prev.total);
      return clamp01(busy - self);
    } catch {
      return null;
    }
  }

  /** macOS/Windows: os.cpus() times, minus this process's own CPU (process.cpuUsage). */
  private osCpuOthers(): number | null {
    const cpus = os.cpus();
    const usage = process.cpuUsage();
    const now = performance.now();
    const prev = this.prevCpusOs;
    const prevUsage = this.prevSelfUsage;
    const prevAt = this.prevSelfAt;
    this.prevCpusOs = cpus;
    this.prevSelfUsage = usage;
    this.prevSelfAt = now;
    if (!prev || !prevUsage || prev.length !== cpus.length) return null;
    let total = 0;
    let idle = 0;
    cpus.forEach((c, i) => {
      const p = prev[i].times;
      const t = c.times;
      total += t.user + t.nice + t.sys + t.idle + t.irq - (p.user + p.nice + p.sys + p.idle + p.irq);
      idle += t.idle - p.idle;
    });
    if (total <= 0) return null;
    const busy = 1 - idle / total;
    const selfMs = (usage.user + usage.system - prevUsage.user - prevUsage.system) / 1000;
    const self = selfMs / ((now - prevAt) * cpus.length);
    return clamp01(busy - self);
  }

  // ---- GPU ---------------------------------------------------------------------------------

  private async gpuLoad(): Promise<{ util: number | null; heldByOther: boolean | null; source: string | null }> {
    if (this.platform === 'darwin') {
      const text = await this.exec('ioreg', ['-r', '-d', '1', '-w', '0', '-c', 'IOAccelerator'], this.timeoutMs * 2);
      const gpus = text ? parseIoregAccelerators(text) : [];
      const util = gpus.map((g) => g.device).filter((x): x is number => x !== null);
      // Loupe's own Metal work is included in Device Utilization; the scheduler sees it too.
      return { util: util.length ? Math.max(...util) : null, heldByOther: null, source: gpus.length ? `ioreg (${gpus[0].name})` : null };
    }
    if (this.nvidiaSmi === false) return { util: null, heldByOther: null, source: null };
    const gpuText = await this.exec(
      'nvidia-smi',
      ['--query-gpu=index,name,utilization.gpu,memory.used,memory.total', '--format=csv,noheader,nounits'],
      this.timeoutMs * 2,
    );
    if (gpuText === null) {
      this.nvidiaSmi = false;
      return { util: null, heldByOther: null, source: null };
    }
    this.nvidiaSmi = true;
    const gpus = parseNvidiaSmiGpus(gpuText);
    const apps = parseNvidiaSmiApps(
      (await this.exec(
        'nvidia-smi',
        ['--query-compute-apps=pid,process_name,used_memory', '--format=csv,noheader,nounits'],
        this.timeoutMs * 2,
      )) ?? '',
    );
    const others = apps.filter((a) => !this.selfPids.has(a.pid));
    const util = gpus.map((g) => g.utilization).filter((x): x is number => x !== null);
    return {
      util: util.length ? Math.max(...util) : null,
      heldByOther: others.length > 0,
      source: `nvidia-smi (${gpus.map((g) => g.name).join(', ')})`,
    };
  }

  // ---- LLM servers ---------------------------------------------------------------------------

  /** Probes 127.0.0.1 only; a closed port answers in well under a millisecond. */
  async probeLlmServers(): Promise<LlmServerSignal[]> {
    const ports = this.opts.llmPorts ?? DEFAULT_LLM_PORTS;
    const found = await Promise.all(
      ports.map(async ({ port, server }): Promise<LlmServerSignal | null> => {
        const base = `http://127.0.0.1:${port}`;
        if (server === 'ollama') {
          const ps = await httpJson(`${base}/api/ps`, this.timeoutMs);
          if (ps?.status === 200)
            return { server, endpoint: base, busy: null, how: 'no busy endpoint', models: parseModelList(ps.json) ?? [] };
        }
        const slots = await httpJson(`${base}/slots`, this.timeoutMs);
        const s = slots?.status === 200 ? parseLlamaServerSlots(slots.json) : null;
        const models = await httpJson(`${base}/v1/models`, this.timeoutMs);
        if (!s && models?.status !== 200) return null;
        const list = models?.status === 200 ? (parseModelList(models.json) ?? []) : [];
        const kind = s ? 'llama-server' : server === 'llama-server' ? 'openai-compatible' : server;
        if (s)
          return {
            server: kind,
            endpoint: base,
            busy: s.processing > 0,
            how: `/slots: ${s.processing} of ${s.total} processing`,
            models: list,
          };
        return { server: kind, endpoint: base, busy: null, how: 'no busy endpoint', models: list };
      }),
    );
    return found.filter((x): x is LlmServerSignal => x !== null);
  }

  // ---- power ---------------------------------------------------------------------------------

  private lastBatteryAt = 0;
  private lastBattery: boolean | null = null;

  private async battery(): Promise<boolean | null> {
    if (Date.now() - this.lastBatteryAt < 30_000) return this.lastBattery;
    this.lastBatteryAt = Date.now();
    if (this.platform === 'darwin') {
      const t = await this.exec('pmset', ['-g', 'batt'], this.timeoutMs);
      this.lastBattery = t ? parsePmsetBatt(t) : null;
    } else if (this.platform === 'linux') {
      const dir = '/sys/class/power_supply';
      const names = await fsp.readdir(dir).catch(() => [] as string[]);
      const supplies = await Promise.all(
        names.map(async (n) => ({
          type: await fsp.readFile(path.join(dir, n, 'type'), 'utf8').catch(() => ''),
          online: await fsp.readFile(path.join(dir, n, 'online'), 'utf8').catch(() => undefined),
          status: await fsp.readFile(path.join(dir, n, 'status'), 'utf8').catch(() => undefined),
        })),
      );
      this.lastBattery = onBatteryFromPowerSupplies(supplies);
    }
    return this.lastBattery;
  }
}
