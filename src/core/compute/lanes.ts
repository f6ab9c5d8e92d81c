/**
 * How many embedding lanes (llama.cpp contexts, ONNX Runtime worker sessions) run at once and with
 * how many threads each. Pure.
 *
 * Measured on a loaded 2-core machine (issue 17; test/bench/results/): lanes of one thread each,
 * embedding different chunks, never wait on each other; a lane of several threads meets a barrier
 * at every matrix product, and when the OS deschedules one of its threads the others spin:
 * llama.cpp 1 context × 2 threads ran at 0.12× of 2 contexts × 1 thread. So a user's contexts ×
 * threads is read as a core budget and spent on single-thread lanes first (the guard-rail);
 * threads per lane only grow once the lane cap is reached (many cores).
 */

export interface LanePlan {
  /** Lanes to create (the most that may run at once). */
  lanes: number;
  threadsPerLane: number;
  /** Why, in a few words (for the log). */
  reason: string;
}

/** Most lanes worth creating: each holds a copy of the model's runtime state. */
export const MAX_LANES = 4;

/**
 * Lanes and threads from the cores this process may use and what the user asked for (contexts,
 * threads per context). The budget never exceeds the cores: oversubscription is what collapses.
 */
export function planLanes(opts: { cores: number; contexts?: number; threadsPerContext?: number; maxLanes?: number }): LanePlan {
  const cores = Math.max(1, Math.floor(opts.cores));
  const maxLanes = Math.max(1, opts.maxLanes ?? MAX_LANES);
  const askedLanes = opts.contexts !== undefined ? Math.max(1, Math.floor(opts.contexts)) : undefined;
  const askedThreads = opts.threadsPerContext !== undefined ? Math.max(1, Math.floor(opts.threadsPerContext)) : undefined;
  const asked = askedLanes !== undefined || askedThreads !== undefined;
  const budget = Math.min(cores, (askedLanes ?? cores) * (askedThreads ?? 1));
  const lanes = Math.min(maxLanes, budget);
  const threadsPerLane = Math.max(1, Math.floor(budget / lanes));
  const wanted = `${askedLanes ?? 'auto'} × ${askedThreads ?? 1}`;
  const reason = !asked
    ? `${lanes} lane(s) × ${threadsPerLane} thread(s) for ${cores} core(s)`
    : lanes === askedLanes && threadsPerLane === (askedThreads ?? 1)
      ? `${lanes} × ${threadsPerLane} as set`
      : `${wanted} asked; ${lanes} × ${threadsPerLane} used (a budget of ${budget} core(s) of ${cores}, single-thread lanes first)`;
  return { lanes, threadsPerLane, reason };
}

/**
 * Lanes to run for the next unit of work. At full speed all of them: single-thread lanes keep
 * their share of a busy CPU without collapsing. While backing off (the pacer's mode), only as many
 * as there are cores the other processes leave free, at least one: Loupe then takes what is idle.
 */
export function activeLanes(plan: LanePlan, opts: { cores: number; mode: string; cpuOthers: number | null }): number {
  if (opts.mode === 'full' || opts.cpuOthers === null) return plan.lanes;
  const free = Math.floor((opts.cores * (1 - Math.min(1, Math.max(0, opts.cpuOthers)))) / plan.threadsPerLane + 0.25);
  return Math.max(1, Math.min(plan.lanes, free));
}
