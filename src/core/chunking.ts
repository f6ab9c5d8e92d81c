/**
 * Pure chunking logic: turns a file's outline of definitions (found by a parser adapter) or
 * plain text into chunks. No parser here — the tree-sitter adapter hands in `OutlineDef`s and
 * a cut-cost function; everything else (gaps between definitions, splitting large bodies,
 * merging tiny siblings, line windows, token budgets) is decided here and unit-testable.
 *
 * Guarantees of `chunkOutline` and `chunkLineWindows`:
 * - every non-blank line of the file lies in at least one chunk;
 * - chunks are ordered by line and never overlap, except line windows of plain text, which
 *   overlap by at most `overlapLines` where a window had to be cut inside a paragraph;
 * - `text` is exactly the lines startLine..endLine joined by `\n` (a trailing `\r` is dropped
 *   from each line), with one exception: a chunk of a single line longer than `maxChunkChars`
 *   (minified code) carries only that line's first `maxChunkChars` characters.
 *
 * Symbols: a definition's chunk carries its path (`Class.method`); pieces of a split body keep
 * it. When tiny siblings are merged, the merged chunk takes the longest common prefix of their
 * paths — the enclosing scope: `Foo.a` + `Foo.b` → `Foo`, top-level `a` + `b` → null.
 */
import type { Chunk } from './types.js';

/** Tunables of the chunker. */
export interface ChunkingOptions {
  /** A chunk spans at most this many lines (larger bodies are split). */
  maxChunkLines: number;
  /** A chunk holds at most this many characters (larger bodies are split). */
  maxChunkChars: number;
  /** Chunks shorter than this (in lines) are merged with adjacent tiny siblings. */
  minChunkLines: number;
  /** A class or function with nested definitions stays one chunk up to this many lines. */
  wholeContainerLines: number;
  /** Target size of a plain-text line window. */
  windowLines: number;
  /** Lines repeated between two plain-text windows cut inside a paragraph. */
  overlapLines: number;
  /** Average characters per line above which a file counts as minified (line windows only). */
  minifiedLineChars: number;
}

/** Defaults: ~60-line / 2400-character chunks, 40-line text windows. */
/**
 * Revision of the chunking rules (this module's outline → pieces → chunks, naming, merging, and
 * the outline rules of the chunker adapters). Bump it when a change alters the chunks of
 * unchanged files, so existing indexes chunk them again.
 * 2: merged small definitions are named by their names below the common scope; JS/TS
 *    `obj.name = function` definitions; a doc block one blank line above a definition joins it.
 */
export const CHUNKING_REVISION = 2;

export const DEFAULT_CHUNKING_OPTIONS: Readonly<ChunkingOptions> = Object.freeze({
  maxChunkLines: 60,
  maxChunkChars: 2400,
  minChunkLines: 5,
  wholeContainerLines: 15,
  windowLines: 40,
  overlapLines: 2,
  minifiedLineChars: 500,
});

/** Fills in defaults and rejects nonsensical values with a message that names the option. */
export function resolveChunkingOptions(partial: Partial<ChunkingOptions> = {}): ChunkingOptions {
  const o: ChunkingOptions = { ...DEFAULT_CHUNKING_OPTIONS };
  for (const key of Object.keys(DEFAULT_CHUNKING_OPTIONS) as (keyof ChunkingOptions)[]) {
    const v = partial[key];
    if (v === undefined) continue;
    const min = key === 'overlapLines' || key === 'minChunkLines' || key === 'wholeContainerLines' ? 0 : 1;
    if (!Number.isInteger(v) || v < min) {
      throw new RangeError(`Chunking option ${key} must be an integer >= ${min}, got ${String(v)}.`);
    }
    o[key] = v;
  }
  if (o.minChunkLines > o.maxChunkLines) {
    throw new RangeError(`minChunkLines (${o.minChunkLines}) must not exceed maxChunkLines (${o.maxChunkLines}).`);
  }
  if (o.overlapLines >= o.windowLines) {
    throw new RangeError(`overlapLines (${o.overlapLines}) must be smaller than windowLines (${o.windowLines}).`);
  }
  return o;
}

/** A named definition found by a parser: lines are 1-based inclusive, children nest inside. */
export interface OutlineDef {
  /** Full symbol path, e.g. `['Foo', 'bar']` for method `bar` of class `Foo`. */
  path: string[];
  startLine: number;
  endLine: number;
  /** Nested definitions (methods of a class, inner functions), in any order. */
  children: OutlineDef[];
}

/**
 * Cost of starting a new chunk at a 1-based line: lower is a better boundary (e.g. the syntax
 * depth of the statement that starts there); `Infinity` when the line continues a construct.
 */
export type CutCost = (line: number) => number;

/** Splits text into lines as tree-sitter counts rows (on `\n`), dropping a trailing `\r`. */
export function splitLines(text: string): string[] {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (l.endsWith('\r')) lines[i] = l.slice(0, -1);
  }
  return lines;
}

/** Whether text looks minified: average length of non-empty lines above the threshold. */
export function isMinified(text: string, minifiedLineChars = DEFAULT_CHUNKING_OPTIONS.minifiedLineChars): boolean {
  if (text.length <= minifiedLineChars) return false;
  let nonEmpty = 0;
  let start = 0;
  while (start <= text.length) {
    let nl = text.indexOf('\n', start);
    if (nl < 0) nl = text.length;
    if (nl > start) nonEmpty++;
    start = nl + 1;
  }
  return text.length / Math.max(1, nonEmpty) > minifiedLineChars;
}

/** A chunk in the making: 1-based inclusive lines and a symbol path. */
interface Piece {
  start: number;
  end: number;
  path: string[];
  /** Split windows and expanded containers are not merged with tiny neighbours. */
  sealed: boolean;
  /** A definition (function, class, …) rather than code between definitions. */
  def?: boolean;
}

/** Per-file state shared by the helpers below. */
class FileLines {
  readonly lines: string[];
  /** prefix[i] = characters (incl. newline) of lines 1..i. */
  private readonly prefix: Float64Array;

  constructor(text: string) {
    this.lines = splitLines(text);
    this.prefix = new Float64Array(this.lines.length + 1);
    for (let i = 0; i < this.lines.length; i++) this.prefix[i + 1] = this.prefix[i] + this.lines[i].length + 1;
  }

  get count(): number {
    return this.lines.length;
  }

  line(n: number): string {
    return this.lines[n - 1] ?? '';
  }

  blank(n: number): boolean {
    return this.line(n).trim() === '';
  }

  chars(start: number, end: number): number {
    return this.prefix[end] - this.prefix[start - 1];
  }

  /** Narrows a range to its first and last non-blank lines; null when all blank. */
  trim(start: number, end: number): [number, number] | null {
    while (start <= end && this.blank(start)) start++;
    while (end >= start && this.blank(end)) end--;
    return start <= end ? [start, end] : null;
  }
}

function fits(f: FileLines, o: ChunkingOptions, start: number, end: number): boolean {
  return end - start + 1 <= o.maxChunkLines && f.chars(start, end) <= o.maxChunkChars;
}

function commonPrefix(a: string[], b: string[]): string[] {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i === a.length ? a : a.slice(0, i);
}

/**
 * Cuts [start, end] into windows that each fit the line and character budgets, choosing among
 * the later half of each window's possible cut points the one with the lowest cost.
 */
function splitRange(
  f: FileLines,
  start: number,
  end: number,
  maxLines: number,
  maxChars: number,
  cost: CutCost,
  overlap: number,
): [number, number][] {
  const out: [number, number][] = [];
  let s = start;
  while (s <= end) {
    while (s <= end && f.blank(s)) s++;
    if (s > end) break;
    let e = s;
    while (e + 1 <= end && e + 1 - s + 1 <= maxLines && f.chars(s, e + 1) <= maxChars) e++;
    if (e === end) {
      out.push([s, trimEnd(f, s, e)]);
      break;
    }
    const lo = s + Math.floor((e - s) / 2);
    let best = e;
    let bestCost = Infinity;
    for (let c = e; c >= lo; c--) {
      const k = cutCostAfter(f, c, end, cost);
      if (k < bestCost) {
        bestCost = k;
        best = c;
      }
    }
    out.push([s, trimEnd(f, s, best)]);
    const atParagraph = f.blank(best) || f.blank(best + 1);
    const back = atParagraph ? 0 : Math.min(overlap, Math.floor((best - s) / 2));
    s = Math.max(best + 1 - back, s + 1);
  }
  return out;
}

function trimEnd(f: FileLines, s: number, e: number): number {
  while (e > s && f.blank(e)) e--;
  return e;
}

/** Cost of ending a window after line c: the next non-blank line's cost, less if blanks separate them. */
function cutCostAfter(f: FileLines, c: number, end: number, cost: CutCost): number {
  let n = c + 1;
  while (n <= end && f.blank(n)) n++;
  if (n > end) return -1;
  const separated = n > c + 1 || f.blank(c);
  return cost(n) - (separated ? 0.5 : 0);
}

/** Cut cost for plain text: prefer unindented lines and paragraph starts. */
function textCost(f: FileLines): CutCost {
  return (line) => (/^\s/.test(f.line(line)) ? 1 : 0);
}

const CLOSING_ONLY = /^\s*(?:[)}\]]+\s*[;,)]*|end|<\/\w+>|\?>)\s*(?:(?:\/\/|#).*|\/\*.*\*\/)?$/;

/** Whether every non-blank line of a range only closes something (`}`, `};`, `end`). */
function closingOnly(f: FileLines, start: number, end: number): boolean {
  for (let i = start; i <= end; i++) {
    if (!f.blank(i) && !CLOSING_ONLY.test(f.line(i))) return false;
  }
  return true;
}

/** Clamps definitions to [lo, hi], sorts them, and drops those left empty by overlaps on shared lines. */
function normalizeDefs(defs: OutlineDef[], lo: number, hi: number): OutlineDef[] {
  const sorted = [...defs].sort((a, b) => a.startLine - b.startLine || b.endLine - a.endLine);
  const out: OutlineDef[] = [];
  let prevEnd = lo - 1;
  for (const d of sorted) {
    const s = Math.max(d.startLine, prevEnd + 1, lo);
    const e = Math.min(d.endLine, hi);
    if (s > e) continue;
    out.push({ path: d.path, startLine: s, endLine: e, children: normalizeDefs(d.children, s, e) });
    prevEnd = e;
  }
  return out;
}

/** Builds the chunks of one scope (the file, or a class/function body with nested definitions). */
class OutlineChunker {
  constructor(
    private readonly f: FileLines,
    private readonly o: ChunkingOptions,
    private readonly cost: CutCost,
  ) {}

  scope(start: number, end: number, defs: OutlineDef[], path: string[]): Piece[] {
    const seq: Piece[] = [];
    let cursor = start;
    for (const d of defs) {
      if (d.startLine > cursor) this.gap(cursor, d.startLine - 1, path, seq);
      this.def(d, seq);
      cursor = d.endLine + 1;
    }
    if (cursor <= end) this.gap(cursor, end, path, seq);
    return this.mergeTiny(this.absorbClosers(seq));
  }

  private def(d: OutlineDef, seq: Piece[]): void {
    const { f, o } = this;
    const whole = fits(f, o, d.startLine, d.endLine);
    if (d.children.length === 0 || (whole && d.endLine - d.startLine + 1 <= o.wholeContainerLines)) {
      // A parser's range may end on blank lines (or be clamped onto them).
      const t = f.trim(d.startLine, d.endLine);
      if (t) this.span(t[0], t[1], d.path, seq, true);
      return;
    }
    for (const p of this.scope(d.startLine, d.endLine, d.children, d.path)) seq.push({ ...p, sealed: true });
  }

  private gap(start: number, end: number, path: string[], seq: Piece[]): void {
    const t = this.f.trim(start, end);
    if (t) this.span(t[0], t[1], path, seq);
  }

  /** One piece if it fits the budget, else windows cut at the cheapest boundaries (no overlap). */
  private span(start: number, end: number, path: string[], seq: Piece[], def = false): void {
    const { f, o } = this;
    if (fits(f, o, start, end)) {
      seq.push({ start, end, path, sealed: false, def });
      return;
    }
    for (const [s, e] of splitRange(f, start, end, o.maxChunkLines, o.maxChunkChars, this.cost, 0)) {
      seq.push({ start: s, end: e, path, sealed: true, def });
    }
  }

  /** A gap that only closes the scope (`}`, `end`) joins the piece before it. */
  private absorbClosers(seq: Piece[]): Piece[] {
    const out: Piece[] = [];
    for (const p of seq) {
      const prev = out[out.length - 1];
      if (prev && closingOnly(this.f, p.start, p.end) && fits(this.f, this.o, prev.start, p.end)) {
        prev.end = p.end;
        continue;
      }
      out.push(p);
    }
    return out;
  }

  /** Greedily merges runs of adjacent tiny, unsealed pieces while the result fits the budget. */
  private mergeTiny(seq: Piece[]): Piece[] {
    return mergeTinyPieces(this.f, this.o, seq);
  }
}

function mergeTinyPieces(f: FileLines, o: ChunkingOptions, seq: Piece[]): Piece[] {
  const tiny = (p: Piece) => !p.sealed && p.end - p.start + 1 < o.minChunkLines;
  const out: Piece[] = [];
  let acc: (Piece & { defPaths: string[][] }) | null = null;
  for (const p of seq) {
    if (acc && tiny(p) && fits(f, o, acc.start, p.end)) {
      acc.end = p.end;
      if (p.def) acc.defPaths.push(p.path);
      // Code between definitions (imports, a `package` line) does not dilute the name of the
      // definitions it is merged with: the merged chunk is named by its definitions' common scope.
      acc.path = acc.defPaths.length ? mergedName(acc.defPaths) : commonPrefix(acc.path, p.path);
      acc.def = acc.defPaths.length > 0;
      continue;
    }
    if (acc) out.push(stripDefPaths(acc));
    acc = null;
    if (tiny(p)) acc = { ...p, defPaths: p.def ? [p.path] : [] };
    else out.push(p);
  }
  if (acc) out.push(stripDefPaths(acc));
  // A tiny run of top-level non-definition code (a file's preamble) joins the definition after it when
  // both fit: alone, a one-line `package sort` chunk is all header and matches too eagerly.
  const joined: Piece[] = [];
  for (let i = 0; i < out.length; i++) {
    const p = out[i];
    const next = out[i + 1];
    if (!p.def && p.path.length === 0 && tiny(p) && next && next.def && !next.sealed && fits(f, o, p.start, next.end)) {
      out[i + 1] = { ...next, start: p.start };
      continue;
    }
    joined.push(p);
  }
  return joined;
}

/** Most definitions a merged chunk lists by name; more are named by their common scope alone. */
const MAX_MERGED_NAMES = 4;

/**
 * The name of a chunk merged from several small definitions: their common scope followed by the
 * names below it (`Router.get, post`) when there are few, else the common scope alone.
 */
function mergedName(defPaths: string[][]): string[] {
  const prefix = defPaths.reduce(commonPrefix);
  const below = [...new Set(defPaths.map((d) => d[prefix.length]).filter((n): n is string => n !== undefined))];
  if (below.length < 2 || below.length > MAX_MERGED_NAMES) return prefix;
  return [...prefix, below.join(', ')];
}

function stripDefPaths(p: Piece & { defPaths: string[][] }): Piece {
  const { defPaths: _d, ...rest } = p;
  return rest;
}

/**
 * Longest symbol a chunk carries: deeper paths (450 nested classes, a 20,000-character heading)
 * are shortened from the middle, keeping the outermost and innermost names. The symbol is stored
 * with every chunk of the index, so it must stay small.
 */
export const MAX_SYMBOL_CHARS = 256;

function toChunk(f: FileLines, o: ChunkingOptions, relPath: string, language: string, p: Piece, sep: string): Chunk {
  let text = f.lines.slice(p.start - 1, p.end).join('\n');
  if (p.start === p.end && text.length > o.maxChunkChars) text = truncateChars(text, o.maxChunkChars);
  return {
    path: relPath,
    startLine: p.start,
    endLine: p.end,
    symbol: p.path.length ? shortenMiddle(p.path.join(sep), MAX_SYMBOL_CHARS, sep) : null,
    language,
    text,
  };
}

/** Cuts a string to at most n UTF-16 units without splitting a surrogate pair. */
function truncateChars(s: string, n: number): string {
  if (s.length <= n) return s;
  const code = s.charCodeAt(n - 1);
  return s.slice(0, code >= 0xd800 && code <= 0xdbff ? n - 1 : n);
}

/**
 * Chunks a parsed file: definitions become chunks named by their path, the code between them
 * becomes chunks too (named by the enclosing scope), large bodies are split at the cheapest
 * boundaries under `cost`, tiny siblings are merged.
 */
export function chunkOutline(
  relPath: string,
  language: string,
  text: string,
  defs: OutlineDef[],
  options: ChunkingOptions = DEFAULT_CHUNKING_OPTIONS,
  cost?: CutCost,
): Chunk[] {
  const f = new FileLines(text);
  const c = new OutlineChunker(f, options, cost ?? textCost(f));
  const pieces = c.scope(1, f.count, normalizeDefs(defs, 1, f.count), []);
  return pieces.map((p) => toChunk(f, options, relPath, language, p, '.'));
}

const FENCE = /^\s{0,3}(```|~~~)/;
const ATX_HEADING = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;

/** Markdown sections split at ATX headings outside fenced code; path = the heading trail. */
function markdownSections(f: FileLines): Piece[] {
  const sections: Piece[] = [];
  const trail: { level: number; title: string }[] = [];
  let fence: string | null = null;
  let start = 1;
  let path: string[] = [];
  for (let n = 1; n <= f.count; n++) {
    const line = f.line(n);
    const fm = FENCE.exec(line);
    if (fm) {
      if (fence === null) fence = fm[1];
      else if (fm[1] === fence) fence = null;
      continue;
    }
    if (fence !== null) continue;
    const h = ATX_HEADING.exec(line);
    if (!h) continue;
    if (n > start) sections.push({ start, end: n - 1, path, sealed: false });
    const level = h[1].length;
    while (trail.length && trail[trail.length - 1].level >= level) trail.pop();
    trail.push({ level, title: h[2] || h[1] });
    path = trail.map((t) => t.title);
    start = n;
  }
  if (start <= f.count) sections.push({ start, end: f.count, path, sealed: false });
  return sections;
}

/**
 * Line-window chunks for text without a grammar (and for parse failures): ~`windowLines`
 * windows preferring blank-line boundaries, overlapping a little where cut mid-paragraph.
 * Markdown (`markdown: true`) is first split at headings, each section named by its heading trail.
 * Windows are also capped by `maxChunkChars`, so minified code yields bounded chunks.
 */
export function chunkLineWindows(
  relPath: string,
  language: string,
  text: string,
  options: ChunkingOptions = DEFAULT_CHUNKING_OPTIONS,
  markdown = false,
): Chunk[] {
  const f = new FileLines(text);
  const o = options;
  const cost = textCost(f);
  const maxLines = Math.min(o.windowLines, o.maxChunkLines);
  const sections = markdown ? markdownSections(f) : [{ start: 1, end: f.count, path: [], sealed: false }];
  const pieces: Piece[] = [];
  for (const sec of sections) {
    const t = f.trim(sec.start, sec.end);
    if (!t) continue;
    const windows = splitRange(f, t[0], t[1], maxLines, o.maxChunkChars, cost, o.overlapLines);
    const sealed = windows.length > 1;
    for (const [s, e] of windows) pieces.push({ start: s, end: e, path: sec.path, sealed });
  }
  const merged = markdown ? mergeTinyPieces(f, { ...o, maxChunkLines: maxLines }, pieces) : pieces;
  return merged.map((p) => toChunk(f, o, relPath, language, p, ' > '));
}

/** The short header embedded with each chunk, e.g. `// src/a.ts · Class.method\n`. */
export function chunkHeader(chunk: Pick<Chunk, 'path' | 'symbol'>): string {
  return chunk.symbol ? `// ${chunk.path} · ${chunk.symbol}\n` : `// ${chunk.path}\n`;
}

/**
 * Shortens `s` to at most `max` characters by cutting its middle: whole `sep`-separated segments
 * when that keeps the first and last ones (`a/b/…/y/z.ts`), else characters (`abc…xyz`).
 */
export function shortenMiddle(s: string, max: number, sep: string): string {
  if (s.length <= max) return s;
  if (max < 1) return '';
  const parts = s.split(sep);
  if (parts.length > 2) {
    const head = parts[0];
    const tail: string[] = [];
    for (let i = parts.length - 1; i > 0; i--) {
      const next = [parts[i], ...tail];
      if (head.length + 2 * sep.length + 1 + next.join(sep).length > max) break;
      tail.unshift(parts[i]);
    }
    if (tail.length) return `${head}${sep}…${sep}${tail.join(sep)}`;
  }
  const keep = max - 1;
  const h = Math.ceil(keep / 2);
  return truncateChars(s, h) + '…' + s.slice(s.length - (keep - h));
}

/**
 * The header of a chunk, shortened when it would use more than half of `maxTokens`: the path is
 * abbreviated and the symbol path trimmed, both from the middle, until it fits. A file 200
 * folders deep or a very long Markdown heading thus still gets indexed, with most of the budget
 * left for its text. Very small budgets may end with an empty header.
 */
export function boundedHeader(chunk: Pick<Chunk, 'path' | 'symbol'>, countTokens: (text: string) => number, maxTokens: number): string {
  const full = chunkHeader(chunk);
  const limit = Math.max(1, Math.floor(maxTokens / 2));
  if (countTokens(full) <= limit) return full;
  const symbol = chunk.symbol ?? '';
  let budget = Math.min(full.length, 4 * limit);
  for (;;) {
    // The path keeps at least 60% of the budget: it is what a reader needs to find the file.
    const symMax = symbol ? Math.min(symbol.length, Math.floor(budget * 0.4)) : 0;
    const pathMax = budget - symMax;
    const header = chunkHeader({
      path: shortenMiddle(chunk.path, pathMax, '/'),
      symbol: symMax > 0 ? shortenMiddle(symbol, symMax, symbol.includes(' > ') ? ' > ' : '.') : null,
    });
    if (countTokens(header) <= limit) return header;
    if (budget <= 8) return '';
    budget = Math.floor(budget * 0.7);
  }
}

/**
 * Splits a chunk by lines (recursively halving, preferring a blank line near the middle) until
 * `header + text` of every piece counts at most `maxTokens`. A single line that is still too
 * long is truncated by characters; its line numbers stay those of the line. Pieces keep the
 * symbol. A header that does not leave room for text is replaced by `boundedHeader(chunk)` for
 * the fitting (callers embed with `boundedHeader` so the two agree); never throws for a header.
 */
export function fitToTokenBudget(
  chunk: Chunk,
  countTokens: (text: string) => number,
  maxTokens: number,
  header: string = boundedHeader(chunk, countTokens, maxTokens),
): Chunk[] {
  if (!(maxTokens > 0)) throw new RangeError(`maxTokens must be positive, got ${maxTokens}.`);
  if (countTokens(header) >= maxTokens) header = boundedHeader(chunk, countTokens, maxTokens);
  const out: Chunk[] = [];
  const lines = chunk.text.split('\n');
  const rec = (from: number, to: number, root: boolean): void => {
    // from/to index `lines` (0-based, inclusive).
    while (from < to && lines[from].trim() === '') from++;
    while (to > from && lines[to].trim() === '') to--;
    const text = lines.slice(from, to + 1).join('\n');
    if (!root && text.trim() === '') return;
    const piece: Chunk = {
      ...chunk,
      startLine: chunk.startLine + from,
      endLine: Math.min(chunk.endLine, chunk.startLine + to),
      text,
    };
    if (countTokens(header + text) <= maxTokens) {
      out.push(piece);
      return;
    }
    if (from === to) {
      out.push({ ...piece, text: truncateToTokens(text, (t) => countTokens(header + t), maxTokens) });
      return;
    }
    const mid = splitPoint(lines, from, to);
    rec(from, mid, false);
    rec(mid + 1, to, false);
  };
  rec(0, lines.length - 1, true);
  return out;
}

/** Last line index of the first half: a blank line near the middle if any, else the middle. */
function splitPoint(lines: string[], from: number, to: number): number {
  const mid = from + Math.floor((to - from) / 2);
  const reach = Math.floor((to - from) / 4);
  for (let d = 0; d <= reach; d++) {
    if (mid + d < to && lines[mid + d + 1]?.trim() === '') return mid + d;
    if (mid - d >= from && mid - d < to && lines[mid - d + 1]?.trim() === '') return mid - d;
  }
  return mid;
}

/** Longest prefix of `text` whose count stays within `maxTokens` (binary search on length). */
function truncateToTokens(text: string, count: (t: string) => number, maxTokens: number): string {
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const m = Math.ceil((lo + hi) / 2);
    if (count(truncateChars(text, m)) <= maxTokens) lo = m;
    else hi = m - 1;
  }
  return truncateChars(text, lo);
}
