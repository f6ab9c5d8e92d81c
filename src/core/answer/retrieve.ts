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

/** Reads the hits' lines; hits whose file is gone or unreadable are skipped. */
export async function sourcesFor(root: string, hits: SearchResult[]): Promise<Source[]> {
  const files = new Map<string, string[] | null>();
  const out: Source[] = [];
  for (const h of hits) {
    if (!files.has(h.path)) {
      // A path that leaves the folder (a crafted store) is never read nor sent.
      const abs = resolveInside(root, h.path);
      const r = abs ? await readSourceFile(abs) : null;
      files.set(h.path, r && 'text' in r ? r.text.split(/\r?\n/) : null);
    }
    const lines = files.get(h.path);
    if (!lines || h.startLine > lines.length) continue;
    const endLine = Math.min(h.endLine, lines.length);
    let text = lines.slice(h.startLine - 1, endLine).join('\n');
    let end = endLine;
    if (text.length > MAX_SOURCE_CHARS) {
      const kept = text.slice(0, MAX_SOURCE_CHARS).split('\n');
      kept.pop();
      text = kept.join('\n');
      end = h.startLine + Math.max(0, kept.length - 1);
    }
    out.push({ path: h.path, startLine: h.startLine, endLine: end, symbol: h.symbol, language: h.language, score: h.score, text });
  }
  return out;
}

/** A retrieve function over an engine (its default, best search mode). */
export function engineRetriever(engine: SearchablePort): (query: string, k: number, signal?: AbortSignal) => Promise<Source[]> {
  return async (query, k, signal) => sourcesFor(engine.root, await engine.search(query, { k, signal }));
}
