import { createHash } from 'node:crypto';
import {
  constants as fsConstants,
  promises as fsp,
  openSync,
  writeSync,
  fsyncSync,
  closeSync,
  renameSync,
  unlinkSync,
  lstatSync,
  fstatSync,
  readSync,
} from 'node:fs';
import * as path from 'node:path';

/** sha256 of bytes, hex. */
export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** sha256 of a file, hex (streamed, so large model files are fine). */
export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  const fh = await fsp.open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (!bytesRead) break;
      h.update(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
  return h.digest('hex');
}

/** fsyncs a folder so a rename inside it survives a crash (no-op where folders can't be opened). */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Windows cannot open folders; its rename is durable enough for our purpose.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Writes a file crash-safely: temp file, fsync, atomic rename, fsync of the folder. */
export function writeFileAtomic(file: string, data: Uint8Array | string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  // Never through whatever sits at the temp name (a link left there would be followed).
  try {
    unlinkSync(tmp);
  } catch {
    // none
  }
  const fd = openSync(tmp, 'wx');
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  fsyncDir(path.dirname(file));
}

/** fsyncs an existing file (used after a native library wrote it). */
export function fsyncFile(file: string): void {
  const fd = openSync(file, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a regular file of exactly `bytes` bytes and checks its sha256; null when missing, of another
 * size or mismatched (never follows a link or opens a FIFO or device: see `readRegular`).
 */
export function readVerified(file: string, expectedSha: string, bytes: number): Buffer | null {
  let buf: Buffer | null;
  try {
    buf = readRegular(file, bytes);
  } catch {
    return null;
  }
  return buf && buf.length === bytes && sha256(buf) === expectedSha ? buf : null;
}

/**
 * True for an indexed path as the store records it: relative, '/'-separated, normalised (no empty,
 * `.` or `..` segments), no drive letter, backslash or NUL. Anything else in a store was not
 * written by Loupe and must never be read, shown, opened or sent.
 */
export function isSafeRelPath(p: unknown): p is string {
  if (typeof p !== 'string' || p === '' || p.length > 4096) return false;
  if (p.includes('\0') || p.includes('\\') || p.startsWith('/') || /^[A-Za-z]:/.test(p)) return false;
  for (const seg of p.split('/')) if (seg === '' || seg === '.' || seg === '..') return false;
  return true;
}

/** The absolute path of an indexed path under `root`, or null when it is not a safe relative path. */
export function resolveInside(root: string, rel: string): string | null {
  if (!isSafeRelPath(rel)) return null;
  const abs = path.resolve(root, ...rel.split('/'));
  const back = path.relative(path.resolve(root), abs);
  return back && !back.startsWith('..') && !path.isAbsolute(back) ? abs : null;
}

/** Why a store file could not be read safely: not a regular file, too large, or gone. */
export class UnsafeFileError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${path.basename(file)} ${reason}`);
  }
}

const O_NOFOLLOW = fsConstants.O_NOFOLLOW ?? 0;
const O_NONBLOCK = fsConstants.O_NONBLOCK ?? 0;

/**
 * Opens an existing file only if it is a regular file: `lstat` first (a symlink, a folder, a FIFO or
 * a device is refused without being opened), then opened without following links and without
 * blocking (a FIFO swapped in after the check cannot hang the open), then `fstat` checks the opened
 * file is the one checked. `maxBytes` bounds its size before anything is read. Returns null when the
 * file does not exist; throws `UnsafeFileError` for anything else that is wrong.
 */
export function openRegular(file: string, mode: 'r' | 'r+', maxBytes: number): { fd: number; size: number } | null {
  let st;
  try {
    st = lstatSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new UnsafeFileError(file, `cannot be examined (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (!st.isFile()) throw new UnsafeFileError(file, `is not a regular file (${fileKind(st)})`);
  if (st.size > maxBytes) throw new UnsafeFileError(file, `is too large (${st.size} bytes, at most ${maxBytes} expected)`);
  let fd: number;
  try {
    fd = openSync(file, (mode === 'r' ? fsConstants.O_RDONLY : fsConstants.O_RDWR) | O_NOFOLLOW | O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new UnsafeFileError(file, `cannot be opened (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const fst = fstatSync(fd);
  if (!fst.isFile() || fst.ino !== st.ino || fst.dev !== st.dev || fst.size > maxBytes) {
    closeSync(fd);
    throw new UnsafeFileError(file, 'changed while it was opened');
  }
  return { fd, size: fst.size };
}

/** Reads a whole regular file of at most `maxBytes` (see `openRegular`); null when it does not exist. */
export function readRegular(file: string, maxBytes: number): Buffer | null {
  const h = openRegular(file, 'r', maxBytes);
  if (!h) return null;
  try {
    const buf = Buffer.alloc(h.size);
    let off = 0;
    while (off < h.size) {
      const n = readSync(h.fd, buf, off, h.size - off, off);
      if (n === 0) break;
      off += n;
    }
    return off === h.size ? buf : buf.subarray(0, off);
  } finally {
    closeSync(h.fd);
  }
}

function fileKind(st: import('node:fs').Stats): string {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a file';
}
