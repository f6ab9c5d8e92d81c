/**
 * The benchmark corpus: readable sources of third-party packages already in node_modules
 * (code this project did not write, available offline), copied into a temp folder.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';

/** One package folder to take files from. */
export interface CorpusSource {
  /** Folder under node_modules. */
  from: string;
  /** Folder in the corpus. Never `dist/`, `build/`, `out/`: the scanner excludes those names. */
  to: string;
  /** File name endings to take. */
  exts: string[];
}

/** Sources, several languages; all MIT/Apache-2.0 packages. */
export const CORPUS_SOURCES: CorpusSource[] = [
  { from: 'node-llama-cpp/dist', to: 'node-llama-cpp/src', exts: ['.js'] },
  { from: 'node-llama-cpp/llama/addon', to: 'node-llama-cpp/addon', exts: ['.cpp', '.h'] },
  { from: 'ajv/lib', to: 'ajv/lib', exts: ['.ts'] },
  { from: 'hnswlib-node/src', to: 'hnswlib-node/src', exts: ['.cc', '.h'] },
  { from: 'eslint/lib', to: 'eslint/lib', exts: ['.js'] },
  { from: 'commander/lib', to: 'commander/lib', exts: ['.js'] },
  { from: 'chokidar', to: 'chokidar', exts: ['.js', '.md'] },
  { from: 'ignore', to: 'ignore', exts: ['.js', '.md'] },
  { from: 'flatted/python', to: 'flatted/python', exts: ['.py'] },
  { from: 'flatted/golang', to: 'flatted/golang', exts: ['.go'] },
  { from: 'node-llama-cpp', to: 'node-llama-cpp', exts: ['README.md'] },
];

/** A corpus copied to disk. */
export interface Corpus {
  root: string;
  files: { rel: string; bytes: number }[];
  bytes: number;
  /** Bytes per source folder. */
  bySource: Record<string, number>;
}

function listFiles(dir: string, exts: string[], topOnly: boolean): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const abs = path.join(d, name);
      const st = statSync(abs);
      if (st.isDirectory()) {
        if (!topOnly && name !== 'node_modules') walk(abs);
      } else if (exts.some((e) => name.endsWith(e)) && !name.endsWith('.min.js')) {
        out.push(abs);
      }
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

/**
 * Copies up to `maxBytes` of source files into `dest`, taking one file from each source in
 * turn so every language is represented; a smaller budget gives a prefix of a larger one.
 */
export function buildCorpus(nodeModules: string, dest: string, maxBytes: number): Corpus {
  const queues = CORPUS_SOURCES.map((s) => ({
    source: s,
    // Package roots (chokidar, ignore, …) hold sub-folders we do not want (types, cjs copies).
    files: listFiles(path.join(nodeModules, s.from), s.exts, !s.from.includes('/')),
  }));
  const corpus: Corpus = { root: dest, files: [], bytes: 0, bySource: {} };
  let progressed = true;
  while (progressed && corpus.bytes < maxBytes) {
    progressed = false;
    for (const q of queues) {
      const abs = q.files.shift();
      if (!abs) continue;
      progressed = true;
      const size = statSync(abs).size;
      // Keep under the scanner's 1 MiB limit and do not overshoot the budget by much.
      if (size === 0 || size > 512 * 1024 || corpus.bytes + size > maxBytes * 1.02) continue;
      const rel = path.posix.join(q.source.to, path.relative(path.join(nodeModules, q.source.from), abs).split(path.sep).join('/'));
      const target = path.join(dest, rel);
      mkdirSync(path.dirname(target), { recursive: true });
      copyFileSync(abs, target);
      corpus.files.push({ rel, bytes: size });
      corpus.bytes += size;
      corpus.bySource[q.source.from] = (corpus.bySource[q.source.from] ?? 0) + size;
      if (corpus.bytes >= maxBytes) break;
    }
  }
  return corpus;
}
