/**
 * Which compute unit embeds next, and whether two backends may share an index (the parity gate).
 * Pure policy; src/adapters/compute/routing-embedder.ts applies it to real embedders.
 */
import type { ComputeUnitKind } from './scheduler.js';
import type { ContentionSample } from './signals.js';
import { cosine } from '../vector-math.js';

export { cosine };

/** A unit Loupe could embed on. */
export interface UnitOption {
  unit: ComputeUnitKind;
  /** The backend is loaded and working. */
  available: boolean;
  /**
   * Its vectors may go into the index: true for the GGUF on CPU or GPU (same file, same runtime);
   * for the ANE only after the parity gate passed for this model.
   */
  sharesIndex: boolean;
}

export interface Route {
  unit: ComputeUnitKind;
  /** Why (`GPU held by ollama: embedding on the CPU`). */
  reason: string;
}

/** How contended each unit is from others (0..1), from one sample. The ANE cannot be measured without sudo: 0. */
export function unitLoads(s: ContentionSample): Record<ComputeUnitKind, number | null> {
  const gpuBusyByOthers = s.gpuHeldByOther === true || s.llmServers.some((l) => l.busy) ? Math.max(s.gpu ?? 0.9, 0.5) : s.gpu;
  return { gpu: gpuBusyByOthers, cpu: s.cpuOthers, ane: 0 };
}

/** Preference when loads are equal: the GPU is fastest, then the ANE, then the CPU. */
const PREFERENCE: ComputeUnitKind[] = ['gpu', 'ane', 'cpu'];

/** Load difference needed to move away from the current unit (keeps routing from flapping). */
export const SWITCH_MARGIN = 0.3;
/** Load on the GPU under which it counts as free again. */
export const GPU_FREE = 0.2;

/**
 * Picks the unit for the next unit of work: the least-contended one that may share the index,
 * staying on the current unit unless another is clearly (SWITCH_MARGIN) less loaded.
 */
export function chooseUnit(options: UnitOption[], current: ComputeUnitKind | null, s: ContentionSample | null): Route {
  const usable = options.filter((o) => o.available && o.sharesIndex).map((o) => o.unit);
  if (!usable.length) return { unit: 'cpu', reason: 'no other unit available: CPU' };
  if (usable.length === 1) return { unit: usable[0], reason: `only ${label(usable[0])} available` };
  const loads = s ? unitLoads(s) : { gpu: null, cpu: null, ane: 0 };
  const score = (u: ComputeUnitKind): number => loads[u] ?? (u === 'gpu' ? 0 : 0.1);
  const ranked = [...usable].sort((a, b) => score(a) - score(b) || PREFERENCE.indexOf(a) - PREFERENCE.indexOf(b));
  // The GPU is the first choice whenever it is free.
  if (usable.includes('gpu') && score('gpu') <= GPU_FREE) {
    return { unit: 'gpu', reason: current && current !== 'gpu' ? 'GPU free again: back on the GPU' : 'GPU free' };
  }
  const best = ranked[0];
  if (current && usable.includes(current) && current !== best && score(current) - score(best) < SWITCH_MARGIN) {
    return { unit: current, reason: `staying on ${label(current)} (${pctOf(score(current))} vs ${label(best)} ${pctOf(score(best))})` };
  }
  const why = best === 'gpu' ? 'least contended' : s?.gpuHeldByOther ? 'GPU held by another process' : `GPU ${pctOf(score('gpu'))}`;
  return { unit: best, reason: `${why}: embedding on the ${label(best)}` };
}

function label(u: ComputeUnitKind): string {
  return u === 'ane' ? 'Neural Engine' : u.toUpperCase();
}

function pctOf(x: number): string {
  return `${Math.round(x * 100)}%`;
}

/** Result of comparing a candidate backend's vectors with the reference backend's on a fixture set. */
export interface ParityReport {
  passed: boolean;
  texts: number;
  meanCosine: number;
  minCosine: number;
  /** Indexes of the texts with the lowest cosine, worst first (up to 5). */
  worst: { index: number; cosine: number }[];
  thresholds: { mean: number; min: number };
}

/**
 * The parity gate: a second backend's vectors may join an index only if their cosine with the
 * reference backend's (the GGUF model) is ≥ `mean` on average over the fixture set and ≥ `min`
 * for every text. Defaults 0.999 / 0.995: the Q8_0 GGUF itself is 0.9996 mean / 0.998 min
 * against the original float32 model (native/convert/README.md), so an fp16 Core ML model of the
 * same weights should clear 0.999 on average, and a wrong conversion (cosine ≪ 0.99) cannot.
 */
export function parityGate(reference: Float32Array[], candidate: Float32Array[], thresholds = { mean: 0.999, min: 0.995 }): ParityReport {
  if (reference.length !== candidate.length || reference.length === 0) {
    throw new Error(`parity gate: ${reference.length} reference vectors vs ${candidate.length} candidate vectors`);
  }
  const cos = reference.map((r, i) => cosine(r, candidate[i]));
  const mean = cos.reduce((a, b) => a + b, 0) / cos.length;
  const min = Math.min(...cos);
  const worst = cos
    .map((c, index) => ({ index, cosine: c }))
    .sort((a, b) => a.cosine - b.cosine)
    .slice(0, 5);
  return {
    passed: mean >= thresholds.mean && min >= thresholds.min && cos.every(Number.isFinite),
    texts: cos.length,
    meanCosine: mean,
    minCosine: min,
    worst,
    thresholds,
  };
}
