/**
 * Wires contention-aware compute for one engine: the sampler, the back-off pacer (the engine's
 * PacerPort), the routing embedder's unit, and hardware facts, into one status for the UI.
 */
import { ContentionPacer, type ComputeUnitKind, type SchedulerConfig } from '../../core/compute/scheduler.js';
import { computeLine, type ComputeStatus } from '../../core/compute/status.js';
import type { HardwareInfo } from '../../core/compute/hardware.js';
import type { AgentSignal, ContentionSample } from '../../core/compute/signals.js';

/** How long an agent's query counts as "agent active". */
export const AGENT_QUERY_WINDOW_MS = 60_000;

/** A short agent name from an MCP client's name (`claude-code` → `claude`, `Visual Studio Code` → `copilot`). */
export function agentName(client: string): string {
  const c = client.toLowerCase().replace(/^mcp:/, '');
  for (const a of ['claude', 'codex', 'gemini', 'cursor', 'copilot', 'opencode', 'goose', 'aider']) if (c.includes(a)) return a;
  if (/visual studio code|vscode/.test(c)) return 'copilot';
  return (
    c
      .replace(/[^a-z0-9_.-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 24) || 'agent'
  );
}
import type { EmbedderPort, Logger } from '../../core/types.js';
import { detectHardware } from './hardware.js';
import { RoutingEmbedder } from './routing-embedder.js';
import { ContentionSampler, type SamplerOptions } from './sampler.js';
import { DEFAULT_BATCH_SIZE } from '../../core/defaults.js';

export interface ComputeOptions {
  /** false: back-off off (the pacer stays at full speed but still reports signals). */
  enabled?: boolean;
  config?: Partial<SchedulerConfig>;
  intervalMs?: number;
  sampler?: SamplerOptions;
  logger?: Logger;
  /** Called when the explanation or the unit changes. */
  onStatus?: (s: ComputeStatus) => void;
}

/** The unit an embedder runs on, from its `computeUnit` label. */
export function unitOf(e: EmbedderPort): ComputeUnitKind {
  if (e instanceof RoutingEmbedder) return e.unit;
  return e.computeUnit.startsWith('GPU') ? 'gpu' : /neural|ane/i.test(e.computeUnit) ? 'ane' : 'cpu';
}

export class ComputeController {
  readonly pacer: ContentionPacer;
  readonly sampler: ContentionSampler;
  private hardware: HardwareInfo | null = null;
  private lastLine = '';

  constructor(
    private readonly embedder: EmbedderPort,
    private readonly opts: ComputeOptions = {},
  ) {
    this.sampler = new ContentionSampler(opts.sampler);
    this.pacer = new ContentionPacer({
      sample: async () => this.withQueries(await this.sampler.sample()),
      unit: () => unitOf(this.embedder),
      config: { ...opts.config, enabled: opts.enabled ?? opts.config?.enabled ?? true },
      intervalMs: opts.intervalMs,
      onError: (e) => opts.logger?.warn(`compute: sampling failed: ${(e as Error).message}`),
      onDecision: () => {
        const s = this.status();
        const line = computeLine(s);
        // A new mode, unit or kind of reason; not every percentage point.
        const key = line.replace(/\d+%/g, '');
        if (key !== this.lastLine) {
          this.lastLine = key;
          opts.logger?.info(`compute: ${line}`);
          opts.onStatus?.(s);
        }
      },
    });
  }

  /** Agent name → when it last queried this engine (MCP, the language-model tool). */
  private readonly agentQueries = new Map<string, number>();

  /**
   * An agent asked this engine something (through MCP or VS Code's language-model tool): it is
   * working now, a contention signal beside the processes the sampler finds, for the next minute.
   */
  noteAgentQuery(agent: string, at = Date.now()): void {
    this.agentQueries.set(agentName(agent), at);
  }

  private withQueries(s: ContentionSample): ContentionSample {
    const now = Date.now();
    const extra: AgentSignal[] = [];
    for (const [agent, at] of this.agentQueries) {
      if (now - at > AGENT_QUERY_WINDOW_MS) {
        this.agentQueries.delete(agent);
        continue;
      }
      extra.push({ agent, pid: 0, via: 'query', detail: `searched Loupe ${Math.round((now - at) / 1000)} s ago` });
    }
    return extra.length ? { ...s, agents: [...s.agents, ...extra] } : s;
  }

  /** The latest sample (for the routing embedder). */
  latestSample(): ContentionSample | null {
    return this.pacer.compute.sample;
  }

  /** Detects hardware once (the GPU backend comes from the embedder, no second runtime load). */
  async detect(): Promise<HardwareInfo> {
    if (!this.hardware) {
      this.hardware = await detectHardware({ gpuBackend: gpuBackendOf(this.embedder.computeUnit) });
    }
    return this.hardware;
  }

  status(): ComputeStatus {
    const c = this.pacer.compute;
    const r = this.embedder instanceof RoutingEmbedder ? this.embedder : null;
    return {
      hardware: this.hardware,
      backoff: !c.disabled,
      mode: c.mode,
      explanation: c.explanation,
      unit: c.unit,
      level: c.level,
      route: r?.route ?? null,
      units: r ? r.describeUnits() : [this.embedder.computeUnit],
      sample: c.sample,
    };
  }

  dispose(): void {
    this.pacer.dispose();
  }
}

/** The GPU backend named by an embedder's compute unit ("GPU (Metal)", "GPU CUDA", …), or false on CPU. */
export function gpuBackendOf(computeUnit: string): string | false {
  if (/Metal/.test(computeUnit)) return 'metal';
  if (/CUDA/.test(computeUnit)) return 'cuda';
  if (/Vulkan/.test(computeUnit)) return 'vulkan';
  return computeUnit.startsWith('GPU') ? computeUnit.slice(5).toLowerCase() : false;
}

/** Compute status of an engine without back-off: hardware and unit, always full speed. */
export async function computeStatusWithoutBackoff(embedder: EmbedderPort): Promise<ComputeStatus> {
  return {
    hardware: await detectHardware({ gpuBackend: gpuBackendOf(embedder.computeUnit) }),
    backoff: false,
    mode: 'full',
    explanation: 'full speed: back-off off',
    unit: unitOf(embedder),
    level: { batchSize: DEFAULT_BATCH_SIZE, duty: 1 },
    route: null,
    units: [embedder.computeUnit],
    sample: null,
  };
}
