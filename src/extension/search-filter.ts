/**
 * The search quick pick's filter: what kind of content (code, tests, docs or all), which languages,
 * which paths. Pure (no `vscode` import), so it is unit-tested; the quick pick's buttons change it
 * and show it (src/extension/search-pick.ts), the engine applies it (`SearchFilter`).
 */
import { CODE_LANGUAGES } from '../core/languages.js';
import type { EngineMethods } from '../core/protocol.js';

/** What a search may be limited to, as the engine's `search` request takes it. */
export type SearchFilter = NonNullable<EngineMethods['search'][0]['filter']>;

/** The content choices the content button cycles through, in order. */
export const CONTENT_CHOICES = ['all', 'code', 'tests', 'docs'] as const;
export type ContentChoice = (typeof CONTENT_CHOICES)[number];

/** What the user chose; `all`, no language and no path limit nothing. */
export interface FilterState {
  content: ContentChoice;
  /** Language ids (`typescript`, `go`, …, `text`); empty: every language. */
  languages: readonly string[];
  /** A path glob (`src/**`, `*.go`, `test/`); empty: every path. */
  path: string;
}

export const NO_FILTER: FilterState = { content: 'all', languages: [], path: '' };

const LANGUAGE_NAMES: Record<string, string> = {
  typescript: 'TypeScript',
  tsx: 'TSX',
  javascript: 'JavaScript',
  python: 'Python',
  go: 'Go',
  rust: 'Rust',
  java: 'Java',
  c: 'C',
  cpp: 'C++',
  csharp: 'C#',
  ruby: 'Ruby',
  php: 'PHP',
  text: 'Text',
};

/** Every language id a chunk can have (the CLI's `--lang` values), with a name for people. */
export const LANGUAGE_CHOICES: readonly { id: string; label: string; detail?: string }[] = [
  ...CODE_LANGUAGES.map((id) => ({ id: id as string, label: LANGUAGE_NAMES[id] ?? id })),
  { id: 'text', label: 'Text', detail: 'Markdown and other files without a grammar' },
];

/** The language's name for people (`cpp` → `C++`). */
export function languageName(id: string): string {
  return LANGUAGE_NAMES[id] ?? id;
}

/** Whether the state limits anything. */
export function isFiltered(s: FilterState): boolean {
  return s.content !== 'all' || s.languages.length > 0 || s.path.trim() !== '';
}

/** The engine's filter for a state; undefined when it limits nothing. */
export function toSearchFilter(s: FilterState): SearchFilter | undefined {
  if (!isFiltered(s)) return undefined;
  const f: SearchFilter = {};
  if (s.content !== 'all') f.content = [s.content];
  if (s.languages.length) f.language = [...s.languages];
  if (s.path.trim()) f.path = s.path.trim();
  return f;
}

/** The next content choice after `c` (the content button cycles: all → code → tests → docs → all). */
export function nextContent(c: ContentChoice): ContentChoice {
  return CONTENT_CHOICES[(CONTENT_CHOICES.indexOf(c) + 1) % CONTENT_CHOICES.length]!;
}

const CONTENT_WORDS: Record<ContentChoice, string> = { all: 'all content', code: 'code only', tests: 'tests only', docs: 'docs only' };

/** The content choice in words (`code only`). */
export function contentWords(c: ContentChoice): string {
  return CONTENT_WORDS[c];
}

/** The filter in a few words for a title (`code only · Go, Python · src/**`); empty when it limits nothing. */
export function describeFilter(s: FilterState): string {
  const parts: string[] = [];
  if (s.content !== 'all') parts.push(CONTENT_WORDS[s.content]);
  if (s.languages.length) parts.push(s.languages.map(languageName).join(', '));
  if (s.path.trim()) parts.push(s.path.trim());
  return parts.join(' · ');
}

/**
 * Why a typed path glob cannot be used, or undefined when it can (empty clears the limit).
 * The engine takes `*`, `?`, `**` and `{a,b}`; absolute paths and `..` never match a relative path.
 */
export function pathGlobProblem(glob: string): string | undefined {
  const g = glob.trim().replace(/\\/g, '/');
  if (!g) return undefined;
  if (g.startsWith('/') || /^[A-Za-z]:\//.test(g)) return 'Give a path relative to the workspace folder, e.g. src/** or *.go';
  if (g.split('/').includes('..')) return 'A path inside the workspace folder: no "..", e.g. src/** or *.go';
  if (/[[\]]/.test(g)) return 'Character classes ([abc]) are not supported; use *, ?, ** or {a,b}';
  let depth = 0;
  for (const c of g) {
    if (c === '{') depth++;
    else if (c === '}' && --depth < 0) break;
  }
  if (depth !== 0) return 'Unbalanced braces: write {a,b}';
  return undefined;
}
