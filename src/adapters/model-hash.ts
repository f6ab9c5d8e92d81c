/**
 * The sha256 of a model file without reading it at every start: a model's identity (and so its
 * index's) comes from its hash, and hashing 25–90 MB cost a one-shot `loupe search` 50–200 ms.
 *
 * Trusted, in order: a `manifest.json` beside the file that lists it with the same size and mtime
 * (written by scripts/fetch-onnx-model.mjs after checking the pinned hash), then a per-user cache
 * keyed by path, size, mtime and inode; otherwise the file is hashed and the cache updated.
 */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sha256, sha256File, writeFileAtomic } from '../core/fsutil.js';

function cacheFile(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'loupe', 'model-hashes.json');
}

type Entry = { size: number; mtimeMs: number; ino: number; sha256: string };

function readCache(): Record<string, Entry> {
  try {
    return JSON.parse(readFileSync(cacheFile(), 'utf8')) as Record<string, Entry>;
  } catch {
    return {};
  }
}

/** The hash a `manifest.json` beside `file` records for it, while size and mtime still match; else null. */
export function manifestHash(file: string): string | null {
  const abs = path.resolve(file);
  const st = statSync(abs, { throwIfNoEntry: false });
  if (!st) return null;
  const manifest = path.join(path.dirname(abs), 'manifest.json');
  if (!existsSync(manifest)) return null;
  try {
    const m = JSON.parse(readFileSync(manifest, 'utf8')) as { files?: Record<string, { sha256: string; size: number; mtimeMs: number }> };
    const rec = m.files?.[path.basename(abs)];
    if (rec && rec.size === st.size && rec.mtimeMs === st.mtimeMs && /^[0-9a-f]{64}$/.test(rec.sha256)) return rec.sha256;
  } catch {
    // A broken manifest: no answer.
  }
  return null;
}

/** The hash the per-user cache holds for `file` while size, mtime and inode match; else null. */
function cachedHash(abs: string, st: { size: number; mtimeMs: number; ino: number }): string | null {
  const hit = readCache()[abs];
  return hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs && hit.ino === st.ino ? hit.sha256 : null;
}

/** sha256 of `file` (hex), from its manifest or the cache when they still describe it. */
export async function modelFileHash(file: string): Promise<string> {
  const abs = path.resolve(file);
  const st = statSync(abs);
  const known = manifestHash(abs) ?? cachedHash(abs, st);
  if (known) return known;
  const sha = await sha256File(abs);
  remember(abs, st, sha);
  return sha;
}

/**
 * The same, synchronously (choosing a backend for an existing index): a file unpacked from a
 * VSIX has a zip's 2-second mtime, so its manifest does not describe it; the cache, filled by
 * the first load, does; else the file is hashed here once.
 */
export function modelFileHashSync(file: string): string {
  const abs = path.resolve(file);
  const st = statSync(abs);
  const known = manifestHash(abs) ?? cachedHash(abs, st);
  if (known) return known;
  const sha = sha256(readFileSync(abs));
  remember(abs, st, sha);
  return sha;
}

function remember(abs: string, st: { size: number; mtimeMs: number; ino: number }, sha: string): void {
  const cache = readCache();
  cache[abs] = { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, sha256: sha };
  try {
    // Bounded: keep the 64 most recent entries.
    const entries = Object.entries(cache).slice(-64);
    mkdirSync(path.dirname(cacheFile()), { recursive: true });
    writeFileAtomic(cacheFile(), JSON.stringify(Object.fromEntries(entries)));
  } catch {
    // A read-only home: hash again next time.
  }
}
