import { createHash, type Hash } from 'node:crypto';
import { closeSync, createReadStream, existsSync, fstatSync, fsyncSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { fsyncDir } from '../fsutil.js';
import { LoupeError } from '../types.js';

/** Progress of one download. */
export interface DownloadProgress {
  /** Bytes on disk so far (resumed bytes included). */
  received: number;
  /** Expected size, or 0 when unknown. */
  total: number;
  /** Bytes that came from an earlier, interrupted attempt. */
  resumedFrom: number;
  /** Average speed of this attempt. */
  bytesPerSecond: number;
}

export interface DownloadOptions {
  url: string;
  /** Final path; the transfer goes to `<dest>.part` and is renamed over only once verified. */
  dest: string;
  /** Lowercase hex sha256 the file must have. */
  sha256?: string;
  /** Exact size the file must have. */
  size?: number;
  signal?: AbortSignal;
  onProgress?: (p: DownloadProgress) => void;
  /** Extra request headers (e.g. an access token). */
  headers?: Record<string, string>;
  /** For tests: another fetch. */
  fetchImpl?: typeof fetch;
}

async function hashFile(file: string, h: Hash): Promise<void> {
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
}

/** True for errors that mean "no network / host unreachable" rather than a server answer. */
export function isNetworkError(e: unknown): boolean {
  const err = e as { name?: string; code?: string; cause?: { code?: string } };
  const code = err?.cause?.code ?? err?.code;
  return (err?.name === 'TypeError' && /fetch failed/i.test(String((e as Error).message))) ||
    ['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENETUNREACH', 'EHOSTUNREACH', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET'].includes(code ?? '');
}

/**
 * Downloads `url` to `dest` with resume, progress, cancellation and verification.
 *
 * - An interrupted transfer (cancel, lost connection, crash) leaves `<dest>.part`; the next call
 *   asks for the rest with `Range: bytes=<n>-` and appends when the server answers 206 (a 200
 *   means the server ignores ranges: start over).
 * - The sha256 is computed while streaming (the resumed prefix is hashed from disk first);
 *   a size or checksum mismatch deletes the partial file (it cannot be trusted to resume from)
 *   and throws `checksum-mismatch` / `size-mismatch`.
 * - A body that ends before its announced length keeps the partial file and throws
 *   `download-incomplete` (run again to resume).
 * - Cancel keeps the partial file and throws `download-cancelled`.
 * - The verified file is fsynced and renamed over `dest` atomically.
 */
export async function downloadFile(opts: DownloadOptions): Promise<{ path: string; sha256: string; size: number; resumedFrom: number }> {
  const { url, dest, signal } = opts;
  const doFetch = opts.fetchImpl ?? fetch;
  const part = `${dest}.part`;
  const want = opts.sha256?.toLowerCase();
  let restarted = false;

  for (;;) {
    let have = existsSync(part) ? statSync(part).size : 0;
    if (opts.size !== undefined && have > opts.size) {
      rmSync(part, { force: true });
      have = 0;
    }
    const headers: Record<string, string> = { ...opts.headers, 'accept-encoding': 'identity' };
    if (have > 0) headers.range = `bytes=${have}-`;
    let res: Response;
    try {
      res = await doFetch(url, { headers, signal, redirect: 'follow' });
    } catch (e) {
      if (signal?.aborted) throw new LoupeError(`Download cancelled; ${have} bytes kept in ${part} to resume from.`, 'download-cancelled');
      if (isNetworkError(e)) throw new LoupeError(`Cannot reach ${new URL(url).host} (${(e as Error).message}${(e as { cause?: Error }).cause ? `: ${(e as { cause: Error }).cause.message}` : ''}). Are you offline? Nothing was changed; the current model stays in use.`, 'offline');
      throw e;
    }
    if (res.status === 416 && have > 0) {
      // The part file is already complete (or longer than the file): verify it as it is.
      await res.body?.cancel();
      return finish(part, dest, want, opts.size, have, have);
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel().catch(() => undefined);
      throw new LoupeError(`Download failed: HTTP ${res.status} ${res.statusText} for ${url}`, res.status === 404 ? 'not-found' : 'http-error');
    }
    let resumedFrom = 0;
    if (res.status === 206 && have > 0) {
      const m = /^bytes (\d+)-(\d+)\/(\d+|\*)/.exec(res.headers.get('content-range') ?? '');
      if (!m || Number(m[1]) !== have) {
        // A range we did not ask for: start from scratch rather than splice wrong bytes.
        await res.body.cancel();
        rmSync(part, { force: true });
        if (restarted) throw new LoupeError(`The server answered a resumed download of ${url} with a wrong range.`, 'http-error');
        restarted = true;
        continue;
      }
      resumedFrom = have;
    }
    const lengthHeader = Number(res.headers.get('content-length'));
    const bodyLength = Number.isFinite(lengthHeader) && lengthHeader > 0 ? lengthHeader : 0;
    const total = opts.size ?? (bodyLength ? resumedFrom + bodyLength : 0);
    const hash = createHash('sha256');
    if (resumedFrom) await hashFile(part, hash);
    const fd = openSync(part, resumedFrom ? 'r+' : 'w');
    let received = resumedFrom;
    const t0 = performance.now();
    let lastReport = 0;
    try {
      if (!resumedFrom) fsyncSync(fd);
      const reader = res.body.getReader();
      for (;;) {
        let r: Awaited<ReturnType<typeof reader.read>>;
        try {
          r = await reader.read();
        } catch (e) {
          if (signal?.aborted) throw new LoupeError(`Download cancelled; ${received} bytes kept in ${part} to resume from.`, 'download-cancelled');
          throw new LoupeError(`The download of ${path.basename(dest)} broke off at ${received}${total ? ` of ${total}` : ''} bytes (${(e as Error).message}); run it again to resume.`, 'download-incomplete');
        }
        if (r.done) break;
        const buf = r.value;
        let off = 0;
        while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off, received + off);
        hash.update(buf);
        received += buf.length;
        const now = performance.now();
        if (opts.onProgress && (now - lastReport > 100 || received === total)) {
          lastReport = now;
          opts.onProgress({ received, total, resumedFrom, bytesPerSecond: (received - resumedFrom) / Math.max(0.001, (now - t0) / 1000) });
        }
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (bodyLength && received - resumedFrom < bodyLength) {
      throw new LoupeError(`The download of ${path.basename(dest)} ended early at ${received}${total ? ` of ${total}` : ''} bytes; run it again to resume.`, 'download-incomplete');
    }
    opts.onProgress?.({ received, total, resumedFrom, bytesPerSecond: (received - resumedFrom) / Math.max(0.001, (performance.now() - t0) / 1000) });
    return finish(part, dest, want, opts.size, received, resumedFrom, hash.digest('hex'));
  }
}

async function finish(part: string, dest: string, want: string | undefined, size: number | undefined, received: number, resumedFrom: number, digest?: string): Promise<{ path: string; sha256: string; size: number; resumedFrom: number }> {
  if (size !== undefined && received !== size) {
    if (received > size) rmSync(part, { force: true });
    throw new LoupeError(`The download of ${path.basename(dest)} has ${received} bytes, expected ${size}${received < size ? '; run it again to resume' : '; the partial file was deleted'}.`, received < size ? 'download-incomplete' : 'size-mismatch');
  }
  if (!digest) {
    const h = createHash('sha256');
    await hashFile(part, h);
    digest = h.digest('hex');
  }
  if (want && digest !== want) {
    rmSync(part, { force: true });
    throw new LoupeError(`The download of ${path.basename(dest)} is corrupt: sha256 ${digest}, expected ${want}. The partial file was deleted; run it again to download afresh.`, 'checksum-mismatch');
  }
  const fd = openSync(part, 'r');
  try {
    fsyncSync(fd);
    received = fstatSync(fd).size;
  } finally {
    closeSync(fd);
  }
  renameSync(part, dest);
  fsyncDir(path.dirname(dest));
  return { path: dest, sha256: digest, size: received, resumedFrom };
}

/** Deletes the partial download of `dest`, if any. */
export function removePartial(dest: string): void {
  rmSync(`${dest}.part`, { force: true });
}
