/**
 * What `loupe mcp` hands an agent: results with their snippets, cut to a token budget, and one
 * line on how fresh the index is. Pure functions over results and file text (tested directly).
 */
import type { SyncResult } from './protocol.js';
import type { EngineStatus } from './engine.js';
import type { SearchResult } from './types.js';

/** Rough token count of text for a budget (≈ 4 characters per token for code and English). */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** One result as the agent receives it. */
export interface AgentHit extends SearchResult {
  /** The lines startLine..endLine as on disk now (cut to the budget; `truncated` then set). */
  snippet: string;
  truncated?: boolean;
}

/** Most lines of one snippet, whatever the budget (a long function's head says what it is). */
export const MAX_SNIPPET_LINES = 80;

/**
 * Fits results into `maxTokens`: results in rank order, each a header and its snippet; a snippet
 * that does not fit is cut at a line boundary, and results stop when not even a header fits.
 * `readLines` returns a file's lines (null when it cannot be read any more).
 */
export function fitHits(
  results: SearchResult[],
  readLines: (path: string) => string[] | null,
  maxTokens: number,
  snippets = true,
): { hits: AgentHit[]; tokens: number; dropped: number } {
  const hits: AgentHit[] = [];
  let used = 0;
  for (const r of results) {
    const header = headerOf(r);
    const headerTokens = estimateTokens(header) + 2;
    if (used + headerTokens > maxTokens) break;
    used += headerTokens;
    let snippet = '';
    let truncated = false;
    if (snippets) {
      const lines = readLines(r.path)?.slice(r.startLine - 1, r.endLine) ?? [];
      let take = Math.min(lines.length, MAX_SNIPPET_LINES);
      truncated = take < lines.length;
      const dedent = commonIndent(lines.slice(0, take));
      let body = lines
        .slice(0, take)
        .map((l) => l.slice(dedent))
        .join('\n');
      while (take > 0 && used + estimateTokens(body) + 8 > maxTokens) {
        take = Math.floor(take / 2);
        truncated = true;
        body = lines
          .slice(0, take)
          .map((l) => l.slice(dedent))
          .join('\n');
      }
      if (take > 0) {
        snippet = body;
        used += estimateTokens(body) + 8;
      }
    }
    hits.push({ ...r, snippet, ...(truncated ? { truncated } : {}) });
  }
  return { hits, tokens: used, dropped: results.length - hits.length };
}

function commonIndent(lines: string[]): number {
  let n = Infinity;
  for (const l of lines) {
    if (!l.trim()) continue;
    n = Math.min(n, l.length - l.trimStart().length);
  }
  return Number.isFinite(n) ? n : 0;
}

/** `src/a.ts:10-24  parseConfig  (typescript, score 0.812)` */
export function headerOf(r: SearchResult): string {
  return `${r.path}:${r.startLine}-${r.endLine}${r.symbol ? `  ${r.symbol}` : ''}  (${r.language}, score ${r.score.toFixed(3)})`;
}

/** The hits as text for the model: header, fenced snippet, in rank order. */
export function hitsText(hits: AgentHit[]): string {
  return hits
    .map((h) => {
      if (!h.snippet) return headerOf(h);
      const fence = h.snippet.includes('```') ? '~~~~' : '```';
      return `${headerOf(h)}\n${fence}${h.language === 'text' ? '' : h.language}\n${h.snippet}${h.truncated ? '\n…' : ''}\n${fence}`;
    })
    .join('\n\n');
}

/** One line on what the index covers and how fresh it is. */
export function freshnessLine(status: EngineStatus, sync: SyncResult | null): string {
  const holds = `${status.files} files, ${status.chunks} chunks`;
  if (!sync) return `index: ${holds}; not re-checked against the files on disk`;
  if (sync.fresh) return `index: ${holds}; up to date with the files on disk`;
  return `index: ${holds}; may be stale: ${sync.reason}${sync.scannedAgoMs !== null ? ` (last full check ${Math.round(sync.scannedAgoMs / 1000)} s ago)` : ''}`;
}
