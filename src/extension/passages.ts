/**
 * Reading what a search hit points at: the passage text for the Q&A panel and a one-line snippet
 * for the quick pick. Plain Node (the engine returns locations, not text); no `vscode` import.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { SearchResult } from '../core/types.js';

/** A search hit in one workspace folder. */
export interface RootedResult extends SearchResult {
  /** Absolute path of the workspace folder the hit belongs to. */
  root: string;
  /** Folder name, shown when the workspace has several. */
  rootName: string;
}

/** A retrieved passage: location plus text, numbered for citations (1-based). */
export interface Passage extends SearchResult {
  n: number;
  root: string;
  rootName: string;
  text: string;
}

/** Merges per-folder result lists, best score first, keeping at most `k`. */
export function mergeResults(lists: RootedResult[][], k: number): RootedResult[] {
  return lists.flat().sort((a, b) => b.score - a.score).slice(0, k);
}

/** Lines `startLine..endLine` (1-based, inclusive) of `text`, at most `maxLines` of them. */
export function sliceLines(text: string, startLine: number, endLine: number, maxLines: number): string {
  const lines = text.split(/\r?\n/);
  const cap = startLine + maxLines - 1;
  const end = Math.min(endLine, cap, lines.length);
  const out = lines.slice(Math.max(0, startLine - 1), end);
  // Mark a cut made by `maxLines`, not a file that is shorter than the hit (changed since).
  if (cap < endLine && cap < lines.length) out.push('…');
  return out.join('\n');
}

/** The first non-blank line of a passage, trimmed and shortened, for a one-line preview. */
export function snippetOf(text: string, max = 120): string {
  const line = text.split(/\r?\n/).map((l) => l.trim()).find((l) => l !== '' && l !== '…') ?? '';
  return line.length > max ? line.slice(0, max - 1) + '…' : line;
}

/**
 * The file a hit names, if it is inside its folder: a relative, normalised path whose real
 * location (links resolved) stays under the folder's, or that no longer exists (it reads as empty).
 * Anything else came from a crafted index and is never read, shown or opened.
 */
export async function hitFile(root: string, rel: string): Promise<string | null> {
  if (typeof rel !== 'string' || rel === '' || rel.includes('\0') || rel.includes('\\') || rel.startsWith('/') || /^[A-Za-z]:/.test(rel)) return null;
  if (rel.split('/').some((seg) => seg === '' || seg === '.' || seg === '..')) return null;
  const file = path.resolve(root, ...rel.split('/'));
  try {
    const [realRoot, real] = await Promise.all([fsp.realpath(root), fsp.realpath(file)]);
    const back = path.relative(realRoot, real);
    if (!back || back.startsWith('..') || path.isAbsolute(back)) return null;
    const st = await fsp.stat(real);
    return st.isFile() ? file : null;
  } catch (e) {
    // A file gone since indexing is kept (it reads as empty); nothing else that fails is read.
    return (e as NodeJS.ErrnoException).code === 'ENOENT' && !(await isLink(file)) ? file : null;
  }
}

async function isLink(file: string): Promise<boolean> {
  try {
    return (await fsp.lstat(file)).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Keeps the hits whose file is inside their folder (see `hitFile`). */
export async function confineHits<T extends RootedResult>(hits: T[]): Promise<T[]> {
  const ok = await Promise.all(hits.map((h) => hitFile(h.root, h.path)));
  return hits.filter((_, i) => ok[i] !== null);
}

/**
 * Reads the passages of `hits` (a file that vanished since indexing gives an empty text). A hit
 * outside its folder is dropped; `n` stays the hit's 1-based place in `hits`.
 */
export async function readPassages(all: RootedResult[], maxLines = 60): Promise<Passage[]> {
  const place = new Map(all.map((h, i) => [h, i + 1]));
  const hits = await confineHits(all);
  const cache = new Map<string, Promise<string>>();
  const read = (file: string) => {
    let p = cache.get(file);
    if (!p) {
      p = fsp.readFile(file, 'utf8').catch(() => '');
      cache.set(file, p);
    }
    return p;
  };
  return Promise.all(hits.map(async (h, i) => {
    const text = await read(path.join(h.root, ...h.path.split('/')));
    return { n: place.get(h) ?? i + 1, root: h.root, rootName: h.rootName, path: h.path, startLine: h.startLine, endLine: h.endLine, symbol: h.symbol, language: h.language, score: h.score, text: sliceLines(text, h.startLine, h.endLine, maxLines) };
  }));
}
