/**
 * journal-<g>.log: file puts and deletes since snapshot g. Each line: 8 hex digits of CRC32, a
 * space, the JSON op, a newline. A line without its newline or with a bad CRC is the torn tail of
 * a batch that never committed; a line with a valid CRC but an unsafe path or record was written
 * by someone else, and the store is damaged.
 */
import { readSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { isSafeRelPath } from '../fsutil.js';
import { fileRecordProblem, isObj, StoreDamaged, type FileRecord, type JournalOp } from './format.js';

/** Reads an open file of `size` bytes whole; `got` is how much was there. */
export function readWhole(fd: number, size: number): { data: Buffer; got: number } {
  const data = Buffer.alloc(size);
  let got = 0;
  while (got < size) {
    const n = readSync(fd, data, got, size - got, got);
    if (!n) break;
    got += n;
  }
  return { data, got };
}

/**
 * Hands each committed op to `onOp`, in order, and returns the end of the last whole line (where a
 * torn tail starts). Throws StoreDamaged for a checksummed line that is not a valid op.
 */
export function replayJournalBytes(data: Buffer, got: number, onOp: (op: JournalOp) => void): number {
  let good = 0;
  while (good < got) {
    const nl = data.indexOf(0x0a, good);
    if (nl < 0 || nl >= got) break;
    const line = data.subarray(good, nl);
    if (line.length < 10 || line[8] !== 0x20) break;
    const body = line.subarray(9);
    if (parseInt(line.subarray(0, 8).toString('latin1'), 16) !== crc32(body)) break;
    let op: unknown;
    try {
      op = JSON.parse(body.toString('utf8'));
    } catch {
      break;
    }
    if (!isObj(op)) throw new StoreDamaged('its journal holds an invalid entry');
    if (op.op === 'put') {
      const problem = fileRecordProblem(op.path, op.file);
      if (problem) throw new StoreDamaged(`its journal holds ${problem}`);
      onOp({ op: 'put', path: op.path as string, file: op.file as FileRecord });
    } else if (op.op === 'del' && isSafeRelPath(op.path)) {
      onOp({ op: 'del', path: op.path });
    } else {
      throw new StoreDamaged('its journal holds an invalid entry');
    }
    good = nl + 1;
  }
  return good;
}

/** The journal lines for a batch of ops. */
export function encodeJournalOps(ops: JournalOp[]): Buffer {
  return Buffer.from(
    ops
      .map((op) => {
        const body = JSON.stringify(op);
        return `${crc32(Buffer.from(body)).toString(16).padStart(8, '0')} ${body}\n`;
      })
      .join(''),
  );
}
