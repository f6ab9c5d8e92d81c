/**
 * Rows of the search quick pick and the Results view, built from passages: the kind of definition
 * (function, method, class…) as a codicon, the definition's signature line as the snippet (not its
 * doc comment), the score, and a separator where relevance drops off. Pure (no `vscode` import),
 * so it is unit-tested.
 */
import * as path from 'node:path';
import type { Passage } from './passages.js';

/** The kinds of definition a passage can start with. */
export type DefinitionKind =
  | 'function'
  | 'method'
  | 'constructor'
  | 'class'
  | 'interface'
  | 'struct'
  | 'enum'
  | 'type'
  | 'constant'
  | 'variable'
  | 'module'
  | 'section'
  | 'block'
  | 'file';

/** Codicon per kind (https://microsoft.github.io/vscode-codicons/). */
export const KIND_ICONS: Record<DefinitionKind, string> = {
  function: 'symbol-function',
  method: 'symbol-method',
  constructor: 'symbol-method',
  class: 'symbol-class',
  interface: 'symbol-interface',
  struct: 'symbol-structure',
  enum: 'symbol-enum',
  type: 'symbol-type-parameter',
  constant: 'symbol-constant',
  variable: 'symbol-variable',
  module: 'symbol-namespace',
  section: 'markdown',
  block: 'symbol-misc',
  file: 'file-code',
};

/**
 * Rows scoring under this fraction of the best score go below a "less relevant" separator.
 * Provisional: chosen by looking at a few queries, not measured; to be decided on the tuning half
 * of bench:quality (never on the held-out sets).
 */
export const RELATIVE_CUTOFF = 0.6;

/** A line that only documents or decorates: comments, doc comments, decorators, attributes. */
const NOT_CODE = /^(\/\/|\/\*|\*|#(?![[!]|\s*(define|include))|--|;|"""|'''|@\w|#\[|<!--|%)/;

/** Definition patterns, tried in order on a trimmed line; the first that matches gives the kind. */
const PATTERNS: [RegExp, DefinitionKind][] = [
  [/^func\s*\(/, 'method'], // Go method with a receiver
  [
    /^(export\s+)?(default\s+)?(abstract\s+)?(public\s+|private\s+|protected\s+|internal\s+)?(static\s+)?(final\s+|sealed\s+|data\s+|open\s+)*class\b/,
    'class',
  ],
  [/^(export\s+)?(pub(\(\w+\))?\s+)?(public\s+)?(interface|trait|protocol)\b/, 'interface'],
  [/^type\s+\w+(\[[^\]]*\])?\s+interface\b/, 'interface'],
  [/^type\s+\w+(\[[^\]]*\])?\s+struct\b/, 'struct'],
  [/^(pub(\(\w+\))?\s+)?(typedef\s+)?struct\b/, 'struct'],
  [/^(export\s+)?(pub(\(\w+\))?\s+)?(public\s+)?(const\s+)?enum\b/, 'enum'],
  [/^(export\s+)?(declare\s+)?(namespace|module|mod|package)\s+[\w.]+/, 'module'],
  [/^(export\s+)?(pub(\(\w+\))?\s+)?type\s+\w+/, 'type'],
  [/^constructor\s*\(|^(public\s+|private\s+)?__init__|^def\s+__init__\b/, 'constructor'],
  [
    /^(export\s+)?(default\s+)?(async\s+)?function\b|^func\s+\w|^(pub(\(\w+\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?(extern\s+"C"\s+)?fn\s+\w|^(async\s+)?def\s+\w|^fun\s+\w|^sub\s+\w/,
    'function',
  ],
  [/^(export\s+)?(const|let|var)\s+\w+\s*(:\s*[^=]+)?=\s*(async\s+)?(\([^)]*\)|\w+)\s*(:\s*[^=]+)?=>/, 'function'],
  [/^(export\s+)?const\s+[A-Z0-9_]+\s*[:=]|^(pub\s+)?(const|static)\s+[A-Z0-9_]+\s*:/, 'constant'],
  [/^(export\s+)?(const|let|var)\s+\w+/, 'variable'],
  // Java, C#, C++, TS class members: `public static int parse(String s) {`, `async load(): Promise<void> {`
  [
    /^((public|private|protected|internal|static|final|abstract|override|virtual|async|synchronized|readonly|inline|extern|unsafe)\s+)*[\w<>[\],.?*&:\s]*?\b\w+\s*(<[^>]*>)?\s*\([^;]*\)\s*(:\s*[^{;]+)?\s*(throws\s+[\w.,\s]+)?\s*(\{|=>|$)/,
    'method',
  ],
];

/** The definition a passage starts with: its signature line and its kind. */
export function definitionOf(p: Pick<Passage, 'text' | 'symbol' | 'language'>): { line: string; kind: DefinitionKind } {
  const lines = p.text.split(/\r?\n/);
  if (p.language === 'markdown') {
    const heading = lines.map((l) => l.trim()).find((l) => /^#{1,6}\s/.test(l));
    return { line: heading ?? firstCodeLine(lines), kind: heading ? 'section' : 'file' };
  }
  const name = p.symbol?.split(/[.:#]/).pop();
  let inBlockComment = false;
  let fallback: string | undefined;
  for (const raw of lines) {
    const line = raw.trim();
    if (inBlockComment) {
      if (line.includes('*/')) inBlockComment = false;
      continue;
    }
    if (line.startsWith('/*') && !line.includes('*/')) {
      inBlockComment = true;
      continue;
    }
    if (!line || line === '…' || NOT_CODE.test(line)) continue;
    fallback ??= line;
    // The line naming the symbol is its definition; a chunk may start with imports or a comment.
    if (name && !new RegExp(`\\b${escapeRe(name)}\\b`).test(line)) continue;
    const kind = kindOf(line, p.symbol, raw);
    if (kind) return { line, kind };
    if (name) return { line, kind: p.symbol ? 'block' : 'file' };
  }
  const line = fallback ?? firstCodeLine(lines);
  return { line, kind: (p.symbol && kindOf(line, p.symbol, line)) || (p.symbol ? 'block' : 'file') };
}

function kindOf(line: string, symbol: string | null, raw: string): DefinitionKind | undefined {
  for (const [re, kind] of PATTERNS) {
    if (!re.test(line)) continue;
    // A function inside a class (Python `def` indented, a qualified symbol `Class.method`) is a method.
    if (kind === 'function' && (symbol?.includes('.') || /^\s+def\s/.test(raw))) return 'method';
    if (kind === 'method' && /^(if|for|while|switch|return|catch|else|do|try)\b/.test(line)) continue;
    return kind;
  }
  return undefined;
}

function firstCodeLine(lines: string[]): string {
  return lines.map((l) => l.trim()).find((l) => l && l !== '…') ?? '';
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** One row: a result, or the separator above the less relevant ones. */
export type Row =
  | { type: 'result'; icon: string; kind: DefinitionKind; label: string; description: string; detail: string; passage: Passage }
  | { type: 'separator'; label: string };

/** Longest snippet shown under a row. */
const MAX_DETAIL = 160;

/** Rows for passages (best first): kind icon, name, `path:line · score`, signature line; a separator at the cut-off. */
export function buildRows(passages: Passage[], opts: { multiRoot?: boolean; cutoff?: number } = {}): Row[] {
  const cutoff = opts.cutoff ?? RELATIVE_CUTOFF;
  const best = passages[0]?.score ?? 0;
  const rows: Row[] = [];
  let separated = false;
  passages.forEach((p, i) => {
    if (!separated && i > 0 && best > 0 && p.score < best * cutoff) {
      rows.push({ type: 'separator', label: 'less relevant' });
      separated = true;
    }
    const def = definitionOf(p);
    const detail = def.line.length > MAX_DETAIL ? def.line.slice(0, MAX_DETAIL - 1) + '…' : def.line;
    rows.push({
      type: 'result',
      icon: KIND_ICONS[def.kind],
      kind: def.kind,
      label: p.symbol ?? path.posix.basename(p.path),
      description: `${opts.multiRoot ? `${p.rootName}/` : ''}${p.path}:${p.startLine} · ${p.score.toFixed(2)}`,
      detail,
      passage: p,
    });
  });
  return rows;
}
