/**
 * Reading what a search hit points at: the passage text for the Q&A panel and a one-line snippet
 * for the quick pick. Plain Node (the engine returns locations, not text); no `vscode` import.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { readHits } from '../core/answer/retrieve.js';
import type { SearchResult } from '../core/types.js';
import { mergeAcrossFolders } from '../core/fusion.js';
import { RANKED_FUSION } from '../core/ranking.js';

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

/**
 * Merges per-folder result lists, best first, keeping at most `k`: scores recomputed on one
 * scale across folders (core/fusion.ts mergeAcrossFolders), not each folder's own min-max.
 */
export function mergeResults(lists: RootedResult[][], k: number): RootedResult[] {
  return mergeAcrossFolders(lists, k, RANKED_FUSION.weights);
}

/** The first non-blank line of a passage, trimmed and shortened, for a one-line preview. */
export function snippetOf(text: string, max = 120): string {
  const line =
    text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .find((l) => l !== '') ?? '';
  return line.length > max ? line.slice(0, max - 1) + '…' : line;
}

/**
 * The file a hit names, if it is inside its folder: a relative, normalised path whose real
 * location (links resolved) stays under the folder's, or that no longer exists (it reads as empty).
 * Anything else came from a crafted index and is never read, shown or opened.
 */
export async function hitFile(root: string, rel: string): Promise<string | null> {
  if (typeof rel !== 'string' || rel === '' || rel.includes('\0') || rel.includes('\\') || rel.startsWith('/') || /^[A-Za-z]:/.test(rel))
    return null;
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

/** Reads the passages of `hits` (core/answer/retrieve.ts readHits: hits whose file is gone are left out), numbered from 1. */
export async function readPassages(hits: RootedResult[]): Promise<Passage[]> {
  const read = await readHits(hits, (h) => h.root);
  return read.map((h, i) => ({
    n: i + 1,
    root: h.root,
    rootName: h.rootName,
    path: h.path,
    startLine: h.startLine,
    endLine: h.endLine,
    symbol: h.symbol,
    language: h.language,
    score: h.score,
    text: h.text,
  }));
}
