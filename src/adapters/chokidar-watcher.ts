/**
 * WatcherPort on chokidar 5, watching folders only.
 *
 * Why folders only: chokidar 5 puts one `fs.watch` (one inotify watch on Linux) on every file,
 * and Node 20's `fs.watch(dir, {recursive: true})` does the same on Linux. Measured on a
 * 10k-file / 100-folder tree: 10,101 watches either way, against 101 when chokidar is told to
 * ignore every non-directory. A folder's inotify watch already reports its files' creations,
 * writes, deletions and renames by name, and chokidar re-emits those as `raw` events; this
 * adapter turns them into file events by `stat`-ing the named entry and comparing with a
 * per-folder inventory of file names. chokidar still does the tree walk, the ignore filtering,
 * folder add/remove tracking and error reporting.
 *
 * When the OS runs out of watches (ENOSPC/EMFILE), every watch is released and the adapter
 * falls back to asking for a full re-scan every `pollIntervalMs`.
 */
import { readdir, stat } from 'node:fs/promises';
import { lstatSync, realpathSync, statSync, type Stats } from 'node:fs';
import * as path from 'node:path';
import { FSWatcher } from 'chokidar';
import { ChangeQueue, type FsEventKind } from '../core/debounce.js';
import { LoupeError, silentLogger, type FileChangeBatch, type Logger, type WatcherPort } from '../core/types.js';

/** Options of {@link ChokidarWatcher}. */
export interface ChokidarWatcherOptions {
  /** Folder to watch. */
  root: string;
  /** The scanner's rules (gitignore, `.loupe`, …) on a `/`-separated relative path; ignored folders are never watched. */
  isIgnored: (relPath: string, isDir: boolean) => boolean;
  /** A batch is sent once the tree was quiet this long (default 300). */
  debounceMs?: number;
  /** During a continuous burst a batch is sent at least this often (default 2000). */
  maxWaitMs?: number;
  /** Re-scan period once the watch limit forced polling (default 30000). */
  pollIntervalMs?: number;
  logger?: Logger;
  /**
   * Test hook: behave as if the OS refused watches beyond this many folders. It raises a
   * synthetic ENOSPC through chokidar's `error` event, the path a real limit takes.
   */
  maxWatches?: number;
}

type Mode = 'new' | 'starting' | 'events' | 'polling' | 'closed';

/**
 * chokidar's FSWatcher, told when a folder's own watch is in place. chokidar has no public event
 * for that; `_addPathCloser` runs right after it. Listing a new folder only then closes the gap
 * where a file written between the listing and the watch would be missed (seen in a 200-file burst).
 */
class FolderWatcher extends FSWatcher {
  onWatching: ((path: string) => void) | undefined;
  override _addPathCloser(p: string, closer: () => void): void {
    super._addPathCloser(p, closer);
    this.onWatching?.(p);
  }

  /**
   * Makes chokidar drop a folder that was replaced under the same name, with its watches and
   * everything below it, and walk the path again when something is there now. chokidar alone
   * keeps the old watch, which followed the renamed folder, and never sees the new one.
   */
  rewatch(abs: string, again: boolean): void {
    const self = this as unknown as { _remove?: (dir: string, item: string, isDirectory?: boolean) => void };
    self._remove?.(path.dirname(abs), path.basename(abs), true);
    if (again) this.add(abs);
  }
}
/** If a later chokidar drops the hook, folders are listed on `addDir` (a small window, as before). */
const HOOKED = typeof (FSWatcher.prototype as Partial<FolderWatcher>)._addPathCloser === 'function';

/** Error codes that mean "no more watches": fall back to polling instead of failing. */
const LIMIT_CODES = new Set(['ENOSPC', 'EMFILE', 'ENFILE']);

/**
 * Where file events are not queued by the kernel during the write itself (FSEvents on macOS,
 * ReadDirectoryChangesW on Windows), how long {@link ChokidarWatcher.catchUp} lets them arrive.
 */
const ASYNC_EVENTS_GRACE_MS = 25;
/** How long a new folder is waited for until chokidar reports and lists it (it may be gone again). */
const NEW_DIR_WAIT_MS = 2000;

/** Watches a tree with one OS watch per folder and reports coalesced batches. */
export class ChokidarWatcher implements WatcherPort {
  /** Absolute root; replaced by its real path on start (chokidar reports paths under that). */
  private root: string;
  private readonly debounceMs: number;
  private readonly maxWaitMs: number;
  private readonly pollIntervalMs: number;
  private readonly logger: Logger;
  private mode: Mode = 'new';
  private fsw: FSWatcher | undefined;
  private closingFsw: Promise<void> | undefined;
  private queue: ChangeQueue | undefined;
  /** Watched folders (relative, '' for the root) and the names of the files directly in each. */
  private readonly dirs = new Map<string, Set<string>>();
  /** Identity (`dev:ino`) of each listed folder, to tell a folder replaced under the same name. */
  private readonly dirIds = new Map<string, string>();
  /**
   * Known folders whose name was created, deleted or moved in their parent since the last check.
   * Such a folder that still exists is a new one even with the same inode (`rm -rf` + `mkdir`
   * reuses inode numbers), so it is walked again.
   */
  private readonly renamedDirs = new Set<string>();
  /** Paths with a `stat` in flight; `true` when another event came meanwhile and a re-check is due. */
  private readonly checking = new Map<string, boolean>();
  /** Folder inventories being read. */
  private readonly listing = new Set<Promise<void>>();
  /** Folders seen by `addDir` but not listed yet (their watch is being set up); value: part of the initial walk. */
  private readonly unlisted = new Map<string, boolean>();
  /**
   * Folders that appeared after the initial walk and are not listed yet (relative path → when
   * seen): their files are not in the queue yet, so {@link catchUp} waits for them.
   */
  private readonly newDirs = new Map<string, number>();
  private ready = false;
  private pollTimer: ReturnType<typeof setInterval> | undefined;
  private fallbackReason = '';
  private resolveStarted: (() => void) | undefined;

  constructor(private readonly opts: ChokidarWatcherOptions) {
    if (!opts || typeof opts.root !== 'string' || opts.root === '') {
      throw new LoupeError('Watcher: `root` must be a folder path.', 'WATCH_BAD_OPTIONS');
    }
    if (typeof opts.isIgnored !== 'function') {
      throw new LoupeError('Watcher: `isIgnored(relPath, isDir)` must be a function.', 'WATCH_BAD_OPTIONS');
    }
    this.root = path.resolve(opts.root);
    this.debounceMs = opts.debounceMs ?? 300;
    this.maxWaitMs = opts.maxWaitMs ?? 2000;
    this.pollIntervalMs = opts.pollIntervalMs ?? 30_000;
    if (!(this.pollIntervalMs > 0)) {
      throw new LoupeError(`Watcher: pollIntervalMs must be > 0, got ${this.pollIntervalMs}.`, 'WATCH_BAD_OPTIONS');
    }
    this.logger = opts.logger ?? silentLogger;
  }

  /** Starts watching; resolves once the initial walk is done (or polling took over). */
  async start(onBatch: (batch: FileChangeBatch) => Promise<void>): Promise<void> {
    if (this.mode !== 'new') throw new LoupeError('Watcher: start() may be called once.', 'WATCH_STATE');
    let root: string;
    try {
      root = realpathSync(this.root);
      if (!statSync(root).isDirectory()) throw new Error('not a directory');
    } catch (err) {
      throw new LoupeError(`Cannot watch ${this.root}: ${(err as Error).message}. Pass an existing folder.`, 'WATCH_ROOT');
    }
    this.root = root;
    this.mode = 'starting';
    this.queue = new ChangeQueue({
      debounceMs: this.debounceMs,
      maxWaitMs: this.maxWaitMs,
      onBatch,
      onError: (err) => this.logger.error(`Watcher: handling a batch of changes failed: ${String(err)}`),
      // A path whose stat is in flight may be mid-write: without this, a stat slower than the
      // debounce (a loaded machine) let the batch go out and the stat's result made a second one.
      isBusy: (rel) => this.checking.has(rel),
    });
    const started = new Promise<void>((resolve) => (this.resolveStarted = resolve));
    const fsw = new FolderWatcher({
      ignored: (p: string, stats?: Stats) => this.chokidarIgnored(p, stats),
      ignoreInitial: false, // the initial addDir events build the inventory
      followSymlinks: false, // stay inside the tree, no cycles
      ignorePermissionErrors: true,
      persistent: true,
    });
    this.fsw = fsw;
    fsw.onWatching = (p) => this.onWatching(p);
    fsw.on('addDir', (p: string) => this.onAddDir(p, !this.ready));
    fsw.on('unlinkDir', (p: string) => this.onUnlinkDir(p));
    fsw.on('raw', (event, name, details) =>
      this.onRaw(name as string | null, (details as { watchedPath?: string } | undefined)?.watchedPath, event),
    );
    fsw.on('error', (err: unknown) => this.onError(err));
    fsw.on('ready', () => {
      this.ready = true;
      // Deletions are told from the inventory, so it must be complete before start() returns.
      void this.settle().then(() => {
        if (this.mode !== 'starting') return;
        this.mode = 'events';
        this.logger.info(`Watcher: ${this.describe()} under ${this.root}`);
        this.resolveStarted?.();
      });
    });
    fsw.add(root);
    await started;
  }

  /** `events, N folders`, or `polling every S s: <reason>`. */
  describe(): string {
    switch (this.mode) {
      case 'new':
        return 'not started';
      case 'starting':
        return `starting, ${this.dirs.size} folders so far`;
      case 'events':
        return `events, ${this.dirs.size} folders`;
      case 'polling':
        return `polling every ${this.pollSeconds()} s: ${this.fallbackReason}`;
      case 'closed':
        return 'closed';
    }
  }

  /** Stops every watch and timer; resolves after a batch already running has finished. */
  async close(): Promise<void> {
    if (this.mode === 'closed') return;
    this.mode = 'closed';
    this.resolveStarted?.();
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = undefined;
    this.releaseWatches();
    await this.closingFsw;
    await this.queue?.close();
    this.dirs.clear();
    this.newDirs.clear();
  }

  /** True while file events arrive (the initial walk done, not fallen back to polling). */
  get live(): boolean {
    return this.mode === 'events';
  }

  /** Resolves when no event is waiting and no batch is running (for tests and orderly shutdown). */
  async idle(): Promise<void> {
    await this.settle();
    await this.queue?.idle();
  }

  /**
   * Resolves once the changes made on disk before the call have reached `onBatch` and it has
   * finished: what a search asked for after a write needs. On Linux, inotify queues an event
   * during the write's system call, so an event written before the request arrived is read by
   * the event loop's poll phase at the latest in the loop turn that delivered the request: two
   * turns of the loop are enough (measured: test/bench/results/watch-latency-*.json), and a
   * sync with nothing pending costs microseconds instead of a fixed wait. Elsewhere events
   * arrive asynchronously after the write, so a short grace is kept.
   */
  async catchUp(): Promise<void> {
    if (process.platform === 'linux') {
      // A second turn covers a loop turn that left ready descriptors for the next one.
      for (let i = 0; i < 2; i++) await new Promise((r) => setImmediate(r));
    } else {
      await new Promise((r) => setTimeout(r, ASYNC_EVENTS_GRACE_MS));
    }
    await this.idle();
  }

  /** Waits until no folder listing, no stat and no new folder's set-up is in flight. */
  private async settle(): Promise<void> {
    for (;;) {
      if (this.listing.size > 0) await Promise.allSettled([...this.listing]);
      else if (this.checking.size > 0 || this.awaitingNewDir()) await new Promise((r) => setTimeout(r, 5));
      else return;
    }
  }

  /** True while a new folder waits for chokidar to watch it; forgets those waited for too long. */
  private awaitingNewDir(): boolean {
    const now = Date.now();
    for (const [rel, since] of this.newDirs) {
      if (now - since < NEW_DIR_WAIT_MS) return true;
      this.newDirs.delete(rel); // never reported: gone again, or chokidar could not watch it
    }
    return false;
  }

  private pollSeconds(): number {
    return Number((this.pollIntervalMs / 1000).toFixed(1));
  }

  private toRel(abs: string): string {
    const rel = path.relative(this.root, abs);
    return path.sep === '/' ? rel : rel.split(path.sep).join('/');
  }

  /** chokidar's `ignored`: every non-folder (so files get no watch of their own) and the scanner's folders. */
  private chokidarIgnored(p: string, stats?: Stats): boolean {
    const rel = this.toRel(p);
    if (rel === '' || rel === '..' || rel.startsWith('../')) return false;
    if (stats) return !stats.isDirectory() || this.opts.isIgnored(rel, true);
    // Called without stats before chokidar stats an entry: ignore only what is ignored either way.
    return this.opts.isIgnored(rel, true) && this.opts.isIgnored(rel, false);
  }

  /** A folder appeared (or was found by the initial walk); `initial` ones are the scanner's business. */
  private onAddDir(abs: string, initial: boolean): void {
    const rel = this.toRel(abs);
    if (this.dirs.has(rel) || (this.mode !== 'starting' && this.mode !== 'events')) return;
    this.dirs.set(rel, new Set());
    if (this.opts.maxWatches !== undefined && this.dirs.size > this.opts.maxWatches) {
      const err = Object.assign(
        new Error(
          `ENOSPC: System limit for number of file watchers reached (simulated: maxWatches=${this.opts.maxWatches}), watch '${abs}'`,
        ),
        { code: 'ENOSPC' },
      );
      this.fsw?.emit('error', err);
      return;
    }
    this.unlisted.set(rel, initial);
    if (!initial) this.newDirs.set(rel, this.newDirs.get(rel) ?? Date.now());
    if (!HOOKED) this.onWatching(abs);
  }

  /** The folder's watch exists: list its files (events from now on are seen by the watch). */
  private onWatching(abs: string): void {
    const rel = this.toRel(abs);
    const initial = this.unlisted.get(rel);
    if (initial === undefined) return;
    this.unlisted.delete(rel);
    const job = this.listDir(abs, rel, initial);
    this.listing.add(job);
    this.newDirs.delete(rel); // the listing is waited for from now on
    void job.finally(() => this.listing.delete(job));
  }

  /** Records a folder's files; for a folder that is new (not initial) each file is an `add`. */
  private async listDir(abs: string, rel: string, initial: boolean): Promise<void> {
    const files = this.dirs.get(rel);
    if (!files) return;
    let entries;
    try {
      const st = await stat(abs);
      if (this.dirs.get(rel) !== files) return;
      this.dirIds.set(rel, idOf(st));
      entries = await readdir(abs, { withFileTypes: true });
    } catch {
      return; // gone again: chokidar reports the unlinkDir, or a parent's event tells it
    }
    for (const e of entries) {
      if (this.dirs.get(rel) !== files) return; // removed meanwhile
      if (files.has(e.name)) continue;
      const childRel = rel === '' ? e.name : `${rel}/${e.name}`;
      // A folder inside a new folder: chokidar reports it shortly (its files are not listed yet).
      if (!initial && e.isDirectory() && !this.dirs.has(childRel) && !this.opts.isIgnored(childRel, true)) {
        this.newDirs.set(childRel, this.newDirs.get(childRel) ?? Date.now());
      }
      if (!(e.isFile() || (e.isSymbolicLink() && (await isFileTarget(path.join(abs, e.name)))))) continue;
      if (this.opts.isIgnored(childRel, false)) continue;
      files.add(e.name);
      if (!initial) this.queue?.push(childRel, 'add');
    }
  }

  private onUnlinkDir(abs: string): void {
    const rel = this.toRel(abs);
    const prefix = rel === '' ? '' : `${rel}/`;
    for (const dir of this.newDirs.keys()) if (dir === rel || dir.startsWith(prefix)) this.newDirs.delete(dir);
    for (const [dir, files] of this.dirs) {
      if (dir !== rel && !dir.startsWith(prefix)) continue;
      this.dirs.delete(dir);
      this.dirIds.delete(dir);
      this.renamedDirs.delete(dir);
      this.unlisted.delete(dir);
      for (const name of files) this.queue?.push(dir === '' ? name : `${dir}/${name}`, 'unlink');
    }
  }

  /** A folder's watch named an entry: find out what happened to it. */
  private onRaw(name: string | null, watchedPath: string | undefined, event?: string): void {
    if ((this.mode !== 'starting' && this.mode !== 'events') || !watchedPath) return;
    const dirRel = this.toRel(watchedPath);
    const files = this.dirs.get(dirRel);
    if (!files) return;
    if (!name) {
      void this.reconcileDir(dirRel); // the OS did not say which entry: compare the whole folder
      return;
    }
    const rel = dirRel === '' ? name : `${dirRel}/${name}`;
    // A known folder is checked too: it may have been replaced by a file or another folder.
    if (event === 'rename' && this.dirs.has(rel)) this.renamedDirs.add(rel);
    this.check(rel);
  }

  /** Stats one path, one stat at a time per path so results cannot land out of order. */
  private check(rel: string): void {
    if (this.checking.has(rel)) {
      this.checking.set(rel, true);
      return;
    }
    this.checking.set(rel, false);
    stat(path.join(this.root, rel))
      .then(
        (s) => this.classify(rel, s),
        () => this.classify(rel, undefined),
      )
      .finally(() => {
        const again = this.checking.get(rel);
        this.checking.delete(rel);
        if (again && this.mode !== 'closed') this.check(rel);
      });
  }

  private classify(rel: string, s: Stats | undefined): void {
    const slash = rel.lastIndexOf('/');
    const files = this.dirs.get(slash < 0 ? '' : rel.slice(0, slash));
    if (!files) return; // its folder went away: handled by unlinkDir
    const name = rel.slice(slash + 1);
    const abs = path.join(this.root, rel);
    if (this.dirs.has(rel)) {
      const id = this.dirIds.get(rel);
      const renamed = this.renamedDirs.delete(rel);
      // The same folder (or one not listed yet): chokidar tracks it.
      if (s?.isDirectory() && (id === undefined || (id === idOf(s) && !renamed))) return;
      // Gone or replaced: its files leave the index, and chokidar forgets the old watches and
      // walks a new folder afresh (its files come back as adds).
      this.onUnlinkDir(abs);
      if (this.fsw instanceof FolderWatcher) this.fsw.rewatch(abs, !!s?.isDirectory());
      if (s?.isDirectory() && isRealDir(abs)) this.newDirs.set(rel, Date.now());
      if (!s?.isFile()) return;
    } else if (s?.isDirectory()) {
      // A folder that chokidar may have missed (it reappeared under a name it still tracked).
      // chokidar ignores an add of a path it already watches.
      if (!this.unlisted.has(rel) && !this.opts.isIgnored(rel, true)) {
        // A link to a folder is not followed (followSymlinks: false): no folder to wait for.
        if (isRealDir(abs)) this.newDirs.set(rel, this.newDirs.get(rel) ?? Date.now());
        this.fsw?.add(abs);
      }
      if (files.delete(name)) this.queue?.push(rel, 'unlink'); // a file replaced by a folder
      return;
    }
    if (s?.isFile()) {
      if (this.opts.isIgnored(rel, false)) return;
      const kind: FsEventKind = files.has(name) ? 'change' : 'add';
      files.add(name);
      this.queue?.push(rel, kind);
    } else if (files.delete(name)) {
      // Gone, or replaced by a folder (chokidar reports the folder itself).
      this.queue?.push(rel, 'unlink');
    }
  }

  /** Compares a folder with its inventory (when an event carried no file name). */
  private async reconcileDir(dirRel: string): Promise<void> {
    let names: string[];
    try {
      names = await readdir(path.join(this.root, dirRel));
    } catch {
      return;
    }
    const files = this.dirs.get(dirRel);
    if (!files) return;
    const seen = new Set(names);
    // Only entries that appeared or vanished: a write to a known file cannot be told apart here.
    for (const name of new Set([...files, ...names])) {
      const rel = dirRel === '' ? name : `${dirRel}/${name}`;
      if (files.has(name) !== seen.has(name) && !this.dirs.has(rel)) this.check(rel);
    }
  }

  private onError(err: unknown): void {
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    const message = err instanceof Error ? err.message : String(err);
    if (code && LIMIT_CODES.has(code)) {
      this.enterPolling(`watch limit reached (${code})`);
    } else {
      this.logger.warn(`Watcher: ${message}`);
    }
  }

  /** The OS refused more watches: release them all and ask for periodic full re-scans. */
  private enterPolling(reason: string): void {
    if (this.mode !== 'starting' && this.mode !== 'events') return;
    this.mode = 'polling';
    this.fallbackReason = reason;
    this.releaseWatches();
    this.logger.warn(
      `Watcher: ${reason} after ${this.dirs.size} folders; stopped watching and re-scanning every ` +
        `${this.pollSeconds()} s instead. On Linux, raise fs.inotify.max_user_watches ` +
        '(e.g. `sudo sysctl fs.inotify.max_user_watches=524288`) and reload to get live updates back.',
    );
    this.dirs.clear();
    this.unlisted.clear();
    this.newDirs.clear();
    // Events were possibly lost already, so the first re-scan is due now.
    this.queue?.requestRescan();
    this.pollTimer = setInterval(() => this.queue?.requestRescan(), this.pollIntervalMs);
    this.resolveStarted?.();
  }

  /** Closes chokidar (all its watches); safe to call twice. */
  private releaseWatches(): void {
    const fsw = this.fsw;
    this.fsw = undefined;
    if (fsw) this.closingFsw = fsw.close();
  }
}

/** A file system object's identity. */
function idOf(s: Stats): string {
  return `${s.dev}:${s.ino}`;
}

/** A folder itself, not a link to one (`stat` follows links; chokidar, told not to, ignores them). */
function isRealDir(p: string): boolean {
  try {
    return lstatSync(p).isDirectory();
  } catch {
    return false;
  }
}

async function isFileTarget(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}
