import { randomBytes } from 'node:crypto';
import { closeSync, linkSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LoupeError } from './types.js';

/**
 * The writer lock of a store folder: the file `lock`, holding its owner (PID, the process's start
 * time where the OS tells it, host name and a random nonce).
 *
 * Taking it is atomic: the owner record is written to a private file first and hard-linked to
 * `lock` (link fails if `lock` exists), so no one ever reads a half-written lock. A lock whose
 * owner is gone (same host, and no process with that PID, or one with another start time) is
 * stale. Breaking a stale lock is itself serialised by a second lock, `lock.break`, taken the same
 * way: its holder re-reads `lock` and removes it only if it still holds the stale owner it saw, so
 * two processes can never both remove a lock and both take the next one.
 */

const LOCK = 'lock';
const BREAK = 'lock.break';

interface Owner {
  pid: number;
  /** Process start time as the OS gives it (Linux: jiffies since boot), or null where unknown. */
  start: string | null;
  host: string;
  nonce: string;
}

/** A held writer lock. */
export interface WriterLock {
  release(): void;
}

/** True when a process with this PID exists (EPERM: it exists but is not ours). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A process's start time (Linux /proc), or null where it cannot be read. */
function processStart(pid: number): string | null {
  if (process.platform !== 'linux') return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Field 22 (starttime), counted after the command name, which may hold spaces and parentheses.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function readOwner(file: string): Owner | null | 'missing' {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : null;
  }
  try {
    const o = JSON.parse(text) as Owner;
    if (Number.isInteger(o.pid) && o.pid > 0 && typeof o.host === 'string' && typeof o.nonce === 'string') return o;
  } catch {
    // an old-style lock (a bare PID) or garbage
  }
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 ? { pid, start: null, host: os.hostname(), nonce: `legacy:${text.trim()}` } : null;
}

/** True when the owner certainly no longer runs (on another host this cannot be known: never stale). */
function ownerGone(o: Owner): boolean {
  if (o.host !== os.hostname()) return false;
  // Our own PID: a lock this process left behind (a store not closed); taken over, as before.
  if (o.pid === process.pid) return true;
  if (!processAlive(o.pid)) return true;
  return o.start !== null && processStart(o.pid) !== null && processStart(o.pid) !== o.start;
}

/** Creates `file` holding `owner`, atomically (hard link of a complete private file); false if it exists. */
function createExclusive(file: string, owner: Owner): boolean {
  const tmp = `${file}.${owner.nonce}.tmp`;
  const body = JSON.stringify(owner);
  const fd = openSync(tmp, 'wx');
  try {
    writeSync(fd, body);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, file);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    // No hard links on this file system: an exclusive create, written at once (a reader that
    // finds it empty treats it as live; see `acquireWriterLock`).
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw e;
    try {
      const fd2 = openSync(file, 'wx');
      try {
        writeSync(fd2, body);
      } finally {
        closeSync(fd2);
      }
      return true;
    } catch (e2) {
      if ((e2 as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e2;
    }
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
  }
}

/** Removes `file` if it still holds the owner with `nonce`. */
function removeIfOwned(file: string, nonce: string): void {
  const o = readOwner(file);
  if (o && o !== 'missing' && o.nonce === nonce) {
    try {
      unlinkSync(file);
    } catch {
      // already gone
    }
  }
}

/**
 * Takes the break lock, runs `fn`, releases it. A break lock left by a process that died inside
 * its (microseconds long) critical section is moved aside and checked, then removed. Returns false
 * when another live breaker holds it (the caller retries).
 */
function withBreakLock(dir: string, me: Owner, fn: () => void): boolean {
  const file = path.join(dir, BREAK);
  if (createExclusive(file, me)) {
    try {
      fn();
    } finally {
      removeIfOwned(file, me.nonce);
    }
    return true;
  }
  const o = readOwner(file);
  if (o && o !== 'missing' && ownerGone(o)) {
    const aside = path.join(dir, `${BREAK}.${me.nonce}.dead`);
    try {
      renameSync(file, aside);
      const moved = readOwner(aside);
      // Moved a live breaker's lock by a race: put it back unless a newer one exists.
      if (moved && moved !== 'missing' && moved.nonce !== o.nonce) {
        try {
          linkSync(aside, file);
        } catch {
          // a newer one took its place
        }
      }
      unlinkSync(aside);
    } catch {
      // someone else cleaned it up
    }
  }
  return false;
}

/**
 * Takes the writer lock of a store folder, taking over a stale one; throws `store-locked` when a
 * live process holds it.
 */
export function acquireWriterLock(dir: string, timeoutMs = 5000): WriterLock {
  const file = path.join(dir, LOCK);
  const me: Owner = { pid: process.pid, start: processStart(process.pid), host: os.hostname(), nonce: randomBytes(8).toString('hex') };
  const deadline = Date.now() + timeoutMs;
  let unreadableSince = 0;
  for (;;) {
    if (createExclusive(file, me)) {
      return {
        release: () => removeIfOwned(file, me.nonce),
      };
    }
    const o = readOwner(file);
    if (o === 'missing') continue;
    if (o === null) {
      // Being written by a process without hard links, or garbage: garbage for 2 s is stale.
      unreadableSince ||= Date.now();
      if (Date.now() - unreadableSince > 2000) {
        withBreakLock(dir, me, () => {
          if (readOwner(file) === null) unlinkSync(file);
        });
        unreadableSince = 0;
      }
    } else if (ownerGone(o)) {
      if (withBreakLock(dir, me, () => removeIfOwned(file, o.nonce))) continue;
    } else {
      throw new LoupeError(
        `The index in ${dir} is in use by another Loupe process (PID ${o.pid}${o.host !== os.hostname() ? ` on ${o.host}` : ''}: ` +
          'a `loupe index --watch` or VS Code). Stop it, or use another --store.',
        'store-locked',
      );
    }
    if (Date.now() > deadline) throw new LoupeError(`Could not take the lock on ${dir}.`, 'store-locked');
    sleepMs(5 + Math.random() * 20);
  }
}
