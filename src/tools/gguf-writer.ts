/**
 * A small GGUF v3 writer (little-endian, 32-byte alignment) for generating test and fallback
 * models. It covers the metadata value types and tensor types our generators need and
 * validates every input, because llama.cpp answers many malformed files with an abort
 * (GGML_ASSERT) that kills the whole process instead of throwing.
 */
import { writeFileSync } from 'node:fs';

/** GGUF metadata value type ids, as in ggml's `gguf.h`. */
const enum ValueType {
  U8 = 0,
  I8 = 1,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
}

/** Tensor element types this writer can emit. */
export type GgufTensorType = 'F32' | 'F16';

const GGML_TYPE_ID: Record<GgufTensorType, number> = { F32: 0, F16: 1 };
const BYTES_PER_ELEMENT: Record<GgufTensorType, number> = { F32: 4, F16: 2 };

const ALIGNMENT = 32;
/** ggml's GGML_MAX_NAME is 64 bytes including the terminating NUL. */
const MAX_TENSOR_NAME_BYTES = 63;
/** ggml tensors have at most 4 dimensions. */
const MAX_DIMS = 4;

type ArrayItemType = 'string' | 'i32' | 'u32' | 'f32';

interface MetadataEntry {
  key: string;
  write(out: ByteSink): void;
}

interface TensorEntry {
  name: string;
  /** ggml order: shape[0] is the fastest-varying (innermost) dimension. */
  shape: number[];
  type: GgufTensorType;
  data: Float32Array;
}

// Shared scratch for reading float bits; module-level because conversion runs per element.
const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** Converts a float32 value to IEEE 754 binary16 bits, rounding to nearest even. */
export function float32ToFloat16Bits(value: number): number {
  scratchF32[0] = value;
  const x = scratchU32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;

  if (exp === 0xff) {
    // Infinity stays infinity; NaN keeps a quiet-NaN payload bit so it stays NaN.
    return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  }
  // Unbiased exponent re-biased for half precision (bias 15 instead of 127).
  const halfExp = exp - 127 + 15;
  if (halfExp >= 0x1f) {
    return sign | 0x7c00; // overflow → infinity
  }
  if (halfExp <= 0) {
    // Subnormal half (or zero): shift the mantissa with the implicit leading 1.
    if (halfExp < -10) return sign; // too small even for a subnormal: signed zero
    const m = mant | 0x800000;
    const shift = 14 - halfExp;
    let half = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && (half & 1) === 1)) half += 1;
    return sign | half;
  }
  let half = (halfExp << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // Round to nearest even; a carry out of the mantissa correctly bumps the exponent.
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half += 1;
  return sign | half;
}

/** Converts IEEE 754 binary16 bits back to a number (used by tests and round-trip checks). */
export function float16BitsToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Growable little-endian byte buffer. */
class ByteSink {
  private buf = Buffer.alloc(1 << 16);
  private len = 0;

  get length(): number {
    return this.len;
  }

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = Buffer.alloc(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  u8(v: number): void {
    this.reserve(1);
    this.buf.writeUInt8(v, this.len);
    this.len += 1;
  }
  i8(v: number): void {
    this.reserve(1);
    this.buf.writeInt8(v, this.len);
    this.len += 1;
  }
  u32(v: number): void {
    this.reserve(4);
    this.buf.writeUInt32LE(v, this.len);
    this.len += 4;
  }
  i32(v: number): void {
    this.reserve(4);
    this.buf.writeInt32LE(v, this.len);
    this.len += 4;
  }
  f32(v: number): void {
    this.reserve(4);
    this.buf.writeFloatLE(v, this.len);
    this.len += 4;
  }
  u64(v: number): void {
    this.reserve(8);
    this.buf.writeBigUInt64LE(BigInt(v), this.len);
    this.len += 8;
  }
  string(s: string): void {
    const bytes = Buffer.from(s, 'utf8');
    this.u64(bytes.length);
    this.bytes(bytes);
  }
  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  padTo(alignment: number): void {
    const pad = (alignment - (this.len % alignment)) % alignment;
    this.reserve(pad);
    this.buf.fill(0, this.len, this.len + pad);
    this.len += pad;
  }
  toBuffer(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

function checkInteger(key: string, v: number, min: number, max: number, what: string): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`GGUF key "${key}": ${v} is not a valid ${what} (${min}..${max})`);
  }
}

function checkFinite(key: string, v: number): void {
  if (!Number.isFinite(v)) throw new RangeError(`GGUF key "${key}": ${v} is not a finite f32`);
}

/**
 * Collects metadata and tensors, then serialises a GGUF v3 file.
 * Tensor shapes are given in ggml order (shape[0] is the innermost, fastest-varying
 * dimension), so a `[nEmbd, nVocab]` matrix holds `nVocab` rows of `nEmbd` values.
 */
export class GgufWriter {
  private readonly metadata: MetadataEntry[] = [];
  private readonly keys = new Set<string>();
  private readonly tensors: TensorEntry[] = [];
  private readonly tensorNames = new Set<string>();

  private addEntry(key: string, write: (out: ByteSink) => void): this {
    if (typeof key !== 'string' || key.length === 0) throw new TypeError('GGUF metadata key must be a non-empty string');
    if (this.keys.has(key)) throw new Error(`GGUF metadata key "${key}" was added twice`);
    this.keys.add(key);
    this.metadata.push({ key, write });
    return this;
  }

  /** Adds an unsigned 8-bit value. */
  addU8(key: string, v: number): this {
    checkInteger(key, v, 0, 0xff, 'u8');
    return this.addEntry(key, (o) => (o.u32(ValueType.U8), o.u8(v)));
  }

  /** Adds a signed 8-bit value. */
  addI8(key: string, v: number): this {
    checkInteger(key, v, -0x80, 0x7f, 'i8');
    return this.addEntry(key, (o) => (o.u32(ValueType.I8), o.i8(v)));
  }

  /** Adds an unsigned 32-bit value (llama.cpp wants u32 for its integer hyperparameters). */
  addU32(key: string, v: number): this {
    checkInteger(key, v, 0, 0xffffffff, 'u32');
    return this.addEntry(key, (o) => (o.u32(ValueType.U32), o.u32(v)));
  }

  /** Adds a signed 32-bit value. */
  addI32(key: string, v: number): this {
    checkInteger(key, v, -0x80000000, 0x7fffffff, 'i32');
    return this.addEntry(key, (o) => (o.u32(ValueType.I32), o.i32(v)));
  }

  /** Adds a 32-bit float. */
  addF32(key: string, v: number): this {
    checkFinite(key, v);
    return this.addEntry(key, (o) => (o.u32(ValueType.F32), o.f32(v)));
  }

  /** Adds a boolean. */
  addBool(key: string, v: boolean): this {
    if (typeof v !== 'boolean') throw new TypeError(`GGUF key "${key}": expected a boolean`);
    return this.addEntry(key, (o) => (o.u32(ValueType.Bool), o.u8(v ? 1 : 0)));
  }

  /** Adds a UTF-8 string. */
  addString(key: string, v: string): this {
    if (typeof v !== 'string') throw new TypeError(`GGUF key "${key}": expected a string`);
    return this.addEntry(key, (o) => (o.u32(ValueType.String), o.string(v)));
  }

  /** Adds an array of strings. */
  addStringArray(key: string, values: readonly string[]): this {
    return this.addArray(key, 'string', values);
  }

  /** Adds an array of signed 32-bit integers. */
  addI32Array(key: string, values: ArrayLike<number>): this {
    return this.addArray(key, 'i32', values);
  }

  /** Adds an array of unsigned 32-bit integers. */
  addU32Array(key: string, values: ArrayLike<number>): this {
    return this.addArray(key, 'u32', values);
  }

  /** Adds an array of 32-bit floats. */
  addF32Array(key: string, values: ArrayLike<number>): this {
    return this.addArray(key, 'f32', values);
  }

  private addArray(key: string, itemType: ArrayItemType, values: ArrayLike<string | number>): this {
    const items = Array.from(values);
    for (const item of items) {
      if (itemType === 'string') {
        if (typeof item !== 'string') throw new TypeError(`GGUF key "${key}": array item ${String(item)} is not a string`);
      } else if (typeof item !== 'number') {
        throw new TypeError(`GGUF key "${key}": array item ${String(item)} is not a number`);
      } else if (itemType === 'i32') {
        checkInteger(key, item, -0x80000000, 0x7fffffff, 'i32');
      } else if (itemType === 'u32') {
        checkInteger(key, item, 0, 0xffffffff, 'u32');
      } else {
        checkFinite(key, item);
      }
    }
    const typeId = { string: ValueType.String, i32: ValueType.I32, u32: ValueType.U32, f32: ValueType.F32 }[itemType];
    return this.addEntry(key, (o) => {
      o.u32(ValueType.Array);
      o.u32(typeId);
      o.u64(items.length);
      for (const item of items) {
        if (itemType === 'string') o.string(item as string);
        else if (itemType === 'i32') o.i32(item as number);
        else if (itemType === 'u32') o.u32(item as number);
        else o.f32(item as number);
      }
    });
  }

  /**
   * Adds a tensor. `shape` is in ggml order (innermost first); `data` holds the values
   * row-major in that order and is converted to `type` when serialised.
   */
  addTensor(name: string, shape: readonly number[], data: Float32Array, type: GgufTensorType = 'F32'): this {
    if (typeof name !== 'string' || name.length === 0) throw new TypeError('GGUF tensor name must be a non-empty string');
    if (Buffer.byteLength(name, 'utf8') > MAX_TENSOR_NAME_BYTES) {
      throw new RangeError(`GGUF tensor name "${name}" is longer than ${MAX_TENSOR_NAME_BYTES} bytes`);
    }
    if (this.tensorNames.has(name)) throw new Error(`GGUF tensor "${name}" was added twice`);
    if (!(type in GGML_TYPE_ID)) throw new TypeError(`GGUF tensor "${name}": unsupported type ${String(type)}`);
    if (shape.length === 0 || shape.length > MAX_DIMS) {
      throw new RangeError(`GGUF tensor "${name}": shape must have 1..${MAX_DIMS} dimensions, got ${shape.length}`);
    }
    for (const d of shape) {
      if (!Number.isInteger(d) || d <= 0) throw new RangeError(`GGUF tensor "${name}": bad dimension ${d} in [${shape.join(', ')}]`);
    }
    if (!(data instanceof Float32Array)) throw new TypeError(`GGUF tensor "${name}": data must be a Float32Array`);
    const count = shape.reduce((a, b) => a * b, 1);
    if (data.length !== count) {
      throw new RangeError(`GGUF tensor "${name}": shape [${shape.join(', ')}] needs ${count} values, got ${data.length}`);
    }
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i]!)) throw new RangeError(`GGUF tensor "${name}": value ${data[i]} at index ${i} is not finite`);
    }
    this.tensorNames.add(name);
    this.tensors.push({ name, shape: [...shape], type, data });
    return this;
  }

  /** Serialises header, metadata, tensor infos and aligned tensor data. */
  toBuffer(): Buffer {
    const out = new ByteSink();
    out.bytes(Buffer.from('GGUF', 'ascii'));
    out.u32(3);
    out.u64(this.tensors.length);
    out.u64(this.metadata.length);
    for (const entry of this.metadata) {
      out.string(entry.key);
      entry.write(out);
    }
    // Offsets are relative to the start of the data section and each is aligned.
    let offset = 0;
    const offsets: number[] = [];
    for (const t of this.tensors) {
      offset = Math.ceil(offset / ALIGNMENT) * ALIGNMENT;
      offsets.push(offset);
      offset += t.data.length * BYTES_PER_ELEMENT[t.type];
    }
    this.tensors.forEach((t, i) => {
      out.string(t.name);
      out.u32(t.shape.length);
      for (const d of t.shape) out.u64(d);
      out.u32(GGML_TYPE_ID[t.type]);
      out.u64(offsets[i]!);
    });
    out.padTo(ALIGNMENT);
    for (const t of this.tensors) {
      out.padTo(ALIGNMENT);
      out.bytes(encodeTensor(t));
    }
    return out.toBuffer();
  }

  /** Writes the file (synchronously; the generated models are a few megabytes). */
  write(file: string): void {
    writeFileSync(file, this.toBuffer());
  }
}

function encodeTensor(t: TensorEntry): Uint8Array {
  if (t.type === 'F32') {
    const copy = new Float32Array(t.data);
    return toLittleEndianBytes(copy.buffer, 4);
  }
  const half = new Uint16Array(t.data.length);
  for (let i = 0; i < t.data.length; i++) half[i] = float32ToFloat16Bits(t.data[i]!);
  return toLittleEndianBytes(half.buffer, 2);
}

/** Typed arrays use host byte order; GGUF is little-endian, so swap on big-endian hosts. */
function toLittleEndianBytes(buffer: ArrayBuffer, width: 2 | 4): Uint8Array {
  const bytes = new Uint8Array(buffer);
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] === 1) return bytes;
  const swapped = Buffer.from(bytes);
  if (width === 2) swapped.swap16();
  else swapped.swap32();
  return swapped;
}
