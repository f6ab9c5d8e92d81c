/**
 * TensorFlow Embedding Projector files: `vectors.tsv` (one vector per line, tab-separated),
 * `metadata.tsv` (a header line, then one row per vector) and `projector_config.json`. Pure.
 */

/** Metadata columns, in order. */
export const PROJECTOR_COLUMNS = ['path', 'symbol', 'language', 'lines', 'first_line'] as const;

export interface ProjectorRow {
  path: string;
  symbol: string | null;
  language: string;
  startLine: number;
  endLine: number;
  /** The chunk's first non-blank line of code. */
  firstLine: string;
}

/**
 * One TSV field: tabs, newlines and carriage returns become the two-character escapes `\t`,
 * `\n`, `\r`, and a backslash becomes `\\`, so every row stays one line of exactly as many
 * fields as the header. Other control characters are dropped.
 */
export function tsvEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    if (ch === '\\') out += '\\\\';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch.charCodeAt(0) < 0x20 || ch === '\x7f') continue;
    else out += ch;
  }
  return out;
}

/** Inverse of `tsvEscape` (for tests and readers). */
export function tsvUnescape(s: string): string {
  return s.replace(/\\([\\tnr])/g, (_, c: string) => (c === 't' ? '\t' : c === 'n' ? '\n' : c === 'r' ? '\r' : '\\'));
}

/** One line of vectors.tsv (no newline). */
export function vectorLine(v: ArrayLike<number>): string {
  const parts = new Array<string>(v.length);
  for (let i = 0; i < v.length; i++) parts[i] = Number.isFinite(v[i]) ? String(Math.round(v[i] * 1e6) / 1e6) : '0';
  return parts.join('\t');
}

/** The header line of metadata.tsv. */
export function metadataHeader(): string {
  return PROJECTOR_COLUMNS.join('\t');
}

/** One line of metadata.tsv (no newline). */
export function metadataLine(r: ProjectorRow): string {
  return [r.path, r.symbol ?? '', r.language, `${r.startLine}-${r.endLine}`, r.firstLine].map(tsvEscape).join('\t');
}

/** projector_config.json for files beside it (the Projector loads it with the TSVs by relative path). */
export function projectorConfig(o: { name: string; rows: number; dimensions: number }): object {
  return {
    embeddings: [
      {
        tensorName: o.name,
        tensorShape: [o.rows, o.dimensions],
        tensorPath: 'vectors.tsv',
        metadataPath: 'metadata.tsv',
      },
    ],
  };
}

/** The first non-blank line of a chunk, trimmed and cut to `max` characters. */
export function firstCodeLine(lines: string[], startLine: number, endLine: number, max = 160): string {
  for (let l = startLine; l <= endLine && l <= lines.length; l++) {
    const t = lines[l - 1]?.trim();
    if (t) return t.length > max ? t.slice(0, max - 1) + '…' : t;
  }
  return '';
}
