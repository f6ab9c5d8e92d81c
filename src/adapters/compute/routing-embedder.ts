/**
 * An EmbedderPort over several backends of the same model (GGUF on GPU and on CPU; the ANE
 * helper once its parity gate passed): each call goes to the unit the dispatcher picks from the
 * latest contention sample. Only backends whose vectors may share the index are ever used.
 */
import { chooseUnit, type Route, type UnitOption } from '../../core/compute/dispatcher.js';
import type { ComputeUnitKind } from '../../core/compute/scheduler.js';
import type { ContentionSample } from '../../core/compute/signals.js';
import type { EmbedderPort, Logger, ModelProfile } from '../../core/types.js';

export interface Backend {
  unit: ComputeUnitKind;
  embedder: EmbedderPort;
  /** May its vectors join the primary's index (same GGUF: yes; ANE: after the parity gate). */
  sharesIndex: boolean;
}

export class RoutingEmbedder implements EmbedderPort {
  private current: ComputeUnitKind;
  private _route: Route;
  /** Calls per unit, for status and tests. */
  readonly calls: Record<ComputeUnitKind, number> = { gpu: 0, cpu: 0, ane: 0 };

  /**
   * @param backends the first one is the primary: its model id, profile and token counts are the index's.
   * @param latest the latest contention sample (the pacer's), or null before the first.
   */
  constructor(
    private readonly backends: Backend[],
    private readonly latest: () => ContentionSample | null,
    private readonly logger?: Logger,
  ) {
    if (!backends.length) throw new Error('RoutingEmbedder needs at least one backend');
    for (const b of backends.slice(1)) {
      if (b.sharesIndex && b.embedder.dimensions !== backends[0].embedder.dimensions)
        throw new Error(`backend ${b.unit} has ${b.embedder.dimensions} dims, not ${backends[0].embedder.dimensions}`);
    }
    this.current = backends[0].unit;
    this._route = { unit: this.current, reason: 'starting on the primary backend' };
  }

  get modelId(): string {
    return this.backends[0].embedder.modelId;
  }
  get modelName(): string {
    return this.backends[0].embedder.modelName;
  }
  get dimensions(): number {
    return this.backends[0].embedder.dimensions;
  }
  get profile(): ModelProfile {
    return this.backends[0].embedder.profile;
  }
  get computeUnit(): string {
    return this.backend(this.current).embedder.computeUnit;
  }
  get route(): Route {
    return this._route;
  }
  get unit(): ComputeUnitKind {
    return this.current;
  }

  /** The units, as `loupe status` lists them. */
  describeUnits(): string[] {
    return this.backends.map((b) => `${b.embedder.computeUnit}${b.sharesIndex ? '' : ' (not used: parity gate not passed)'}`);
  }

  private backend(u: ComputeUnitKind): Backend {
    return this.backends.find((b) => b.unit === u) ?? this.backends[0];
  }

  /** Re-decides the unit from the latest sample. */
  reroute(): Route {
    const options: UnitOption[] = this.backends.map((b) => ({ unit: b.unit, available: true, sharesIndex: b.sharesIndex }));
    const r = chooseUnit(options, this.current, this.latest());
    if (r.unit !== this.current) this.logger?.info(`compute: ${r.reason}`);
    this.current = r.unit;
    this._route = r;
    return r;
  }

  countTokens(text: string): number {
    return this.backends[0].embedder.countTokens(text);
  }

  async embedDocuments(texts: string[], signal?: AbortSignal): Promise<Float32Array[]> {
    const b = this.backend(this.reroute().unit);
    this.calls[b.unit]++;
    return b.embedder.embedDocuments(texts, signal);
  }

  async embedQuery(text: string, signal?: AbortSignal): Promise<Float32Array> {
    const b = this.backend(this.reroute().unit);
    this.calls[b.unit]++;
    return b.embedder.embedQuery(text, signal);
  }

  async dispose(): Promise<void> {
    for (const b of this.backends) await b.embedder.dispose();
  }
}
