/**
 * Store fault injection, shared by test/faults-store.test.ts (bounded) and
 * test/bench/faults-bench.ts (heavy): a clean index built with the real CLI, then one damage per
 * case to one store file (or a crafted store), then `search` and `index` run with timeouts and the
 * outcome classified.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { REPO, tinyBertPath } from './helpers.js';

export const BIN = path.join(REPO, 'bin/loupe.js');

export interface RunResult {
  code: number | null;
  signal: string | null;
  out: string;
  err: string;
  timedOut: boolean;
  ms: number;
}

/** Runs the CLI with a timeout (SIGKILL after it), never throwing. */
export function runCli(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, LOUPE_BACKOFF: '0', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 90_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out, err, timedOut, ms: Date.now() - t0 });
    });
  });
}

/** The model every fault run uses (tiny; the faults are in the store, not the vectors). */
export const modelArgs = (): string[] => ['--model', tinyBertPath(), '--cpu'];
/** An HNSW graph even on a small index, so its file is among those damaged. */
export const FAULT_ENV = { LOUPE_ANN_THRESHOLD: '1' };
export const QUERY = 'parse the configuration file';

/** What a store file kind is called in the store folder. */
export type FileKind = 'manifest' | 'meta' | 'ann' | 'journal' | 'vectors' | 'lexical';
export const FILE_KINDS: FileKind[] = ['manifest', 'meta', 'ann', 'journal', 'vectors', 'lexical'];
export type Damage = 'bitflip' | 'truncate' | 'delete' | 'swap' | 'zero' | 'dir' | 'fifo' | 'devzero';
export const DAMAGES: Damage[] = ['bitflip', 'truncate', 'delete', 'swap', 'zero', 'dir', 'fifo', 'devzero'];

/** The name of a file kind in a store folder (by its manifest). */
export function fileOf(store: string, kind: FileKind): string {
  if (kind === 'manifest') return path.join(store, 'manifest.json');
  if (kind === 'lexical') return path.join(store, 'lexical.log');
  const m = JSON.parse(readFileSync(path.join(store, 'manifest.json'), 'utf8'));
  const name = kind === 'meta' ? m.meta.name : kind === 'ann' ? m.ann?.name : kind === 'journal' ? m.journal.name : m.vectors.name;
  if (!name) throw new Error(`the clean store has no ${kind} file`);
  return path.join(store, name);
}

/** A journal line as the store writes it. */
export function journalLine(op: unknown): string {
  const body = JSON.stringify(op);
  return `${crc32(Buffer.from(body)).toString(16).padStart(8, '0')} ${body}\n`;
}

/** Gives the (empty after a full run) journal one valid line, so damaging it means something. */
export function seedJournal(store: string): void {
  const m = JSON.parse(readFileSync(path.join(store, 'manifest.json'), 'utf8'));
  const meta = JSON.parse(readFileSync(path.join(store, m.meta.name), 'utf8'));
  const first = Object.keys(meta.files).sort()[0];
  writeFileSync(path.join(store, m.journal.name), journalLine({ op: 'del', path: first }));
}

/** Applies one damage to one file; `rand` picks the flipped bit. */
export function damage(store: string, kind: FileKind, how: Damage, rand: () => number = Math.random): void {
  const file = fileOf(store, kind);
  switch (how) {
    case 'bitflip': {
      const buf = readFileSync(file);
      if (!buf.length) return;
      const at = Math.floor(rand() * buf.length);
      buf[at] ^= 1 << Math.floor(rand() * 8);
      writeFileSync(file, buf);
      return;
    }
    case 'truncate':
      truncateSync(file, Math.floor(lstatSync(file).size / 2));
      return;
    case 'delete':
      rmSync(file);
      return;
    case 'swap': {
      const sibling = FILE_KINDS.filter((k) => k !== kind).map((k) => fileOf(store, k))[Math.floor(rand() * 5)];
      const tmp = `${file}.swap`;
      renameSync(file, tmp);
      renameSync(sibling, file);
      renameSync(tmp, sibling);
      return;
    }
    case 'zero':
      truncateSync(file, 0);
      return;
    case 'dir':
      rmSync(file);
      mkdirSync(file);
      writeFileSync(path.join(file, 'inside.txt'), 'x');
      return;
    case 'fifo':
      rmSync(file);
      execFileSync('mkfifo', [file]);
      return;
    case 'devzero':
      rmSync(file);
      symlinkSync('/dev/zero', file);
      return;
  }
}

/** sha256 of every file under `dir` except the store folder, keyed by relative path. */
export function treeDigest(dir: string, skip: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (p === skip) continue;
      if (e.isDirectory()) walk(p);
      else
        out.set(
          path.relative(dir, p),
          e.isFile() ? createHash('sha256').update(readFileSync(p)).digest('hex') : e.isSymbolicLink() ? 'link' : 'other',
        );
    }
  };
  walk(dir);
  return out;
}

/** The comparable part of a search: locations, best first. */
export function locations(json: string): string[] {
  return (JSON.parse(json) as { path: string; startLine: number; endLine: number }[]).map((r) => `${r.path}:${r.startLine}-${r.endLine}`);
}

export interface CaseOutcome {
  name: string;
  /** Every run ended by itself with 0 or 1, no signal, within its timeout. */
  noCrash: boolean;
  noHang: boolean;
  /** A run said what was wrong ([warn] on stderr, or a one-line error). */
  warned: boolean;
  /** After `index`, the search equals the clean one and a second search reports nothing. */
  rebuilt: boolean;
  /** Nothing outside the store changed. */
  outsideUntouched: boolean;
  /** No result named a path outside the root. */
  confined: boolean;
  detail: string;
}

/**
 * One case: a copy of the clean project (tree + store) beside a `victim` folder, `mutate` applied
 * to its store, then search, index, search. `timeoutMs` bounds each run.
 */
export async function runCase(
  name: string,
  clean: { root: string; search: string[] },
  work: string,
  mutate: (store: string, root: string) => void,
  timeoutMs = 90_000,
): Promise<CaseOutcome> {
  const caseDir = path.join(work, name.replace(/[^a-z0-9]+/gi, '-'));
  rmSync(caseDir, { recursive: true, force: true });
  const root = path.join(caseDir, 'proj');
  cpSync(clean.root, root, { recursive: true });
  const victim = path.join(caseDir, 'victim');
  mkdirSync(victim, { recursive: true });
  writeFileSync(path.join(victim, 'keep.json'), '{"keep": true}\n');
  writeFileSync(path.join(victim, 'x.json'), 'victim\n');
  const store = path.join(root, '.loupe');
  mutate(store, root);
  const before = treeDigest(caseDir, store);
  const args = (cmd: string, ...rest: string[]) => [cmd, root, ...rest, ...modelArgs()];
  const s1 = await runCli(args('search', QUERY, '--json', '-k', '10'), { timeoutMs, env: FAULT_ENV });
  const ix = await runCli(args('index'), { timeoutMs, env: FAULT_ENV });
  const s2 = await runCli(args('search', QUERY, '--json', '-k', '10'), { timeoutMs, env: FAULT_ENV });
  const runs = [s1, ix, s2];
  const noHang = runs.every((r) => !r.timedOut);
  const noCrash = runs.every((r) => r.signal === null && (r.code === 0 || r.code === 1) && !/\n\s+at /.test(r.err));
  const warned = runs.some((r) => /\[warn\]|^loupe: /m.test(r.err));
  let rebuilt = false;
  let confined = true;
  let detail = '';
  try {
    const after = locations(s2.out);
    rebuilt = ix.code === 0 && s2.code === 0 && JSON.stringify(after) === JSON.stringify(clean.search) && !/\[warn\]/.test(s2.err);
    if (!rebuilt)
      detail = `index ${ix.code}: ${ix.err.trim().slice(0, 300)} | search: ${s2.err.trim().slice(0, 200)} ${JSON.stringify(after.slice(0, 3))}`;
    for (const r of [s1, s2]) {
      if (r.code === 0 && r.out.trim().startsWith('['))
        confined &&= locations(r.out).every((l) => !l.startsWith('/') && !l.split('/').includes('..'));
    }
  } catch (e) {
    detail = `unparsable search output (${(e as Error).message}): ${s2.out.slice(0, 200)} ${s2.err.slice(0, 300)}`;
  }
  const afterDigest = treeDigest(caseDir, store);
  const outsideUntouched = before.size === afterDigest.size && [...before].every(([k, v]) => afterDigest.get(k) === v);
  if (!noCrash || !noHang)
    detail = runs.map((r) => `code ${r.code} signal ${r.signal} timedOut ${r.timedOut}: ${r.err.trim().slice(-300)}`).join(' || ');
  rmSync(caseDir, { recursive: true, force: true });
  return { name, noCrash, noHang, warned, rebuilt, outsideUntouched, confined, detail };
}

/** Builds the clean project and its index with the CLI; returns it and its reference search. */
export async function buildClean(work: string, files: Record<string, string>): Promise<{ root: string; search: string[] }> {
  const root = path.join(work, 'clean');
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), text);
  }
  const ix = await runCli(['index', root, ...modelArgs()], { env: FAULT_ENV });
  if (ix.code !== 0) throw new Error(`clean index failed: ${ix.err}`);
  const s = await runCli(['search', root, QUERY, '--json', '-k', '10', ...modelArgs()], { env: FAULT_ENV });
  if (s.code !== 0) throw new Error(`clean search failed: ${s.err}`);
  if (!existsSync(path.join(root, '.loupe', 'manifest.json'))) throw new Error('no store');
  return { root, search: locations(s.out) };
}

/** Crafted stores an attacker could ship in a repository: name → mutation. */
export function craftedCases(): Record<string, (store: string, root: string) => void> {
  const editManifest = (store: string, f: (m: Record<string, unknown> & { meta: { name: string; sha256: string } }) => void) => {
    const file = path.join(store, 'manifest.json');
    const m = JSON.parse(readFileSync(file, 'utf8'));
    f(m);
    writeFileSync(file, JSON.stringify(m));
  };
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  return {
    'manifest names outside the store': (store) =>
      editManifest(store, (m) => {
        m.meta.name = '../../victim/keep.json';
        m.vectors = { name: '../../victim/x.json' };
        m.journal = { name: '../../victim/journal-2024.log' };
      }),
    'manifest absolute names': (store, root) =>
      editManifest(store, (m) => {
        m.vectors = { name: path.join(root, '..', 'victim', 'x.json') };
      }),
    'manifest null fields': (store) =>
      editManifest(store, (m) => {
        (m as Record<string, unknown>).meta = null;
        m.generation = null;
        m.journal = null;
      }),
    'manifest of another model store': (store) =>
      editManifest(store, (m) => {
        m.modelId = 'f'.repeat(64);
        m.modelName = 'other-model';
        m.meta.sha256 = 'e'.repeat(64);
      }),
    'journal path ../../etc/passwd': (store) => {
      const m = JSON.parse(readFileSync(path.join(store, 'manifest.json'), 'utf8'));
      const meta = JSON.parse(readFileSync(path.join(store, m.meta.name), 'utf8'));
      const [, rec] = Object.entries(meta.files)[0] as [string, { chunks: { label: number }[] }];
      const forged = { ...rec, chunks: rec.chunks.map((c, i) => ({ ...c, label: meta.nextLabel + i })) };
      writeFileSync(path.join(store, m.journal.name), journalLine({ op: 'put', path: '../../../../../../etc/passwd', file: forged }));
    },
    'meta path ../../etc/passwd with a matching checksum': (store) => {
      const file = path.join(store, 'manifest.json');
      const m = JSON.parse(readFileSync(file, 'utf8'));
      const meta = JSON.parse(readFileSync(path.join(store, m.meta.name), 'utf8'));
      const [p] = Object.keys(meta.files);
      meta.files['../../../../../../etc/passwd'] = meta.files[p];
      delete meta.files[p];
      const bytes = Buffer.from(JSON.stringify(meta));
      writeFileSync(path.join(store, m.meta.name), bytes);
      m.meta.sha256 = sha(bytes);
      m.meta.bytes = bytes.length;
      writeFileSync(file, JSON.stringify(m));
    },
    'HNSW graph with a bad neighbour and a matching checksum': (store) => {
      const file = path.join(store, 'manifest.json');
      const m = JSON.parse(readFileSync(file, 'utf8'));
      const ann = path.join(store, m.ann.name);
      const b = readFileSync(ann);
      // Point 0's first level-0 neighbour (after the 4-byte count) → far out of range.
      b.writeUInt16LE(Math.max(1, b.readUInt16LE(96)), 96);
      b.writeUInt32LE(0x00ffffff, 100);
      writeFileSync(ann, b);
      m.ann.sha256 = sha(b);
      writeFileSync(file, JSON.stringify(m));
    },
    'HNSW graph with an entry point out of range and a matching checksum': (store) => {
      const file = path.join(store, 'manifest.json');
      const m = JSON.parse(readFileSync(file, 'utf8'));
      const ann = path.join(store, m.ann.name);
      const b = readFileSync(ann);
      b.writeUInt32LE(0x7fffffff, 52);
      writeFileSync(ann, b);
      m.ann.sha256 = sha(b);
      writeFileSync(file, JSON.stringify(m));
    },
  };
}

/** A small deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
