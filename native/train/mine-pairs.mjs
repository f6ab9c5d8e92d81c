#!/usr/bin/env node
/**
 * Mines (question, code) training pairs for fine-tuning the embedding model on code search:
 * every documented definition in the training corpora (TRAIN_CORPORA in
 * test/bench/quality/corpora.ts, fetched from package registries at pinned versions) gives one
 * pair: its doc comment's summary as the question, the chunk Loupe would index with that doc
 * comment removed as the document (the model must match words to code, not words to words).
 *
 *   npm run build && node native/train/mine-pairs.mjs OUT.jsonl
 *
 * Chunks come from Loupe's own chunker and carry the header Loupe embeds (`// path · symbol`), so
 * the model trains on exactly the inputs it will see. Output lines: {"q", "d", "corpus", "lang"};
 * a summary goes to stderr. Deterministic: same corpora, same chunker, same file.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(here, '../../out');
const { TreeSitterChunker } = await import(path.join(out, 'src/adapters/treesitter-chunker.js'));
const { chunkHeader } = await import(path.join(out, 'src/core/chunking.js'));
const { TRAIN_CORPORA, listFiles, prepareCorpus } = await import(path.join(out, 'test/bench/quality/corpora.js'));

const outFile = process.argv[2];
const maskIds = process.argv.includes('--mask-identifiers');
if (!outFile) {
  console.error('usage: mine-pairs.mjs OUT.jsonl [--mask-identifiers]');
  process.exit(2);
}

const COMMENT_LINE = /^\s*(\/\*\*?|\*\/?|\/\/\/?|#(?![[!])|--)/;

/** The leading comment block of a chunk (after blank lines and attributes): [firstLine, endLine) or null. */
function leadingComment(lines) {
  let i = 0;
  while (i < lines.length && lines[i].trim() === '') i++;
  const start = i;
  let inBlock = false;
  for (; i < lines.length; i++) {
    const t = lines[i].trim();
    if (inBlock) {
      if (t.includes('*/')) inBlock = false;
      continue;
    }
    if (t.startsWith('/*')) {
      if (!t.includes('*/', 2)) inBlock = true;
      continue;
    }
    if (COMMENT_LINE.test(lines[i]) && !t.startsWith('#[')) continue;
    break;
  }
  return i > start ? [start, i] : null;
}

/** A Python docstring right after the first def/class signature: [firstLine, endLine) or null. */
function pythonDocstring(lines) {
  let i = lines.findIndex((l) => /^\s*(async\s+def|def|class)\s/.test(l));
  if (i < 0) return null;
  while (i < lines.length && !/:\s*(#.*)?$/.test(lines[i])) i++;
  i++;
  while (i < lines.length && lines[i].trim() === '') i++;
  const m = /^\s*[rbuRBU]?("""|''')/.exec(lines[i] ?? '');
  if (!m) return null;
  const q = m[1];
  const first = lines[i].slice(lines[i].indexOf(q) + 3);
  if (first.includes(q)) return [i, i + 1];
  for (let j = i + 1; j < lines.length; j++) if (lines[j].includes(q)) return [i, j + 1];
  return null;
}

/** The summary of a doc comment: its first paragraph, without markers, tags and markup. */
function summary(docLines, symbol) {
  const text = docLines
    .map((l) => l.replace(/^\s*(\/\*\*?|\*\/|\*(?!\/)|\/\/[/!]?|#|[rbuRBU]?"""|[rbuRBU]?''')/, '').replace(/(\*\/|"""|''')\s*$/, ''))
    .map((l) => l.trim());
  const para = [];
  for (const l of text) {
    if (!l) {
      if (para.length) break;
      continue;
    }
    if (/^(@\w+|:param|:returns?|:raises?|Args:|Arguments:|Returns?:|Raises:|Parameters|Examples?:?|Note:|See also|>>>|```|-{3,}|={3,}|Deprecated)/i.test(l)) break;
    para.push(l);
  }
  let s = para.join(' ')
    .replace(/\{@\w+\s+([^}]*)\}/g, '$1') // {@link Foo} → Foo
    .replace(/<\/?[a-z][^>]*>/gi, ' ') // HTML in Javadoc
    .replace(/`+([^`]*)`+/g, '$1')
    .replace(/:[a-z]+:`?([^`\s]+)`?/g, '$1') // :func:`x`
    .replace(/\[([^\]]+)\]\[[^\]]*\]/g, '$1') // rustdoc [x][y]
    .replace(/\[`?([^\]`]+)`?\]/g, '$1') // rustdoc [x]
    .replace(/\s+/g, ' ')
    .trim();
  // Go and Rust docs often open with the name: "Foo returns …" → "returns …".
  const name = (symbol ?? '').split(/[.,\s]/).filter(Boolean).pop();
  if (name && s.toLowerCase().startsWith(`${name.toLowerCase()} `)) s = s.slice(name.length + 1);
  const sentences = s.split(/(?<=[.!?])\s+(?=[A-Z])/);
  s = sentences.slice(0, 2).join(' ');
  const words = s.split(' ');
  if (words.length > 48) s = words.slice(0, 48).join(' ');
  return s;
}

/** Whether a word is a compound identifier: camelCase, PascalCase with two humps, snake_case, dotted. */
function isCompound(w) {
  return /[a-z0-9][A-Z]|[A-Z]{2,}[a-z]|\w_\w|\w\.\w/.test(w);
}

function maskIdentifiers(q, code, symbol) {
  const ids = new Set();
  for (const m of code.matchAll(/[A-Za-z_$][\w$]*/g)) if (isCompound(m[0])) ids.add(m[0].toLowerCase());
  for (const part of (symbol ?? '').split(/[.,\s]+/)) if (part) ids.add(part.toLowerCase());
  return q
    .split(' ')
    .filter((w) => {
      const bare = w.replace(/^[^\w$]+|[^\w$]+$/g, '').replace(/\(\)$/, '').toLowerCase();
      return !(bare && (ids.has(bare) || isCompound(w.replace(/^[^\w$]+|[^\w$]+$/g, ''))));
    })
    .join(' ');
}

const chunker = new TreeSitterChunker();
const seen = new Set();
const pairs = [];
const stats = {};
for (const spec of TRAIN_CORPORA) {
  const root = prepareCorpus(spec);
  let n = 0;
  for (const rel of listFiles(root, { skipHidden: true }).sort()) {
    const text = readFileSync(path.join(root, rel), 'utf8');
    const chunks = await chunker.chunkFile(rel, text);
    for (const c of chunks) {
      if (c.language === 'text' || c.language === 'markdown') continue;
      const lines = c.text.split('\n');
      const span = c.language === 'python' ? pythonDocstring(lines) : leadingComment(lines);
      if (!span) continue;
      let q = summary(lines.slice(span[0], span[1]), c.symbol);
      if (/^(TODO|FIXME|XXX|Copyright|Licensed|SPDX|eslint|jshint|noinspection|nolint|Code generated)/i.test(q)) continue;
      const code = [...lines.slice(0, span[0]), ...lines.slice(span[1])].join('\n').trim();
      // The benchmark's questions avoid the target's names; so do these: a word that is a
      // compound identifier of the code (camelCase, snake_case) or the definition's own name
      // is left out, so the model learns what code does rather than matching names.
      if (maskIds) q = maskIdentifiers(q, code, c.symbol);
      if (q.split(' ').filter((w) => /[a-z]/i.test(w)).length < 4) continue;
      if (code.split('\n').filter((l) => l.trim()).length < 2) continue;
      const key = q.toLowerCase();
      if (seen.has(key)) continue;
      seen.add(key);
      pairs.push({ q, d: chunkHeader(c) + code, corpus: spec.name, lang: c.language });
      n++;
    }
  }
  stats[`${spec.name} (${spec.language})`] = n;
}
chunker.dispose();
writeFileSync(outFile, pairs.map((p) => JSON.stringify(p)).join('\n') + '\n');
console.error(JSON.stringify({ pairs: pairs.length, byCorpus: stats }, null, 1));
