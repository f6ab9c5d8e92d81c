/**
 * The context keys the extension sets for package.json's `when` and `enablement` clauses (Pause
 * only while indexing, the Results view's welcome content by state, …). Pure: computed from the
 * engines' states, so the table is tested without VS Code.
 */
import type { EngineState } from '../core/types.js';
import { combineStates, type Blocked } from './status-view.js';

/** What the Results view's welcome content and the commands' clauses switch on. */
export const LOUPE_STATES = ['blocked', 'starting', 'noIndex', 'indexing', 'paused', 'ready', 'error'] as const;
export type LoupeState = (typeof LOUPE_STATES)[number];

/** Every key the extension sets, with its value type (the contributions test checks clauses against these names). */
export interface ContextKeys {
  /** One word for the whole workspace (LOUPE_STATES). */
  'loupe.state': LoupeState;
  /** Scanning, indexing or backing off in any folder. */
  'loupe.indexing': boolean;
  /** Embedding work is paused in some folder. */
  'loupe.paused': boolean;
  /** Some folder's index holds chunks (search and Find Similar Code have something to search). */
  'loupe.hasIndex': boolean;
  /** An answer model may answer as configured (the Ask view's welcome text differs without one). */
  'loupe.answerModel': boolean;
  /** The Results view holds results. */
  'loupe.hasResults': boolean;
}

export const CONTEXT_KEY_NAMES: readonly (keyof ContextKeys)[] = [
  'loupe.state',
  'loupe.indexing',
  'loupe.paused',
  'loupe.hasIndex',
  'loupe.answerModel',
  'loupe.hasResults',
];

/** What the keys are computed from. */
export interface ContextFacts {
  blocked: Blocked;
  /** Each folder's engine state (undefined while its engine starts). */
  states: (EngineState | undefined)[];
  /** Chunks in each folder's index as last reported (0 when unknown). */
  chunks: number[];
  answerModel: boolean;
  hasResults: boolean;
}

/** The keys for a moment's facts. */
export function contextKeys(f: ContextFacts): ContextKeys {
  const known = f.states.filter((s): s is EngineState => !!s);
  const indexing = known.some((s) => s.kind === 'indexing' || s.kind === 'scanning' || s.kind === 'backingOff');
  const paused = known.some((s) => s.kind === 'paused');
  const hasIndex = f.chunks.some((c) => c > 0) || known.some((s) => s.kind === 'ready' && s.chunks > 0);
  let state: LoupeState;
  const combined = combineStates(f.states);
  if (f.blocked) state = 'blocked';
  else if (!combined) state = 'starting';
  else if (combined.kind === 'error') state = 'error';
  else if (paused) state = 'paused';
  else if (indexing) state = 'indexing';
  else if (hasIndex) state = 'ready';
  else state = 'noIndex';
  return {
    'loupe.state': state,
    'loupe.indexing': indexing,
    'loupe.paused': paused,
    'loupe.hasIndex': hasIndex,
    'loupe.answerModel': f.answerModel,
    'loupe.hasResults': f.hasResults,
  };
}
