/**
 * What the status bar shows, computed from the engines' states: a pure function, so the
 * rendering is tested without VS Code. The status bar class only copies these fields.
 */
import type { EngineState } from '../core/types.js';
import { describeModel, modelTier, QUALITY_MODEL_ID } from '../core/models/tiers.js';
import { describeProgress, type ProgressEstimate } from '../core/progress-meter.js';

/** What the extension knows about one workspace folder's engine. */
export interface RootView {
  name: string;
  /** Undefined while the engine process starts. */
  state: EngineState | undefined;
  /** `CPU`, `GPU: Metal`, `ANE`… once the model is loaded. */
  computeUnit?: string;
  /** The embedding model's name once loaded. */
  modelName?: string;
  /** The scheduler's one-line explanation (`backing off: claude active, CPU 85% · embedding on CPU…`). */
  computeLine?: string;
  /** The running index job's progress by chunks (throughput, time left). */
  progress?: ProgressEstimate;
}

/** Why nothing runs, when nothing does. */
export type Blocked = 'untrusted' | 'noFolder' | undefined;

export interface StatusView {
  text: string;
  /** Markdown tooltip; `command:` links are the actions. */
  tooltip: string;
  /** Drives the item's background colour. */
  severity: 'normal' | 'warning' | 'error';
  /** Command run on click. */
  command: string;
}

const n = (x: number) => x.toLocaleString('en-US');

/** Merges the folders' states: an error wins, then a pause, then a back-off, then work in progress (summed), then ready. */
export function combineStates(states: (EngineState | undefined)[]): EngineState | undefined {
  const known = states.filter((s): s is EngineState => !!s);
  if (!known.length) return undefined;
  const of = <K extends EngineState['kind']>(k: K) => known.filter((s): s is Extract<EngineState, { kind: K }> => s.kind === k);
  const error = of('error');
  if (error.length) return error[0];
  const paused = of('paused');
  if (paused.length) return paused[0];
  const backing = of('backingOff');
  if (backing.length) return backing[0];
  const indexing = of('indexing');
  if (indexing.length)
    return { kind: 'indexing', done: indexing.reduce((a, s) => a + s.done, 0), total: indexing.reduce((a, s) => a + s.total, 0) };
  if (of('scanning').length) return { kind: 'scanning' };
  const ready = of('ready');
  if (ready.length)
    return { kind: 'ready', chunks: ready.reduce((a, s) => a + s.chunks, 0), files: ready.reduce((a, s) => a + s.files, 0) };
  return { kind: 'idle' };
}

/** The compute unit(s) in use, e.g. `GPU: Metal` or `CPU`; several when folders differ. */
export function computeLabel(roots: RootView[]): string {
  const units = [...new Set(roots.map((r) => r.computeUnit).filter((u): u is string => !!u))];
  return units.join(', ');
}

const ACTIONS_RUNNING = '[$(debug-pause) Pause](command:loupe.pause) · [$(refresh) Rebuild Index](command:loupe.reindex)';
const ACTIONS_PAUSED = '[$(debug-start) Resume](command:loupe.resume) · [$(refresh) Rebuild Index](command:loupe.reindex)';
const ACTIONS_COMMON =
  '[$(info) Index status](command:loupe.showStatus) · [$(output) Show logs](command:loupe.showLogs) · [$(symbol-misc) Choose model](command:loupe.chooseModel)';

/** Renders the status bar item for the current state of every folder. */
export function renderStatus(roots: RootView[], blocked: Blocked): StatusView {
  if (blocked === 'untrusted') {
    return {
      text: '$(shield) Loupe: restricted',
      tooltip:
        'Loupe runs nothing in Restricted Mode: no engine process, no indexing, no model.\n\n[$(workspace-trusted) Manage workspace trust](command:workbench.trust.manage)',
      severity: 'warning',
      command: 'workbench.trust.manage',
    };
  }
  if (blocked === 'noFolder') {
    return { text: '$(search) Loupe', tooltip: 'Open a folder to index it.', severity: 'normal', command: 'loupe.showStatus' };
  }
  const state = combineStates(roots.map((r) => r.state));
  const unit = computeLabel(roots);
  const unitSuffix = unit ? ` · ${unit}` : '';
  const perRoot = roots.length > 1 ? '\n\n' + roots.map((r) => `- ${r.name}: ${describeState(r.state)}`).join('\n') : '';
  const lines = [...new Set(roots.map((r) => r.computeLine).filter((l): l is string => !!l))];
  const computeText = lines.length ? lines.join('\n\n') : unit;
  const names = [...new Set(roots.map((r) => r.modelName).filter((m): m is string => !!m))];
  const modelText = names.map(describeModel).join(', ');
  // The bundled model running on a GPU: the quality tier costs little there (README, "Models").
  const onGpu = roots.some((r) => r.computeUnit?.startsWith('GPU') && r.modelName && modelTier(r.modelName) === 'default');
  const advice = onGpu
    ? `\n\nA GPU is available: the quality tier (EmbeddingGemma-300M, \`loupe models install ${QUALITY_MODEL_ID}\`) finds more and is cheap there. [$(symbol-misc) Choose model](command:loupe.chooseModel)`
    : '';
  const tip = (head: string, actions: string) =>
    `**Loupe** — ${head}${modelText ? `\n\nModel: ${modelText}` : ''}${computeText ? `\n\nCompute: ${computeText}` : ''}${advice}${perRoot}\n\n${actions}\n\n${ACTIONS_COMMON}`;
  if (!state)
    return {
      text: '$(sync~spin) Loupe: starting',
      tooltip: tip('starting the engine', ACTIONS_RUNNING),
      severity: 'normal',
      command: 'loupe.showStatus',
    };
  switch (state.kind) {
    case 'idle':
      return {
        text: `$(search) Loupe: idle${unitSuffix}`,
        tooltip: tip('not indexed yet', '[$(refresh) Index now](command:loupe.reindex)'),
        severity: 'normal',
        command: 'loupe.showStatus',
      };
    case 'scanning':
      return {
        text: `$(sync~spin) Loupe: scanning${unitSuffix}`,
        tooltip: tip('listing files', ACTIONS_RUNNING),
        severity: 'normal',
        command: 'loupe.showStatus',
      };
    case 'indexing': {
      const pct = state.total ? Math.floor((100 * state.done) / state.total) : 0;
      // By chunks with throughput and time left when the job reports them; by files read otherwise.
      const progress = roots.map((r) => r.progress).filter((p): p is ProgressEstimate => !!p);
      const byChunks =
        progress.length === 1
          ? describeProgress(progress[0]!)
          : progress.length > 1
            ? roots
                .filter((r) => r.progress)
                .map((r) => `${r.name}: ${describeProgress(r.progress!)}`)
                .join('; ')
            : '';
      const shown = progress.length === 1 ? `${progress[0]!.percent}%` : `${n(state.done)}/${n(state.total)}`;
      return {
        text: `$(sync~spin) Loupe: indexing ${shown}${unitSuffix}`,
        tooltip: tip(
          `indexing: ${byChunks ? `${byChunks}; ` : ''}${n(state.done)} of ${n(state.total)} files read (${pct}%); search covers what is done`,
          ACTIONS_RUNNING,
        ),
        severity: 'normal',
        command: 'loupe.showStatus',
      };
    }
    case 'ready':
      return {
        text: `$(check) Loupe: ${n(state.chunks)} chunks${unitSuffix}`,
        tooltip: tip(`ready: ${n(state.chunks)} chunks in ${n(state.files)} files`, ACTIONS_RUNNING),
        severity: 'normal',
        command: 'loupe.search',
      };
    case 'paused':
      return {
        text: `$(debug-pause) Loupe: paused${unitSuffix}`,
        tooltip: tip(`paused${state.reason ? ` (${state.reason})` : ''}`, ACTIONS_PAUSED),
        severity: 'warning',
        command: 'loupe.resume',
      };
    case 'backingOff':
      return {
        text: `$(dashboard) Loupe: backing off${unitSuffix}`,
        tooltip: tip(`backing off: ${state.reason}`, ACTIONS_RUNNING),
        severity: 'warning',
        command: 'loupe.showStatus',
      };
    case 'error':
      return {
        text: `$(error) Loupe: error`,
        tooltip: tip(`error: ${state.message}`, '[$(refresh) Rebuild Index](command:loupe.reindex)'),
        severity: 'error',
        command: 'loupe.showLogs',
      };
  }
}

/** One line for a state (tooltips, the index status report). */
export function describeState(s: EngineState | undefined): string {
  if (!s) return 'starting';
  switch (s.kind) {
    case 'idle':
      return 'not indexed yet';
    case 'scanning':
      return 'listing files';
    case 'indexing':
      return `indexing ${n(s.done)}/${n(s.total)} files`;
    case 'ready':
      return `ready, ${n(s.chunks)} chunks in ${n(s.files)} files`;
    case 'paused':
      return `paused${s.reason ? ` (${s.reason})` : ''}`;
    case 'backingOff':
      return `backing off (${s.reason})`;
    case 'error':
      return `error: ${s.message}`;
  }
}

/** How much of the workspace a search covers right now, for the quick pick's title; empty when all. */
export function coverageNote(state: EngineState | undefined): string {
  if (!state) return 'engine starting';
  if (state.kind === 'indexing') return `indexing: ${n(state.done)} of ${n(state.total)} files done — results cover the indexed part`;
  if (state.kind === 'scanning') return 'scanning for changes — results may be incomplete';
  if (state.kind === 'paused' || state.kind === 'backingOff') return `${describeState(state)} — results may be incomplete`;
  return '';
}
