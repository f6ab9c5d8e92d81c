import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import ignore, { type Ignore } from 'ignore';

/** Folders never indexed unless a `.loupeignore` re-includes them (`!vendor/`). */
export const BUILTIN_EXCLUDES = [
  '.git/', '.hg/', '.svn/', 'node_modules/', '.loupe/', 'dist/', 'build/', 'out/', 'target/',
  '.venv/', 'venv/', '__pycache__/', '.mypy_cache/', '.pytest_cache/', '.tox/', '.next/', '.nuxt/',
  '.cache/', 'coverage/', '.gradle/', '.idea/', 'vendor/', 'bower_components/', '.terraform/',
  'package-lock.json', 'yarn.lock', 'pnpm-lock.yaml', 'Cargo.lock', 'poetry.lock', 'go.sum',
  '*.min.js', '*.min.css', '*.map', '*.lock',
  // Media, archives, binaries, models and data that are not code.
  '*.png', '*.jpg', '*.jpeg', '*.gif', '*.ico', '*.webp', '*.pdf', '*.zip', '*.gz', '*.tgz', '*.bz2', '*.xz',
  '*.7z', '*.jar', '*.class', '*.o', '*.a', '*.so', '*.dylib', '*.dll', '*.exe', '*.wasm', '*.node',
  '*.gguf', '*.bin', '*.onnx', '*.safetensors', '*.pt', '*.hnsw', '*.sqlite', '*.db', '*.woff', '*.woff2',
  '*.ttf', '*.otf', '*.mp3', '*.mp4', '*.mov', '*.pyc',
];

export const DEFAULT_MAX_FILE_BYTES = 1024 * 1024;

/** A file the scanner decided to index. */
export interface ScannedFile {
  rel: string;
  abs: string;
  size: number;
  mtimeMs: number;
}

/** A file or folder the scanner passed over, with why. */
export interface SkippedPath {
  rel: string;
  reason: 'too-large' | 'binary' | 'unreadable' | 'symlink-loop' | 'not-a-file';
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
  /** The rules seen during the walk, for the watcher to reuse. */
  rules: IgnoreRules;
}

interface RuleSet {
  /** Folder of the ignore file, relative to root ('' for the root). */
  base: string;
  ig: Ignore;
}

/**
 * Decides what is indexed: built-in excludes, then every `.gitignore` on the way down (deeper
 * files override shallower ones, as git does), then `.loupeignore` files, which may also
 * re-include (`!vendor/`). Rule matching is the `ignore` package's, which implements git's rules.
 */
export class IgnoreRules {
  private readonly sets: RuleSet[] = [];
  /** Verdicts on folders (with trailing `/`); cleared whenever rules are added. */
  private readonly dirCache = new Map<string, boolean>();

  constructor(builtins: string[], private readonly root: string) {
    this.sets.push({ base: '', ig: ignore().add(builtins) });
  }

  /** Loads `.gitignore` and `.loupeignore` of one folder (relative path), if present. */
  async loadFolder(relDir: string): Promise<void> {
    for (const name of ['.gitignore', '.loupeignore']) {
      let text: string;
      try {
        text = await fsp.readFile(path.join(this.root, relDir, name), 'utf8');
      } catch {
        continue;
      }
      this.sets.push({ base: relDir, ig: ignore().add(text) });
      this.dirCache.clear();
    }
  }

  /** Adds patterns relative to the root. */
  add(patterns: string[]): void {
    if (patterns.length) this.sets.push({ base: '', ig: ignore().add(patterns) });
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
      const r = set.ig.test(sub);
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

/** `a/b/c.ts` → `a/b/`, `a/b/` → `a/`, `a` → ''. */
function parentOf(p: string): string {
  const trimmed = p.endsWith('/') ? p.slice(0, -1) : p;
  const i = trimmed.lastIndexOf('/');
  return i < 0 ? '' : trimmed.slice(0, i + 1);
}

/** True when the first bytes look binary (a NUL byte, as git decides). */
export function looksBinary(head: Uint8Array): boolean {
  return head.includes(0);
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

/**
 * Walks `root` and lists indexable files. Symlinks are followed once; a folder reached twice
 * (a loop or a second link) is skipped. Unreadable folders and files are reported, not fatal.
 */
export async function scanTree(root: string, opts: ScanOptions = {}): Promise<ScanResult> {
  const maxBytes = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const absRoot = path.resolve(root);
  const rules = new IgnoreRules(BUILTIN_EXCLUDES, absRoot);
  rules.add(opts.excludes ?? []);
  const storeRel = opts.storeDir ? path.relative(absRoot, path.resolve(opts.storeDir)).split(path.sep).join('/') : '';
  if (storeRel && !storeRel.startsWith('..') && !path.isAbsolute(storeRel)) rules.add(['/' + storeRel + '/']);

  const files: ScannedFile[] = [];
  const skipped: SkippedPath[] = [];
  const seenDirs = new Set<string>();

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
      skipped.push({ rel: relDir, reason: 'symlink-loop' });
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
      let st: import('node:fs').Stats | undefined;
      if (ent.isSymbolicLink()) {
        try {
          st = await fsp.stat(abs);
          isDir = st.isDirectory();
          isFile = st.isFile();
        } catch (e) {
          skipped.push({ rel, reason: 'unreadable', detail: (e as Error).message });
          continue;
        }
      }
      if (rules.isIgnored(rel, isDir)) continue;
      if (isDir) {
        await walk(rel);
        continue;
      }
      if (!isFile) continue;
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
  return { files, skipped, rules };
}

/** Reads a scanned file: null with a reason when it is binary or unreadable. */
export async function readSourceFile(abs: string): Promise<{ text: string } | { skip: SkippedPath['reason']; detail: string }> {
  let buf: Buffer;
  try {
    buf = await fsp.readFile(abs);
  } catch (e) {
    return { skip: 'unreadable', detail: (e as Error).message };
  }
  const head = buf.subarray(0, 8192);
  const utf16 = head.length >= 2 && ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff));
  if (!utf16 && looksBinary(head)) return { skip: 'binary', detail: 'NUL byte in the first 8 KiB' };
  return { text: decodeText(buf) };
}
