/** Retrieval for answers: the engine's search, with each hit's lines read from the file as it is now. */
import { resolveInside } from '../fsutil.js';
import { readSourceFile } from '../scanner.js';
import type { SearchResult } from '../types.js';
import type { Source } from './types.js';

/** What retrieval needs of the engine. */
export interface SearchablePort {
  readonly root: string;
  search(query: string, opts: { k?: number; signal?: AbortSignal }): Promise<SearchResult[]>;
}

/** Most characters quoted from one hit (a huge merged hit is cut; the prompt builder trims further). */
export const MAX_SOURCE_CHARS = 12_000;

/**
 * Lines `startLine..endLine` (1-based) of a file's lines, cut at a line boundary to
 * MAX_SOURCE_CHARS; `endLine` is the last line returned. Null when the file is now shorter than
 * the hit's start.
 */
export function hitLines(lines: readonly string[], startLine: number, endLine: number): { text: string; endLine: number } | null {
  if (startLine > lines.length) return null;
  const last = Math.min(endLine, lines.length);
  let text = lines.slice(startLine - 1, last).join('\n');
  let end = last;
  if (text.length > MAX_SOURCE_CHARS) {
    const kept = text.slice(0, MAX_SOURCE_CHARS).split('\n');
    kept.pop();
    text = kept.join('\n');
    end = startLine + Math.max(0, kept.length - 1);
  }
  return { text, endLine: end };
}

/**
 * Reads each hit's lines from its file as it is now (each file once): the one way a hit becomes
 * quoted text, for answer prompts, the Q&A panel and the search list alike. Hits whose file is
 * gone, binary, unreadable or now shorter than the hit are left out; the others keep their order.
 */
export async function readHits<H extends SearchResult>(hits: readonly H[], rootOf: (h: H) => string): Promise<(H & { text: string })[]> {
  const files = new Map<string, Promise<string[] | null>>();
  const out: (H & { text: string })[] = [];
  for (const h of hits) {
    const root = rootOf(h);
    // A path that leaves the folder (a crafted store) is never read nor sent.
    const abs = resolveInside(root, h.path);
    const key = abs ?? `\0${root}\0${h.path}`;
    let lines = files.get(key);
    if (!lines) {
      lines = abs ? readSourceFile(abs, { root }).then((r) => ('text' in r ? r.text.split(/\r?\n/) : null)) : Promise.resolve(null);
      files.set(key, lines);
    }
    const l = await lines;
    const cut = l && hitLines(l, h.startLine, h.endLine);
    if (cut) out.push({ ...h, endLine: cut.endLine, text: cut.text });
  }
  return out;
}

/** Reads the hits' lines under `root` (see readHits; a hit whose real path leaves the root is not read). */
export async function sourcesFor(root: string, hits: SearchResult[]): Promise<Source[]> {
  return readHits(hits, () => root);
}

/** A retrieve function over an engine (its default, best search mode). */
export function engineRetriever(engine: SearchablePort): (query: string, k: number, signal?: AbortSignal) => Promise<Source[]> {
  return async (query, k, signal) => sourcesFor(engine.root, await engine.search(query, { k, signal }));
}
