/** Numbered citations in an answer (`[1]`, `[2, 3]`, `[1][4]`) mapped back to files and lines. */
import type { Citation } from './types.js';
import { formatLines } from './prompt.js';

/** Numbers cited in `answer` that exist among `count` sources, in order of first appearance. */
export function citedNumbers(answer: string, count: number): number[] {
  const seen: number[] = [];
  for (const m of answer.matchAll(/\[(\d+(?:\s*[,;]\s*\d+)*)\]/g)) {
    for (const part of m[1]!.split(/[,;]/)) {
      const n = Number(part.trim());
      if (Number.isInteger(n) && n >= 1 && n <= count && !seen.includes(n)) seen.push(n);
    }
  }
  return seen;
}

/** `[n] path:start-end (symbol)`. */
export function formatCitation(c: Citation): string {
  return `[${c.n}] ${formatLines(c.path, c.startLine, c.endLine)}${c.symbol ? ` ${c.symbol}` : ''}`;
}
