/**
 * Back-off policy: from contention samples to a mode (full speed, backing off, paused) with
 * hysteresis, and a pacer that applies the mode to the engine's embedding work. Pure: sampling is
 * injected (src/adapters/compute/sampler.ts does the I/O).
 *
 * What decides: measured load on the unit Loupe embeds on (CPU busy of other processes, GPU
 * utilisation) and local LLM servers that say they are busy. An agent's presence alone is a weaker
 * hint: it lowers the load needed to back off, and backs off on its own only where load cannot be
 * measured for that unit.
 */
import { FixedPacer } from '../pacer.js';
import type { ContentionSample } from './signals.js';
import { DEFAULT_BATCH_SIZE } from '../defaults.js';

export type ComputeUnitKind = 'gpu' | 'cpu' | 'ane';

export type BackoffMode = 'full' | 'backoff' | 'heavy' | 'paused';

/** How hard to run in each mode: chunks per unit of work and the share of time spent embedding. */
export interface PaceLevel {
  batchSize: number;
  /** 0 < duty ≤ 1: after a unit that took t ms, rest t·(1−duty)/duty ms. */
  duty: number;
}

export interface SchedulerConfig {
  /** false: always full speed (the `--no-backoff` switch). */
  enabled: boolean;
  full: PaceLevel;
  backoff: PaceLevel;
  heavy: PaceLevel;
  /** Others' load (0..1) on Loupe's unit that starts a back-off... */
  enterLoad: number;
  /** ...and the lower load that ends it (hysteresis band between the two). */
  exitLoad: number;
  /** Load that counts as heavy contention. */
  heavyLoad: number;
  /** Enter threshold while a coding agent or local LLM server is present (presence is a hint). */
  enterLoadWithAgent: number;
  /** Consecutive samples above a threshold before stepping up a mode. */
  enterSamples: number;
  /** Consecutive samples below the exit threshold before stepping down. */
  exitSamples: number;
  /** A mode is held at least this long before stepping down. */
  minHoldMs: number;
  /** Pause instead of the heavy level under heavy contention. */
  pauseWhenHeavy: boolean;
  /** Pause while on battery power. */
  pauseOnBattery: boolean;
}

/**
 * Defaults. 32 chunks per unit is right for a dedicated machine and 8 beside other work (the
 * product's measurements). The duty cycles come from the first measurement in issue 7 on one
 * shared unit (embedding 10% of the time kept 96% of an agent-like workload, 25% kept 87%);
 * test/bench/results/contention-2026-11-22.json confirms them: the default kept 97%.
 */
export const DEFAULT_SCHEDULER_CONFIG: SchedulerConfig = {
  enabled: true,
  full: { batchSize: DEFAULT_BATCH_SIZE, duty: 1 },
  backoff: { batchSize: 8, duty: 0.15 },
  heavy: { batchSize: 8, duty: 0.08 },
  enterLoad: 0.5,
  exitLoad: 0.3,
  heavyLoad: 0.85,
  enterLoadWithAgent: 0.35,
  enterSamples: 2,
  exitSamples: 3,
  minHoldMs: 10_000,
  pauseWhenHeavy: false,
  pauseOnBattery: false,
};

/** Scheduler settings from the user's choices (unit size, optional pauses); omitted choices keep the defaults. */
export function schedulerConfigFor(opts: {
  batchSize?: number;
  pauseOnBattery?: boolean;
  pauseWhenBusy?: boolean;
}): Partial<SchedulerConfig> {
  return {
    ...(opts.batchSize ? schedulerConfigForBatchSize(opts.batchSize) : {}),
    ...(opts.pauseOnBattery !== undefined ? { pauseOnBattery: opts.pauseOnBattery } : {}),
    ...(opts.pauseWhenBusy !== undefined ? { pauseWhenHeavy: opts.pauseWhenBusy } : {}),
  };
}

/**
 * Scheduler settings for a user-chosen unit size: `batchSize` chunks per unit at full speed; the
 * back-off levels keep their smaller units, never larger than the chosen one.
 */
export function schedulerConfigForBatchSize(batchSize: number): Partial<SchedulerConfig> {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  const d = DEFAULT_SCHEDULER_CONFIG;
  return {
    full: { ...d.full, batchSize },
    backoff: { ...d.backoff, batchSize: Math.min(d.backoff.batchSize, batchSize) },
    heavy: { ...d.heavy, batchSize: Math.min(d.heavy.batchSize, batchSize) },
  };
}

/** What the policy remembers between samples. */
export interface SchedulerMemory {
  mode: BackoffMode;
  since: number;
  /** Consecutive samples that asked for a higher mode / for a lower one. */
  up: number;
  down: number;
}

export interface Decision {
  mode: BackoffMode;
  level: PaceLevel;
  /** Short reasons, e.g. `claude active`, `CPU 85%`, `llama-server busy`. */
  reasons: string[];
  /** One line for the user: `backing off: claude active, CPU 85%`. */
  explanation: string;
  /** The load the decision was based on (0..1), null if unknown. */
  load: number | null;
  memory: SchedulerMemory;
}

export function initialMemory(at = 0): SchedulerMemory {
  return { mode: 'full', since: at, up: 0, down: 0 };
}

const RANK: Record<BackoffMode, number> = { full: 0, backoff: 1, heavy: 2, paused: 3 };

/** Others' load on a unit: CPU busy of other processes, GPU utilisation, nothing measurable for the ANE. */
export function loadOn(unit: ComputeUnitKind, s: ContentionSample): number | null {
  if (unit === 'cpu') return s.cpuOthers;
  if (unit === 'gpu') {
    if (s.gpu !== null) return s.gpu;
    return null;
  }
  return null;
}

function pct(x: number): string {
  return `${Math.round(x * 100)}%`;
}

/** Reasons worth showing for a sample, strongest first. */
export function reasonsFor(unit: ComputeUnitKind, s: ContentionSample): string[] {
  const r: string[] = [];
  // An agent querying Loupe right now is "searching"; one only found running is "active".
  const searching = [...new Set(s.agents.filter((a) => a.via === 'query').map((a) => a.agent))];
  const active = [...new Set(s.agents.map((a) => a.agent))].filter((a) => !searching.includes(a));
  if (searching.length) r.push(`${searching.join(', ')} searching`);
  if (active.length) r.push(`${active.join(', ')} active`);
  for (const l of s.llmServers) if (l.busy) r.push(`${l.server} busy`);
  if (s.cpuOthers !== null) r.push(`CPU ${pct(s.cpuOthers)}`);
  if (s.gpu !== null) r.push(`GPU ${pct(s.gpu)}`);
  if (unit === 'gpu' && s.gpuHeldByOther) r.push('GPU in use by another process');
  if (s.onBattery) r.push('on battery');
  return r;
}

/** The mode a single sample asks for, before hysteresis. */
export function wantedMode(unit: ComputeUnitKind, s: ContentionSample, cfg: SchedulerConfig): BackoffMode {
  if (!cfg.enabled) return 'full';
  if (cfg.pauseOnBattery && s.onBattery) return 'paused';
  const load = loadOn(unit, s);
  const hint = s.agents.length > 0 || s.llmServers.length > 0;
  const llmBusy = s.llmServers.some((l) => l.busy);
  let mode: BackoffMode = 'full';
  if (load !== null) {
    if (load >= cfg.heavyLoad) mode = 'heavy';
    else if (load >= (hint ? cfg.enterLoadWithAgent : cfg.enterLoad)) mode = 'backoff';
  } else if (hint) {
    // Nothing measurable on this unit: an agent or an LLM server beside us is all we know.
    mode = 'backoff';
  }
  if (llmBusy && RANK[mode] < RANK.backoff) mode = 'backoff';
  if (unit === 'gpu' && s.gpuHeldByOther && RANK[mode] < RANK.backoff) mode = 'backoff';
  if (mode === 'heavy' && cfg.pauseWhenHeavy) mode = 'paused';
  return mode;
}

function levelOf(mode: BackoffMode, cfg: SchedulerConfig): PaceLevel {
  return mode === 'full'
    ? cfg.full
    : mode === 'backoff'
      ? cfg.backoff
      : mode === 'heavy'
        ? cfg.heavy
        : { batchSize: cfg.backoff.batchSize, duty: 0 };
}

function explain(mode: BackoffMode, reasons: string[]): string {
  const why = reasons.length ? reasons.join(', ') : 'machine free';
  switch (mode) {
    case 'full':
      return `full speed: ${why}`;
    case 'backoff':
      return `backing off: ${why}`;
    case 'heavy':
      return `backing off hard: ${why}`;
    case 'paused':
      return `paused: ${why}`;
  }
}

/**
 * One step of the policy. Stepping up (towards pausing) needs `enterSamples` consecutive samples
 * asking for it (one sample suffices to go from full to backoff when an LLM server says it is
 * busy); stepping down needs `exitSamples` consecutive samples under `exitLoad` and the mode to
 * have been held `minHoldMs`. Steps down go one level at a time.
 */
export function decide(
  mem: SchedulerMemory,
  unit: ComputeUnitKind,
  s: ContentionSample,
  cfg: SchedulerConfig = DEFAULT_SCHEDULER_CONFIG,
): Decision {
  const wanted = wantedMode(unit, s, cfg);
  let { mode, since, up, down } = mem;
  if (!cfg.enabled) {
    mode = 'full';
    up = down = 0;
  } else if (RANK[wanted] > RANK[mode]) {
    up++;
    down = 0;
    const busyServer = s.llmServers.some((l) => l.busy);
    if (up >= cfg.enterSamples || (busyServer && mode === 'full') || wanted === 'paused') {
      mode = wanted;
      since = s.at;
      up = 0;
    }
  } else if (RANK[wanted] < RANK[mode]) {
    up = 0;
    const load = loadOn(unit, s);
    // Hysteresis: leaving a back-off needs the load under exitLoad (not just under enterLoad);
    // leaving heavy needs it clearly under heavyLoad.
    const quiet = load === null || (mode === 'backoff' ? load <= cfg.exitLoad : load < cfg.heavyLoad - 0.1);
    down = quiet ? down + 1 : 0;
    if (down >= cfg.exitSamples && s.at - since >= cfg.minHoldMs) {
      const step: BackoffMode = mode === 'paused' ? (wanted === 'full' ? 'backoff' : wanted) : mode === 'heavy' ? 'backoff' : 'full';
      mode = RANK[step] < RANK[wanted] ? wanted : step;
      since = s.at;
      down = 0;
    }
  } else {
    up = 0;
    down = 0;
  }
  const reasons = reasonsFor(unit, s);
  return {
    mode,
    level: levelOf(mode, cfg),
    reasons,
    explanation: explain(mode, cfg.enabled ? reasons : ['back-off off']),
    load: loadOn(unit, s),
    memory: { mode, since, up, down },
  };
}

/** Runs the policy over a recorded trace; returns the decision after each sample. */
export function replay(trace: ContentionSample[], unit: ComputeUnitKind, cfg: SchedulerConfig = DEFAULT_SCHEDULER_CONFIG): Decision[] {
  let mem = initialMemory(trace[0]?.at ?? 0);
  return trace.map((s) => {
    const d = decide(mem, unit, s, cfg);
    mem = d.memory;
    return d;
  });
}

/** Number of mode changes in a sequence of decisions. */
export function countSwitches(ds: Decision[]): number {
  let n = 0;
  for (let i = 1; i < ds.length; i++) if (ds[i].mode !== ds[i - 1].mode) n++;
  return n;
}

/** What the compute indicator shows. */
export interface ComputeState {
  mode: BackoffMode | 'user-paused';
  explanation: string;
  unit: ComputeUnitKind;
  level: PaceLevel;
  sample: ContentionSample | null;
  /** Set when back-off was turned off by the user. */
  disabled: boolean;
}

export interface ContentionPacerOptions {
  /** Takes one sample (the adapter's sampler). Errors are logged by the caller and treated as no signal. */
  sample: () => Promise<ContentionSample>;
  /** Which unit embedding runs on now (the dispatcher may move it). Default: cpu. */
  unit?: () => ComputeUnitKind;
  config?: Partial<SchedulerConfig>;
  /** Milliseconds between samples (default 3000). */
  intervalMs?: number;
  /** Called on every decision (status bar, logs). */
  onDecision?: (d: Decision, s: ContentionSample) => void;
  onError?: (e: unknown) => void;
  /** Milliseconds since the epoch (default Date.now); a test passes a fake clock so rests do not depend on load. */
  now?: () => number;
}

/**
 * The engine's pacer under the back-off policy. Samples while work is being asked for (and a
 * little after), sets the unit size, rests between units for the duty cycle, and pauses when the
 * policy says so. A user pause (engine.pause) wins over the policy until engine.resume.
 */
export class ContentionPacer extends FixedPacer {
  readonly config: SchedulerConfig;
  private mem: SchedulerMemory;
  private level: PaceLevel;
  private lastDecision: Decision | null = null;
  private lastSample: ContentionSample | null = null;
  private timer: ReturnType<typeof setInterval> | undefined;
  private lastAcquire = 0;
  private sampling = false;
  private userPaused = false;
  private restUntil = 0;
  private restWake: (() => void) | null = null;
  private disposed = false;
  /** A unit of work was handed out and not yet released. */
  private inFlight = false;
  private readonly now: () => number;

  constructor(private readonly opts: ContentionPacerOptions) {
    const config = { ...DEFAULT_SCHEDULER_CONFIG, ...opts.config };
    super(config.full.batchSize);
    this.config = config;
    this.now = opts.now ?? Date.now;
    this.mem = initialMemory(this.now());
    this.level = config.full;
  }

  /** The current decision for the status bar. */
  get compute(): ComputeState {
    const unit = this.opts.unit?.() ?? 'cpu';
    return {
      mode: this.userPaused ? 'user-paused' : this.mem.mode,
      explanation: this.userPaused
        ? 'paused by the user'
        : (this.lastDecision?.explanation ?? (this.config.enabled ? 'full speed: not sampled yet' : 'full speed: back-off off')),
      unit,
      level: this.level,
      sample: this.lastSample,
      disabled: !this.config.enabled,
    };
  }

  /** Takes a sample now and applies the decision (also called by the timer). */
  async tick(): Promise<Decision | null> {
    if (this.sampling || this.disposed) return null;
    this.sampling = true;
    try {
      const s = await this.opts.sample();
      const unit = this.opts.unit?.() ?? 'cpu';
      const d = decide(this.mem, unit, s, this.config);
      this.apply(d, s);
      return d;
    } catch (e) {
      this.opts.onError?.(e);
      return null;
    } finally {
      this.sampling = false;
    }
  }

  /** Applies a decision (exposed for tests that drive the pacer from a trace). */
  apply(d: Decision, s: ContentionSample): void {
    // Notify on a new mode or new kinds of reasons, not on every percentage point.
    const key = (x: Decision | null): string => (x ? `${x.mode}|${x.reasons.map((r) => r.replace(/\d+%/, '')).join(',')}` : '');
    const changed = d.mode !== this.mem.mode || key(d) !== key(this.lastDecision);
    this.mem = d.memory;
    this.level = d.level;
    this.lastDecision = d;
    this.lastSample = s;
    this.opts.onDecision?.(d, s);
    if (this.userPaused || !changed) return;
    if (d.mode === 'paused') super.set({ kind: 'paused', reason: d.explanation });
    else if (d.mode === 'full') super.set({ kind: 'running', batchSize: d.level.batchSize });
    else super.set({ kind: 'backingOff', reason: d.explanation, batchSize: d.level.batchSize });
    if (d.mode === 'full') this.endRest();
  }

  override pause(reason = 'paused by the user'): void {
    this.userPaused = true;
    super.pause(reason);
  }

  override resume(): void {
    this.userPaused = false;
    const d = this.lastDecision;
    if (d && d.mode === 'paused') super.set({ kind: 'paused', reason: d.explanation });
    else if (d && d.mode !== 'full') super.set({ kind: 'backingOff', reason: d.explanation, batchSize: d.level.batchSize });
    else super.set({ kind: 'running', batchSize: this.level.batchSize });
  }

  private ensureTimer(): void {
    if (this.timer || this.disposed) return;
    void this.tick();
    this.timer = setInterval(() => {
      // Stop sampling when no work has been asked for in a while (an idle engine costs nothing).
      if (!this.inFlight && this.now() - this.lastAcquire > 4 * (this.opts.intervalMs ?? 3000) && this.mem.mode === 'full') {
        clearInterval(this.timer);
        this.timer = undefined;
        return;
      }
      void this.tick();
    }, this.opts.intervalMs ?? 3000);
    this.timer.unref?.();
  }

  override async acquire(signal?: AbortSignal): Promise<number> {
    // A run starting while a back-off is already in force: say so again, so the engine (which
    // only listens during runs) shows it.
    if (this.now() - this.lastAcquire > 2000 && this.state.kind === 'backingOff') super.set(this.state);
    this.lastAcquire = this.now();
    this.ensureTimer();
    const wait = this.restUntil - this.now();
    if (wait > 0) {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(done, wait);
        const onAbort = (): void => {
          clearTimeout(t);
          this.restWake = null;
          reject(signal!.reason);
        };
        function done(): void {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        }
        this.restWake = () => {
          clearTimeout(t);
          done();
        };
        signal?.addEventListener('abort', onAbort, { once: true });
      });
      this.restWake = null;
    }
    const n = await super.acquire(signal);
    this.inFlight = true;
    return n;
  }

  override release(done?: { chunks: number; ms: number }): void {
    this.inFlight = false;
    if (!done) return;
    const duty = this.userPaused ? 1 : this.level.duty;
    this.restUntil = duty > 0 && duty < 1 ? this.now() + (done.ms * (1 - duty)) / duty : 0;
  }

  private endRest(): void {
    this.restUntil = 0;
    this.restWake?.();
  }

  /** Stops sampling. */
  dispose(): void {
    this.disposed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.endRest();
  }
}
