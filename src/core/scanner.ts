import { constants as fsc, promises as fsp, type Stats } from 'node:fs';
import * as path from 'node:path';
import ignore, { type Ignore } from 'ignore';

/** Folders never indexed unless a `.loupeignore` re-includes them (`!vendor/`). */
export const BUILTIN_EXCLUDES = [
  '.git/',
  '.hg/',
  '.svn/',
  'node_modules/',
  '.loupe/',
  'dist/',
  'build/',
  'out/',
  'target/',
  '.venv/',
  'venv/',
  '__pycache__/',
  '.mypy_cache/',
  '.pytest_cache/',
  '.tox/',
  '.next/',
  '.nuxt/',
  '.cache/',
  'coverage/',
  '.gradle/',
  '.idea/',
  'vendor/',
  'bower_components/',
  '.terraform/',
  'package-lock.json',
  'yarn.lock',
  'pnpm-lock.yaml',
  'Cargo.lock',
  'poetry.lock',
  'go.sum',
  '*.min.js',
  '*.min.css',
  '*.map',
  '*.lock',
  // Media, archives, binaries, models and data that are not code.
  '*.png',
  '*.jpg',
  '*.jpeg',
  '*.gif',
  '*.ico',
  '*.webp',
  '*.pdf',
  '*.zip',
  '*.gz',
  '*.tgz',
  '*.bz2',
  '*.xz',
  '*.7z',
  '*.jar',
  '*.class',
  '*.o',
  '*.a',
  '*.so',
  '*.dylib',
  '*.dll',
  '*.exe',
  '*.wasm',
  '*.node',
  '*.gguf',
  '*.bin',
  '*.onnx',
  '*.safetensors',
  '*.pt',
  '*.hnsw',
  '*.sqlite',
  '*.db',
  '*.woff',
  '*.woff2',
  '*.ttf',
  '*.otf',
  '*.mp3',
  '*.mp4',
  '*.mov',
  '*.pyc',
];

export const DEFAULT_MAX_FILE_BYTES = 1024 * 1024;

/** A file the scanner decided to index. */
export interface ScannedFile {
  rel: string;
  abs: string;
  size: number;
  mtimeMs: number;
}

/**
 * Why a path was passed over: `outside-root` (a symlink whose real path leaves the indexed
 * folder), `not-a-file` (a FIFO, socket or device node: never opened), `changing` (it changed
 * twice while being read), `binary` (NUL byte, a known binary format, or mostly control bytes).
 */
export type SkipReason = 'too-large' | 'binary' | 'unreadable' | 'symlink-loop' | 'not-a-file' | 'outside-root' | 'changing';

/** A file or folder the scanner passed over, with why. */
export interface SkippedPath {
  rel: string;
  reason: SkipReason;
  detail?: string;
}

export interface ScanOptions {
  maxFileBytes?: number;
  /** Extra gitignore-style patterns (e.g. from settings), applied after the built-ins. */
  excludes?: string[];
  /** Absolute path of the store folder, always excluded when it lies inside the root. */
  storeDir?: string;
  signal?: AbortSignal;
}

export interface ScanResult {
  files: ScannedFile[];
  skipped: SkippedPath[];
  /** The rules seen during the walk, for the watcher to reuse; `rules.warnings` lists dropped patterns. */
  rules: IgnoreRules;
}

interface RuleSet {
  /** Folder of the ignore file, relative to root ('' for the root). */
  base: string;
  /** Where the patterns came from, for warnings (`pkg/.gitignore`, `settings`). */
  source: string;
  /** The kept patterns with their 1-based line in the source. */
  patterns: { text: string; line: number }[];
  ig: Ignore;
}

/** Longest pattern kept: the `ignore` library builds one regular expression per pattern. */
export const MAX_PATTERN_CHARS = 1024;
/** Most `**` in one pattern: each one multiplies the backtracking on deep paths. */
export const MAX_DOUBLE_STARS = 2;
/** Larger ignore files are not read. */
export const MAX_IGNORE_FILE_BYTES = 1024 * 1024;
/** Most patterns kept from one file. */
export const MAX_PATTERNS_PER_FILE = 10_000;
/** A rule set that takes longer than this on one path has its slow patterns timed and dropped. */
const SLOW_TEST_MS = 50;
/** A pattern that takes longer than this on one path is dropped. */
const SLOW_PATTERN_MS = 10;

/**
 * Decides what is indexed: built-in excludes, then every `.gitignore` on the way down (deeper
 * files override shallower ones, as git does), then `.loupeignore` files, which may also
 * re-include (`!vendor/`). Rule matching is the `ignore` package's, which implements git's rules.
 *
 * Ignore files are untrusted input: each pattern is compiled on its own first and one the library
 * cannot compile is dropped with a warning naming its file and line, as are patterns longer than
 * MAX_PATTERN_CHARS or with more than MAX_DOUBLE_STARS `**`. Matching time stays bounded: a rule
 * set that is slow on a path has its patterns timed on that path and the slow ones dropped.
 */
export class IgnoreRules {
  private readonly sets: RuleSet[] = [];
  /** Verdicts on folders (with trailing `/`); cleared whenever rules are added. */
  private readonly dirCache = new Map<string, boolean>();
  /** Patterns dropped, one line each: `<file>:<line>: <why>`. */
  readonly warnings: string[] = [];

  constructor(
    builtins: string[],
    private readonly root: string,
  ) {
    this.push(
      '',
      'built-in excludes',
      builtins.map((text, i) => ({ text, line: i + 1 })),
    );
  }

  /** Loads `.gitignore` and `.loupeignore` of one folder (relative path), if present. */
  async loadFolder(relDir: string): Promise<void> {
    for (const name of ['.gitignore', '.loupeignore']) {
      let text: string;
      try {
        const file = path.join(this.root, relDir, name);
        // Only a regular file of sane size is read, and not through a symlink (as git does since
        // 2.32): a FIFO named .gitignore would block the scan, a link could lead anywhere.
        const st = await fsp.lstat(file);
        if (!st.isFile()) {
          if (st.isSymbolicLink() || !st.isDirectory())
            this.warnings.push(
              `${relDir ? `${relDir}/` : ''}${name}: not read (${st.isSymbolicLink() ? 'a symlink' : 'not a regular file'})`,
            );
          continue;
        }
        if (st.size > MAX_IGNORE_FILE_BYTES) {
          this.warnings.push(`${relDir ? `${relDir}/` : ''}${name}: not read (${st.size} bytes > ${MAX_IGNORE_FILE_BYTES})`);
          continue;
        }
        text = await fsp.readFile(file, 'utf8');
      } catch {
        continue;
      }
      const lines = text.split('\n').map((t, i) => ({ text: t.endsWith('\r') ? t.slice(0, -1) : t, line: i + 1 }));
      this.push(relDir, relDir ? `${relDir}/${name}` : name, lines);
    }
  }

  /** Adds patterns relative to the root. */
  add(patterns: string[], source = 'exclude settings'): void {
    if (patterns.length)
      this.push(
        '',
        source,
        patterns.map((text, i) => ({ text, line: i + 1 })),
      );
  }

  private push(base: string, source: string, lines: { text: string; line: number }[]): void {
    const kept: { text: string; line: number }[] = [];
    for (const l of lines) {
      const t = l.text.trim();
      if (!t || t.startsWith('#')) continue;
      const why = patternProblem(l.text);
      if (why) {
        this.warn(source, l.line, why);
        continue;
      }
      if (kept.length >= MAX_PATTERNS_PER_FILE) {
        this.warn(source, l.line, `more than ${MAX_PATTERNS_PER_FILE} patterns; the rest of the file is ignored`);
        break;
      }
      kept.push(l);
    }
    if (!kept.length) return;
    this.sets.push({ base, source, patterns: kept, ig: ignore().add(kept.map((k) => k.text)) });
    this.dirCache.clear();
  }

  private warn(source: string, line: number, why: string): void {
    this.warnings.push(`${source}:${line}: pattern skipped (${why})`);
  }

  /** Times each pattern of a slow set on `sub` and rebuilds the set without those that are slow. */
  private pruneSlow(set: RuleSet, sub: string): void {
    const keep = set.patterns.filter((p) => {
      const one = ignore().add(p.text);
      const t0 = performance.now();
      one.test(sub);
      const ms = performance.now() - t0;
      if (ms <= SLOW_PATTERN_MS) return true;
      this.warn(set.source, p.line, `too slow to match: ${Math.round(ms)} ms on one path`);
      return false;
    });
    if (keep.length === set.patterns.length) return;
    set.patterns = keep;
    set.ig = ignore().add(keep.map((k) => k.text));
    this.dirCache.clear();
  }

  /** True when `rel` (a `/` path) is excluded: its folder is, or the rules exclude the path itself. */
  isIgnored(rel: string, isDir: boolean): boolean {
    const p = isDir && !rel.endsWith('/') ? rel + '/' : rel;
    const parent = parentOf(p);
    if (parent && this.dirIgnored(parent)) return true;
    return this.ownDecision(p);
  }

  private dirIgnored(dir: string): boolean {
    let v = this.dirCache.get(dir);
    if (v === undefined) {
      const parent = parentOf(dir);
      v = (parent !== '' && this.dirIgnored(parent)) || this.ownDecision(dir);
      this.dirCache.set(dir, v);
    }
    return v;
  }

  /**
   * The rules' verdict on `p` itself, its folder being included. The `ignore` package also
   * reports a path as ignored when a parent folder is; that inherited verdict is dropped here,
   * because a later rule set (a deeper `.gitignore`, or `.loupeignore`'s `!vendor/`) may have
   * re-included the folder. Later sets override earlier ones, as deeper files do in git.
   */
  private ownDecision(p: string): boolean {
    let ignored = false;
    for (const set of this.sets) {
      if (set.base && !p.startsWith(set.base + '/')) continue;
      const sub = set.base ? p.slice(set.base.length + 1) : p;
      if (!sub) continue;
      const t0 = performance.now();
      let r = set.ig.test(sub);
      if (performance.now() - t0 > SLOW_TEST_MS) {
        this.pruneSlow(set, sub);
        r = set.ig.test(sub);
      }
      if (r.ignored) {
        const subParent = parentOf(sub);
        const inherited = subParent !== '' && set.ig.test(subParent).rule?.pattern === r.rule?.pattern;
        if (!inherited) ignored = true;
      } else if (r.unignored) {
        ignored = false;
      }
    }
    return ignored;
  }
}

/** Why a pattern cannot be used, or null: too long, too many `**`, or not compilable by `ignore`. */
function patternProblem(pattern: string): string | null {
  if (pattern.length > MAX_PATTERN_CHARS) return `longer than ${MAX_PATTERN_CHARS} characters`;
  const stars = pattern.match(/\*\*/g)?.length ?? 0;
  if (stars > MAX_DOUBLE_STARS) return `more than ${MAX_DOUBLE_STARS} '**'`;
  try {
    // The library compiles lazily, on first use: both of its expressions are built here.
    const ig = ignore().add(pattern);
    ig.test('a');
    ig.ignores('a');
    ig.test('a/b/');
  } catch (e) {
    return `cannot be compiled: ${(e as Error).message.split('\n')[0].slice(0, 120)}`;
  }
  return null;
}

/** `a/b/c.ts` → `a/b/`, `a/b/` → `a/`, `a` → ''. */
function parentOf(p: string): string {
  const trimmed = p.endsWith('/') ? p.slice(0, -1) : p;
  const i = trimmed.lastIndexOf('/');
  return i < 0 ? '' : trimmed.slice(0, i + 1);
}

/**
 * Magic numbers of binary formats that may carry a text-looking extension (a `.ai` file that is a
 * PDF) or no NUL byte in their first kilobytes (PDF, compressed streams).
 */
const MAGIC: { name: string; at?: number; bytes: (number | string)[] }[] = [
  { name: 'PDF document', bytes: ['%PDF-'] },
  { name: 'PNG image', bytes: [0x89, 'PNG\r\n', 0x1a, '\n'] },
  { name: 'JPEG image', bytes: [0xff, 0xd8, 0xff] },
  { name: 'GIF image', bytes: ['GIF87a'] },
  { name: 'GIF image', bytes: ['GIF89a'] },
  { name: 'ZIP archive (also JAR, DOCX, XLSX)', bytes: ['PK', 3, 4] },
  { name: 'ZIP archive (also JAR, DOCX, XLSX)', bytes: ['PK', 5, 6] },
  { name: 'ZIP archive (also JAR, DOCX, XLSX)', bytes: ['PK', 7, 8] },
  { name: 'gzip data', bytes: [0x1f, 0x8b] },
  { name: 'xz data', bytes: [0xfd, '7zXZ', 0] },
  { name: '7-Zip archive', bytes: ['7z', 0xbc, 0xaf, 0x27, 0x1c] },
  { name: 'WOFF font', bytes: ['wOFF'] },
  { name: 'WOFF2 font', bytes: ['wOF2'] },
  { name: 'TrueType font', bytes: [0, 1, 0, 0, 0] },
  { name: 'OpenType font', bytes: ['OTTO', 0] },
  { name: 'TrueType collection', bytes: ['ttcf', 0] },
  { name: 'ELF binary', bytes: [0x7f, 'ELF'] },
  { name: 'Mach-O binary', bytes: [0xfe, 0xed, 0xfa, 0xce] },
  { name: 'Mach-O binary', bytes: [0xfe, 0xed, 0xfa, 0xcf] },
  { name: 'Mach-O binary', bytes: [0xce, 0xfa, 0xed, 0xfe] },
  { name: 'Mach-O binary', bytes: [0xcf, 0xfa, 0xed, 0xfe] },
  { name: 'Mach-O universal binary or Java class', bytes: [0xca, 0xfe, 0xba, 0xbe] },
  { name: 'WebAssembly module', bytes: [0, 'asm'] },
  { name: 'SQLite database', bytes: ['SQLite format 3', 0] },
];

const MAGIC_BYTES = MAGIC.map((m) => ({
  name: m.name,
  bytes: Uint8Array.from(m.bytes.flatMap((b) => (typeof b === 'number' ? [b] : [...b].map((c) => c.charCodeAt(0))))),
}));

/** Control bytes that do not occur in text: all below 0x20 except tab, LF, VT, FF, CR and ESC, and DEL. */
function isControl(c: number): boolean {
  return (c < 0x20 && c !== 9 && c !== 10 && c !== 11 && c !== 12 && c !== 13 && c !== 27) || c === 0x7f;
}

/** Share of control characters above which content counts as binary (random bytes give ~11%). */
const MAX_CONTROL_RATIO = 0.05;

/**
 * Why the first bytes of a file are not text, or null when they look like text: a NUL byte (as
 * git decides), the magic number of a common binary format, or more than 5% control bytes. A
 * UTF-16 file with a BOM is text (its NULs are half of its ASCII characters).
 */
export function sniffBinary(head: Uint8Array): string | null {
  for (const m of MAGIC_BYTES) {
    if (head.length >= m.bytes.length && m.bytes.every((b, i) => head[i] === b)) return m.name;
  }
  // A PE executable starts with `MZ` and names the offset of its `PE\0\0` header at 0x3c.
  if (head.length >= 0x40 && head[0] === 0x4d && head[1] === 0x5a) {
    const pe = head[0x3c] | (head[0x3d] << 8) | (head[0x3e] << 16);
    if (pe + 4 <= head.length && head[pe] === 0x50 && head[pe + 1] === 0x45 && head[pe + 2] === 0 && head[pe + 3] === 0)
      return 'Windows executable (PE)';
  }
  if (utf16Bom(head)) {
    const text = decodeText(head.subarray(0, head.length - (head.length % 2)));
    let control = 0;
    for (let i = 0; i < text.length; i++) if (isControl(text.charCodeAt(i))) control++;
    return text.length >= 16 && control / text.length > MAX_CONTROL_RATIO ? 'mostly control characters (UTF-16)' : null;
  }
  if (head.includes(0)) return 'NUL byte in the first 8 KiB';
  let control = 0;
  for (const c of head) if (isControl(c)) control++;
  if (head.length >= 16 && control / head.length > MAX_CONTROL_RATIO)
    return `mostly control bytes (${Math.round((100 * control) / head.length)}% of the first ${head.length})`;
  return null;
}

function utf16Bom(b: Uint8Array): boolean {
  return b.length >= 2 && ((b[0] === 0xff && b[1] === 0xfe) || (b[0] === 0xfe && b[1] === 0xff));
}

/** True when the first bytes look binary (see {@link sniffBinary}). */
export function looksBinary(head: Uint8Array): boolean {
  return sniffBinary(head) !== null;
}

/**
 * Decodes file bytes to text without ever throwing: UTF-8 (BOM stripped), UTF-16 by BOM, and
 * invalid UTF-8 falls back to Latin-1 so every byte maps to one character and line numbers stay true.
 */
export function decodeText(buf: Uint8Array): string {
  if (buf.length >= 2 && buf[0] === 0xff && buf[1] === 0xfe) return new TextDecoder('utf-16le').decode(buf.subarray(2));
  if (buf.length >= 2 && buf[0] === 0xfe && buf[1] === 0xff) return new TextDecoder('utf-16be').decode(buf.subarray(2));
  const start = buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(start));
  } catch {
    return new TextDecoder('latin1').decode(buf);
  }
}

/** True when `real` is `realRoot` or lies below it (both real, absolute paths). */
export function isInside(realRoot: string, real: string): boolean {
  if (real === realRoot) return true;
  const prefix = realRoot.endsWith(path.sep) ? realRoot : realRoot + path.sep;
  return real.startsWith(prefix);
}

/** What a non-regular, non-folder entry is, for a skip line. */
function kindOf(st: Pick<Stats, 'isFIFO' | 'isSocket' | 'isCharacterDevice' | 'isBlockDevice' | 'isSymbolicLink'>): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSymbolicLink()) return 'a symlink';
  return 'not a regular file';
}

/**
 * Walks `root` and lists indexable files. Only regular files and folders are listed: FIFOs,
 * sockets and device nodes are reported and never opened. A symlink is followed only when its
 * real path stays inside the root; folders reached through links are walked after every real
 * folder, and a folder reached twice (a loop, or a link to a folder already walked) is skipped.
 * Unreadable folders and files are reported, not fatal.
 */
export async function scanTree(root: string, opts: ScanOptions = {}): Promise<ScanResult> {
  const maxBytes = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const absRoot = path.resolve(root);
  const realRoot = await fsp.realpath(absRoot).catch(() => absRoot);
  const rules = new IgnoreRules(BUILTIN_EXCLUDES, absRoot);
  rules.add(opts.excludes ?? []);
  const storeRel = opts.storeDir ? path.relative(absRoot, path.resolve(opts.storeDir)).split(path.sep).join('/') : '';
  if (storeRel && !storeRel.startsWith('..') && !path.isAbsolute(storeRel)) rules.add(['/' + storeRel + '/'], 'store folder');
  const realStore = opts.storeDir ? await fsp.realpath(opts.storeDir).catch(() => path.resolve(opts.storeDir!)) : null;

  const files: ScannedFile[] = [];
  const skipped: SkippedPath[] = [];
  const seenDirs = new Set<string>();
  /** Folders reached through a symlink, walked once every real folder has been. */
  const linked: string[] = [];

  const walk = async (relDir: string): Promise<void> => {
    opts.signal?.throwIfAborted();
    const absDir = relDir ? path.join(absRoot, relDir) : absRoot;
    let real: string;
    try {
      const st = await fsp.stat(absDir);
      real = `${st.dev}:${st.ino}`;
    } catch (e) {
      skipped.push({ rel: relDir || '.', reason: 'unreadable', detail: (e as Error).message });
      return;
    }
    if (seenDirs.has(real)) {
      skipped.push({ rel: relDir, reason: 'symlink-loop', detail: 'a folder already indexed under another path' });
      return;
    }
    seenDirs.add(real);
    await rules.loadFolder(relDir);
    let entries;
    try {
      entries = await fsp.readdir(absDir, { withFileTypes: true });
    } catch (e) {
      skipped.push({ rel: relDir || '.', reason: 'unreadable', detail: (e as Error).message });
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const ent of entries) {
      const rel = relDir ? `${relDir}/${ent.name}` : ent.name;
      const abs = path.join(absDir, ent.name);
      let isDir = ent.isDirectory();
      let isFile = ent.isFile();
      let st: Stats | undefined;
      if (ent.isSymbolicLink()) {
        let target: string;
        try {
          target = await fsp.realpath(abs);
          st = await fsp.stat(target);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          const detail = code === 'ENOENT' ? 'a broken symlink (its target does not exist)' : (e as Error).message;
          skipped.push({ rel, reason: 'unreadable', detail });
          continue;
        }
        if (!isInside(realRoot, target) || (realStore && isInside(realStore, target))) {
          if (!rules.isIgnored(rel, st.isDirectory())) skipped.push({ rel, reason: 'outside-root', detail: `a symlink to ${target}` });
          continue;
        }
        isDir = st.isDirectory();
        isFile = st.isFile();
        if (isDir) {
          if (!rules.isIgnored(rel, true)) linked.push(rel);
          continue;
        }
      }
      if (rules.isIgnored(rel, isDir)) continue;
      if (isDir) {
        await walk(rel);
        continue;
      }
      if (!isFile) {
        try {
          st ??= await fsp.lstat(abs);
          skipped.push({ rel, reason: 'not-a-file', detail: kindOf(st) });
        } catch {
          // Gone meanwhile.
        }
        continue;
      }
      try {
        st ??= await fsp.stat(abs);
      } catch (e) {
        skipped.push({ rel, reason: 'unreadable', detail: (e as Error).message });
        continue;
      }
      if (st.size > maxBytes) {
        skipped.push({ rel, reason: 'too-large', detail: `${st.size} bytes > ${maxBytes}` });
        continue;
      }
      files.push({ rel, abs, size: st.size, mtimeMs: st.mtimeMs });
    }
  };
  await walk('');
  while (linked.length) await walk(linked.shift()!);
  return { files, skipped, rules };
}

/** Bytes sniffed for binary content. */
const SNIFF_BYTES = 8192;

/** Options of {@link readSourceFile}. */
export interface ReadOptions {
  /** The indexed folder: a file whose real path lies outside it is not read. */
  root?: string;
  /** Larger files are not read. */
  maxBytes?: number;
}

/** What {@link readSourceFile} gives: the text with the size and mtime it had when read, or why not. */
export type ReadResult = { text: string; size: number; mtimeMs: number } | { skip: SkipReason; detail: string };

const realRoots = new Map<string, Promise<string>>();

/**
 * Reads a file to index it. Only a regular file is opened: its real path must stay inside
 * `root`, `lstat` must say regular file, and `fstat` on the opened descriptor must agree (same
 * inode), so a file swapped for a FIFO or a device between the checks is caught; it is opened
 * non-blocking, so even then the open itself cannot hang. A file that changes while it is read
 * is read again once, then skipped (`changing`); never half-indexed. Binary content is skipped.
 */
export async function readSourceFile(abs: string, opts: ReadOptions = {}): Promise<ReadResult> {
  let r = await readOnce(abs, opts);
  if (r === 'changed') r = await readOnce(abs, opts);
  return r === 'changed' ? { skip: 'changing', detail: 'it changed while it was read, twice' } : r;
}

async function readOnce(abs: string, opts: ReadOptions): Promise<ReadResult | 'changed'> {
  const maxBytes = opts.maxBytes ?? Infinity;
  let real: string;
  let lst: Stats;
  try {
    real = await fsp.realpath(abs);
    if (opts.root) {
      const root = path.resolve(opts.root);
      let rootReal = realRoots.get(root);
      if (!rootReal) realRoots.set(root, (rootReal = fsp.realpath(root).catch(() => root)));
      const realRoot = await rootReal;
      if (!isInside(realRoot, real)) return { skip: 'outside-root', detail: `its real path ${real} is outside ${realRoot}` };
    }
    lst = await fsp.lstat(real);
  } catch (e) {
    return { skip: 'unreadable', detail: (e as Error).message };
  }
  if (!lst.isFile()) return { skip: 'not-a-file', detail: kindOf(lst) };
  if (lst.size > maxBytes) return { skip: 'too-large', detail: `${lst.size} bytes > ${maxBytes}` };
  let fh: import('node:fs/promises').FileHandle;
  try {
    fh = await fsp.open(real, fsc.O_RDONLY | (fsc.O_NONBLOCK ?? 0) | (fsc.O_NOFOLLOW ?? 0));
  } catch (e) {
    return { skip: 'unreadable', detail: (e as Error).message };
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return { skip: 'not-a-file', detail: `${kindOf(st)} (swapped in while being opened)` };
    if (st.ino !== lst.ino || st.dev !== lst.dev) return 'changed';
    if (st.size > maxBytes) return { skip: 'too-large', detail: `${st.size} bytes > ${maxBytes}` };
    // One byte more than the size: a file that grew meanwhile is told from one that did not.
    const buf = Buffer.allocUnsafe(st.size + 1);
    let n = 0;
    while (n < buf.length) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (!bytesRead) break;
      n += bytesRead;
    }
    const after = await fh.stat();
    if (n !== st.size || after.size !== st.size || after.mtimeMs !== st.mtimeMs) return 'changed';
    const bytes = buf.subarray(0, n);
    const binary = sniffBinary(bytes.subarray(0, SNIFF_BYTES));
    if (binary) return { skip: 'binary', detail: binary };
    return { text: decodeText(bytes), size: st.size, mtimeMs: st.mtimeMs };
  } catch (e) {
    return { skip: 'unreadable', detail: (e as Error).message };
  } finally {
    await fh.close().catch(() => undefined);
  }
}
