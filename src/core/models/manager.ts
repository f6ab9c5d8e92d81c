import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fsyncDir, fsyncFile, sha256File, writeFileAtomic } from '../fsutil.js';
import { LoupeError } from '../types.js';
import { CATALOG, type CatalogEntry } from './catalog.js';
import { CHAT_CATALOG, chatCatalogEntry, chatDownloadUrl, type ChatCatalogEntry } from './chat-catalog.js';
import { downloadFile, isNetworkError, removePartial, type DownloadProgress } from './download.js';

export { CATALOG, catalogEntry, type CatalogEntry } from './catalog.js';
export { downloadFile, type DownloadProgress } from './download.js';
export { CHAT_CATALOG, chatCatalogEntry, chatDownloadUrl, type ChatCatalogEntry } from './chat-catalog.js';

/** What the hub says about the file to download. */
export interface ResolvedFile {
  url: string;
  file: string;
  size?: number;
  sha256?: string;
}

/** Sidecar written beside an installed model (`<file>.loupe.json`). */
export interface InstalledModel {
  id: string;
  name: string;
  path: string;
  repo: string;
  revision: string;
  file: string;
  sha256: string;
  size: number;
  downloadedAt: string;
  /** For a file installed with `--from`: how it was made (a known build), or why it is unverified. */
  source?: string;
  /** 'chat' for an answer model (chat-catalog.ts); absent for an embedding model. */
  kind?: 'chat';
}

export interface ModelManagerOptions {
  /** Where models are stored; default `$LOUPE_MODELS_DIR` or `~/.cache/loupe/models`. */
  dir?: string;
  /** Hub address; default `$HF_ENDPOINT` or https://huggingface.co. */
  endpoint?: string;
  /** Access token for gated repositories; default `$HF_TOKEN`. */
  token?: string;
  fetchImpl?: typeof fetch;
  catalog?: CatalogEntry[];
}

export function defaultModelsDir(): string {
  if (process.env.LOUPE_MODELS_DIR) return process.env.LOUPE_MODELS_DIR;
  const base = process.platform === 'darwin' ? path.join(os.homedir(), 'Library', 'Caches') : process.platform === 'win32' ? (process.env.LOCALAPPDATA ?? path.join(os.homedir(), 'AppData', 'Local')) : (process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'));
  return path.join(base, 'loupe', 'models');
}

/**
 * Downloads recommended GGUF embedding models from Hugging Face into a local folder, verified
 * against the hub's sha256 (or a pinned one), resumable and cancellable. Nothing here changes
 * which model an index uses: the caller switches models once `install` has returned.
 */
export class ModelManager {
  readonly dir: string;
  readonly endpoint: string;
  private readonly token?: string;
  private readonly fetchImpl: typeof fetch;
  readonly catalog: CatalogEntry[];

  constructor(opts: ModelManagerOptions = {}) {
    this.dir = opts.dir ?? defaultModelsDir();
    this.endpoint = (opts.endpoint ?? process.env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, '');
    this.token = opts.token ?? process.env.HF_TOKEN;
    this.fetchImpl = opts.fetchImpl ?? fetch;
    this.catalog = opts.catalog ?? CATALOG;
  }

  private headers(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  private entry(id: string): CatalogEntry {
    const e = this.catalog.find((c) => c.id.toLowerCase() === id.toLowerCase());
    const chat = chatCatalogEntry(id);
    if (chat) {
      // Answer models are not fetched by Loupe: the user downloads the file and installs it with --from.
      throw new LoupeError(`${chat.name} is an answer model: download ${chat.file} from ${chatDownloadUrl(chat)}, then run loupe models install ${chat.id} --from <file.gguf>.`, 'chat-from-file');
    }
    if (!e) throw new LoupeError(`Unknown model "${id}". Known: ${[...this.catalog, ...CHAT_CATALOG].map((c) => c.id).join(', ')}.`, 'unknown-model');
    return e;
  }

  /**
   * Finds the file, its size and sha256 in the repository's listing
   * (`/api/models/<repo>/tree/<revision>`; LFS files carry their sha256 as `lfs.oid`).
   */
  async resolve(id: string, signal?: AbortSignal): Promise<ResolvedFile> {
    const e = this.entry(id);
    const listUrl = `${this.endpoint}/api/models/${e.repo}/tree/${encodeURIComponent(e.revision)}`;
    let res: Response;
    try {
      res = await this.fetchImpl(listUrl, { headers: this.headers(), signal });
    } catch (err) {
      if (isNetworkError(err)) {
        throw new LoupeError(`Cannot reach ${new URL(this.endpoint).host} to download ${e.name} (${(err as Error).message}). Are you offline? Nothing was changed; the current model stays in use.`, 'offline');
      }
      throw err;
    }
    if (res.status === 401 || res.status === 403) throw new LoupeError(`${e.repo} needs a Hugging Face access token (HF_TOKEN) with its licence accepted (HTTP ${res.status}).`, 'unauthorized');
    if (!res.ok) throw new LoupeError(`Cannot list ${e.repo}@${e.revision}: HTTP ${res.status}. The catalogue entry may be outdated.`, res.status === 404 ? 'not-found' : 'http-error');
    const files = (await res.json()) as { type?: string; path: string; size?: number; lfs?: { oid?: string; sha256?: string; size?: number } }[];
    const match = files.filter((f) => f.type !== 'directory' && (typeof e.file === 'string' ? f.path === e.file : e.file.test(path.basename(f.path))));
    if (!match.length) throw new LoupeError(`${e.repo}@${e.revision} has no file matching ${String(e.file)} (it has ${files.map((f) => f.path).join(', ') || 'no files'}). The catalogue entry may be outdated.`, 'not-found');
    const f = match.sort((a, b) => a.path.length - b.path.length)[0];
    const oid = (f.lfs?.oid ?? f.lfs?.sha256 ?? '').replace(/^sha256:/, '').toLowerCase();
    return {
      url: `${this.endpoint}/${e.repo}/resolve/${encodeURIComponent(e.revision)}/${f.path.split('/').map(encodeURIComponent).join('/')}`,
      file: path.basename(f.path),
      size: f.lfs?.size ?? f.size,
      sha256: e.sha256 ?? (/^[0-9a-f]{64}$/.test(oid) ? oid : undefined),
    };
  }

  /** Downloads (or resumes) a catalogue model; returns the installed record. */
  async install(id: string, opts: { signal?: AbortSignal; onProgress?: (p: DownloadProgress) => void } = {}): Promise<InstalledModel> {
    const e = this.entry(id);
    const already = this.installed().find((m) => m.id === e.id);
    if (already) return already;
    const r = await this.resolve(e.id, opts.signal);
    if (!r.sha256) throw new LoupeError(`The hub gives no sha256 for ${r.file} in ${e.repo}; refusing to install an unverifiable file.`, 'no-checksum');
    mkdirSync(this.dir, { recursive: true });
    const dest = path.join(this.dir, r.file);
    const got = await downloadFile({ url: r.url, dest, sha256: r.sha256, size: r.size, signal: opts.signal, onProgress: opts.onProgress, headers: this.headers(), fetchImpl: this.fetchImpl });
    const rec: InstalledModel = {
      id: e.id, name: e.name, path: dest, repo: e.repo, revision: e.revision, file: r.file, sha256: got.sha256, size: got.size, downloadedAt: new Date().toISOString(),
    };
    writeFileAtomic(`${dest}.loupe.json`, JSON.stringify(rec, null, 1));
    return rec;
  }

  /**
   * Installs a GGUF file made elsewhere (e.g. by native/convert/build-embeddinggemma.sh, offline
   * from PyPI) as a catalogue model. A file whose sha256 is one of the entry's known builds is
   * recorded as that build; any other GGUF only with `allowUnknown`, recorded as unverified.
   * The file is copied (to `<name>.part`, then renamed), never moved.
   */
  async installFromFile(id: string, file: string, opts: { allowUnknown?: boolean } = {}): Promise<InstalledModel> {
    const chat = chatCatalogEntry(id);
    if (chat) return this.installChatFromFile(chat, file);
    const e = this.entry(id);
    if (!existsSync(file)) throw new LoupeError(`No such file: ${file}`, 'not-found');
    const head = Buffer.alloc(4);
    const fd = openSync(file, 'r');
    try {
      readSync(fd, head, 0, 4, 0);
    } finally {
      closeSync(fd);
    }
    if (head.toString('latin1') !== 'GGUF') throw new LoupeError(`${file} is not a GGUF model file (it does not start with the GGUF magic bytes).`, 'model-not-gguf');
    const sha = await sha256File(file);
    const size = statSync(file).size;
    const build = e.builds?.find((b) => b.sha256 === sha);
    if (!build && !opts.allowUnknown) {
      throw new LoupeError(
        `${file} (sha256 ${sha.slice(0, 16)}…) is not a known build of ${e.name}${e.builds?.length ? ` (known: ${e.builds.map((b) => `${b.quantisation} ${b.sha256.slice(0, 12)}…`).join(', ')})` : ''}. Pass --allow-unknown to install it anyway, unverified.`,
        'unknown-build',
      );
    }
    const name = build?.file ?? path.basename(file);
    const dest = this.placeLocalFile(file, name, e.id, this.installed());
    const rec: InstalledModel = {
      id: e.id, name: e.name, path: dest, repo: 'local', revision: build ? build.quantisation : 'unverified', file: name, sha256: sha, size,
      downloadedAt: new Date().toISOString(), source: build ? build.source : `unverified local file ${path.resolve(file)}`,
    };
    writeFileAtomic(`${dest}.loupe.json`, JSON.stringify(rec, null, 1));
    return rec;
  }

  /**
   * Copies a user's file into the models folder as `name` (written beside, synced, renamed), after
   * removing an earlier install of `id` (from `installed`) kept under another name; returns the path.
   */
  private placeLocalFile(file: string, name: string, id: string, installed: InstalledModel[]): string {
    mkdirSync(this.dir, { recursive: true });
    const dest = path.join(this.dir, name);
    const prev = installed.find((m) => m.id === id);
    if (prev && prev.path !== dest) this.remove(id);
    if (path.resolve(file) !== path.resolve(dest)) {
      copyFileSync(file, `${dest}.part`);
      fsyncFile(`${dest}.part`);
      renameSync(`${dest}.part`, dest);
      fsyncDir(this.dir);
    }
    return dest;
  }

  /**
   * Installs a chat model the user downloaded. There are no pinned builds of these (they were not
   * downloaded here), so any GGUF is recorded with its sha256 as the user's own file; an answer
   * model changes no index, so nothing else depends on its exact bytes.
   */
  private async installChatFromFile(e: ChatCatalogEntry, file: string): Promise<InstalledModel> {
    if (!existsSync(file)) throw new LoupeError(`No such file: ${file}`, 'not-found');
    if (!isGgufFile(file)) throw new LoupeError(`${file} is not a GGUF model file (it does not start with the GGUF magic bytes); ${e.name} comes as a .gguf file: ${chatDownloadUrl(e)}`, 'model-not-gguf');
    const sha = await sha256File(file);
    const name = path.basename(file);
    const dest = this.placeLocalFile(file, name, e.id, this.installedChat());
    const rec: InstalledModel = {
      id: e.id, name: e.name, path: dest, repo: e.repo, revision: 'local file', file: name, sha256: sha, size: statSync(dest).size,
      downloadedAt: new Date().toISOString(), source: `local file ${path.resolve(file)}`, kind: 'chat',
    };
    writeFileAtomic(`${dest}.loupe.json`, JSON.stringify(rec, null, 1));
    return rec;
  }

  /** Installed embedding models (those whose sidecar and file are both present). */
  installed(): InstalledModel[] {
    return this.installedAll().filter((m) => m.kind !== 'chat');
  }

  /** Installed answer (chat) models, in the chat catalogue's order (smallest first). */
  installedChat(): InstalledModel[] {
    const order = (id: string): number => CHAT_CATALOG.findIndex((c) => c.id === id);
    return this.installedAll().filter((m) => m.kind === 'chat').sort((a, b) => order(a.id) - order(b.id));
  }

  private installedAll(): InstalledModel[] {
    if (!existsSync(this.dir)) return [];
    const out: InstalledModel[] = [];
    for (const name of readdirSync(this.dir)) {
      if (!name.endsWith('.loupe.json')) continue;
      try {
        const rec = JSON.parse(readFileSync(path.join(this.dir, name), 'utf8')) as InstalledModel;
        rec.path = path.join(this.dir, rec.file);
        if (existsSync(rec.path)) out.push(rec);
      } catch {
        // a damaged sidecar: the model shows as not installed and can be installed again
      }
    }
    return out;
  }

  /** Removes an installed model (and any partial download of it). */
  remove(id: string): boolean {
    const chat = chatCatalogEntry(id);
    const rec = chat ? this.installedChat().find((m) => m.id === chat.id) : this.installed().find((m) => m.id === this.entry(id).id);
    if (!rec) return false;
    rmSync(rec.path, { force: true });
    rmSync(`${rec.path}.loupe.json`, { force: true });
    removePartial(rec.path);
    return true;
  }
}

/**
 * What `--model` names: a GGUF path, or the id of an installed catalogue model
 * (`--model embeddinggemma-300m`). A catalogue id that is not installed is a clear error.
 */
export function resolveModelArg(arg: string, manager: ModelManager = new ModelManager()): string {
  if (existsSync(arg)) return path.resolve(arg);
  const e = manager.catalog.find((c) => c.id.toLowerCase() === arg.toLowerCase());
  if (!e) return path.resolve(arg);
  const rec = manager.installed().find((m) => m.id === e.id);
  if (!rec) throw new LoupeError(`${e.name} is not installed: loupe models install ${e.id} (or build it offline: native/convert/README.md).`, 'not-installed');
  return rec.path;
}

/** Whether a file starts with the GGUF magic bytes. */
function isGgufFile(file: string): boolean {
  const head = Buffer.alloc(4);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, head, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  return head.toString('latin1') === 'GGUF';
}

/**
 * What `--llm-model` names: a file, the id of an installed answer model, or (for a server) a
 * model name, returned unchanged. An answer-model id that is not installed is a clear error.
 */
export function resolveChatModelArg(arg: string, manager: ModelManager = new ModelManager()): string {
  if (existsSync(arg)) return path.resolve(arg);
  const e = chatCatalogEntry(arg);
  if (!e) return /\.gguf$/i.test(arg) ? path.resolve(arg) : arg;
  const rec = manager.installedChat().find((m) => m.id === e.id);
  if (!rec) throw new LoupeError(`${e.name} is not installed: download ${e.file} from ${chatDownloadUrl(e)}, then loupe models install ${e.id} --from <file.gguf>.`, 'not-installed');
  return rec.path;
}
