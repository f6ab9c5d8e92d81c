import type { HardwareInfo } from './hardware.js';
import type { Route } from './dispatcher.js';
import type { BackoffMode, ComputeUnitKind, PaceLevel } from './scheduler.js';
import type { ContentionSample } from './signals.js';

/** What the status bar and `loupe status` show about compute (the `compute` request / event). */
export interface ComputeStatus {
  hardware: HardwareInfo | null;
  /** Back-off turned on for this engine. */
  backoff: boolean;
  mode: BackoffMode | 'user-paused';
  /** `backing off: claude active, CPU 85%`. */
  explanation: string;
  unit: ComputeUnitKind;
  level: PaceLevel;
  /** Why embedding runs on `unit` when there is a choice. */
  route: Route | null;
  /** Units Loupe can embed on, e.g. `GPU: Metal`, `CPU`, `Neural Engine (parity 0.9996)`. */
  units: string[];
  sample: ContentionSample | null;
}

/** One line for a status bar tooltip. */
export function computeLine(c: ComputeStatus): string {
  const unit = c.unit === 'ane' ? 'Neural Engine' : c.unit.toUpperCase();
  return `${c.explanation} · embedding on ${unit}, ${c.level.batchSize} chunks per unit${c.level.duty < 1 && c.mode !== 'full' ? `, ${Math.round(c.level.duty * 100)}% of the time` : ''}`;
}
