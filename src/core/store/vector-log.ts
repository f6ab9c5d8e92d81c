/**
 * vectors-<v>.bin: the append-only content-hash → vector cache. A 16-byte header (magic, version,
 * dimensions), then fixed-size records of hash, float32 vector and CRC32; a torn tail is cut
 * back to the last whole, CRC-valid record.
 */
import { fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { HASH_BYTES, removeOwned, VEC_HEADER, VEC_MAGIC } from './format.js';

/** Bytes of one record for vectors of `dims` dimensions. */
export function vectorRecordBytes(dims: number): number {
  return HASH_BYTES + dims * 4 + 4;
}

/** Creates an empty vector log (replacing whatever entry is there) and returns its open fd. */
export function createVectorFile(file: string, dims: number): number {
  removeOwned(file);
  const fd = openSync(file, 'wx+');
  const header = Buffer.alloc(VEC_HEADER);
  header.writeUInt32LE(VEC_MAGIC, 0);
  header.writeUInt32LE(1, 4);
  header.writeUInt32LE(dims, 8);
  writeSync(fd, header, 0, header.length, 0);
  fsyncSync(fd);
  return fd;
}

/** Whether an open vector log of `size` bytes has a header for `dims` dimensions. */
export function vectorHeaderOk(fd: number, size: number, dims: number): boolean {
  const header = Buffer.alloc(VEC_HEADER);
  return (
    size >= VEC_HEADER &&
    readSync(fd, header, 0, VEC_HEADER, 0) === VEC_HEADER &&
    header.readUInt32LE(0) === VEC_MAGIC &&
    header.readUInt32LE(8) === dims
  );
}

/**
 * Reads every whole, CRC-valid record after the header, in order, up to the first bad one.
 * Returns where the good records end and whether a damaged record (not just a short tail) stopped it.
 */
export function readVectorRecords(
  fd: number,
  size: number,
  dims: number,
  onVector: (hash: string, vector: Float32Array) => void,
): { good: number; damaged: boolean } {
  const rb = vectorRecordBytes(dims);
  const chunkRecords = 4096;
  const buf = Buffer.alloc(rb * chunkRecords);
  let pos = VEC_HEADER;
  let good = VEC_HEADER;
  let damaged = false;
  outer: while (pos < size) {
    const n = readSync(fd, buf, 0, Math.min(buf.length, size - pos), pos);
    const whole = Math.floor(n / rb);
    for (let i = 0; i < whole; i++) {
      const rec = buf.subarray(i * rb, (i + 1) * rb);
      if (crc32(rec.subarray(0, rb - 4)) !== rec.readUInt32LE(rb - 4)) {
        damaged = true;
        break outer;
      }
      const hash = rec.subarray(0, HASH_BYTES).toString('hex');
      const vec = new Float32Array(dims);
      Buffer.from(vec.buffer).set(rec.subarray(HASH_BYTES, HASH_BYTES + dims * 4));
      onVector(hash, vec);
      good += rb;
    }
    if (whole < chunkRecords) {
      if (n % rb) damaged = true;
      break;
    }
    pos += n;
  }
  return { good, damaged };
}

/** The records for a batch of new vectors, ready to append. */
export function encodeVectorRecords(newVectors: { hash: string; vector: Float32Array }[], dims: number): Buffer {
  const rb = vectorRecordBytes(dims);
  const out = Buffer.alloc(rb * newVectors.length);
  newVectors.forEach(({ hash, vector }, i) => {
    if (vector.length !== dims) throw new Error(`vector of ${vector.length} dims, expected ${dims}`);
    const rec = out.subarray(i * rb, (i + 1) * rb);
    rec.write(hash, 0, HASH_BYTES, 'hex');
    Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).copy(rec, HASH_BYTES);
    rec.writeUInt32LE(crc32(rec.subarray(0, rb - 4)), rb - 4);
  });
  return out;
}
