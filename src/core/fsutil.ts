import { createHash } from 'node:crypto';
import { promises as fsp, openSync, writeSync, fsyncSync, closeSync, renameSync, readFileSync } from 'node:fs';
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
  const fd = openSync(tmp, 'w');
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

/** Reads a file and checks its sha256; null when missing or mismatched. */
export function readVerified(file: string, expectedSha: string): Buffer | null {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch {
    return null;
  }
  return sha256(buf) === expectedSha ? buf : null;
}
