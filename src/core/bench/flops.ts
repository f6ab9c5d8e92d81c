/**
 * FLOPs and bytes of one forward pass of a BERT-style encoder, from the model's GGUF metadata,
 * and the roofline verdict (compute- or memory-bound) for a measured time. Pure.
 *
 * Convention: one multiply-add = 2 FLOPs. Per layer, for a sequence of n tokens, hidden size d,
 * feed-forward size f (h heads of d/h each; the head count cancels out):
 *
 *   QKV projections            3 · 2·n·d·d   = 6·n·d²
 *   attention scores Q·Kᵀ      h · 2·n·n·(d/h) = 2·n²·d
 *   attention-weighted values  h · 2·n·n·(d/h) = 2·n²·d
 *   output projection          2·n·d·d       = 2·n·d²
 *   feed-forward (up + down)   2·n·d·f + 2·n·f·d = 4·n·d·f
 *
 * Left out (each well under 1 % at these sizes, and not matrix work): layer norms, softmax, GELU,
 * biases, residual adds, the embedding lookup, pooling and normalisation of the output.
 *
 * Newer embedding models generalise two terms, from their metadata and tensors: grouped-query
 * attention (`head_count_kv` < heads: K and V project to kv·k instead of d) and an explicit head
 * size k (`key_length`, e.g. EmbeddingGemma), and a gated feed-forward (SwiGLU/GeGLU: a third
 * d×f matrix, `ffn_gate`), which makes the FFN 6·n·d·f. With neither, the formulas above hold.
 */

/** The shape of an encoder, from `<arch>.block_count` etc. in the GGUF metadata. */
export interface EncoderShape {
  architecture: string;
  layers: number;
  hidden: number;
  feedForward: number;
  heads: number;
  /** Longest input the model was trained for (`<arch>.context_length`). */
  contextLength: number;
  /** Key/value heads when fewer than `heads` (grouped-query attention). */
  kvHeads?: number;
  /** Size of one head when not hidden / heads (`<arch>.attention.key_length`). */
  headDim?: number;
  /** Gated feed-forward (an `ffn_gate` tensor): three d×f matrices instead of two. */
  gatedFfn?: boolean;
}

/** FLOPs of one forward pass, by part. */
export interface FlopsBreakdown {
  qkv: number;
  attentionScores: number;
  attentionValues: number;
  outputProjection: number;
  feedForward: number;
  total: number;
}

/** FLOPs of one sequence of `seqLen` tokens through the encoder. */
export function encoderFlops(s: EncoderShape, seqLen: number): FlopsBreakdown {
  const n = seqLen;
  const d = s.hidden;
  const f = s.feedForward;
  const L = s.layers;
  const k = s.headDim ?? d / s.heads;
  const q = s.heads * k; // width of Q (= d for BERT)
  const kv = (s.kvHeads ?? s.heads) * k; // width of K and of V (= d for BERT)
  const qkv = L * (2 * n * d * q + 2 * 2 * n * d * kv);
  const attentionScores = L * 2 * n * n * q;
  const attentionValues = L * 2 * n * n * q;
  const outputProjection = L * 2 * n * q * d;
  const feedForward = L * (s.gatedFfn ? 6 : 4) * n * d * f;
  return {
    qkv,
    attentionScores,
    attentionValues,
    outputProjection,
    feedForward,
    total: qkv + attentionScores + attentionValues + outputProjection + feedForward,
  };
}

/** FLOPs of a batch: the sum over its sequences (each is its own pass; no padding). */
export function batchFlops(s: EncoderShape, seqLens: number[]): number {
  let t = 0;
  for (const n of seqLens) t += encoderFlops(s, n).total;
  return t;
}

/** Reads the encoder shape from GGUF metadata (`general.architecture` and `<arch>.*`), or explains what is missing. */
export function encoderShapeFromMetadata(metadata: Record<string, unknown>): EncoderShape | { missing: string[]; architecture: string } {
  const general = (metadata.general ?? {}) as { architecture?: string };
  const architecture = general.architecture ?? 'unknown';
  const a = (metadata[architecture] ?? {}) as Record<string, unknown>;
  const att = (a.attention ?? {}) as Record<string, unknown>;
  const num = (v: unknown): number | undefined =>
    typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : typeof v === 'bigint' ? Number(v) : undefined;
  const layers = num(a.block_count);
  const hidden = num(a.embedding_length);
  const feedForward = num(a.feed_forward_length);
  const heads = num(att.head_count);
  const contextLength = num(a.context_length);
  const missing: string[] = [];
  if (!layers) missing.push(`${architecture}.block_count`);
  if (!hidden) missing.push(`${architecture}.embedding_length`);
  if (!feedForward) missing.push(`${architecture}.feed_forward_length`);
  if (!heads) missing.push(`${architecture}.attention.head_count`);
  if (missing.length) return { missing, architecture };
  const shape: EncoderShape = {
    architecture,
    layers: layers!,
    hidden: hidden!,
    feedForward: feedForward!,
    heads: heads!,
    contextLength: contextLength ?? 512,
  };
  const kvHeads = num(att.head_count_kv);
  const headDim = num(att.key_length);
  if (kvHeads && kvHeads !== heads) shape.kvHeads = kvHeads;
  if (headDim && headDim !== hidden! / heads!) shape.headDim = headDim;
  return shape;
}

/**
 * Bytes per element of ggml tensor types (GGML_TYPE_* numbers as stored in GGUF): block size
 * in bytes / elements per block.
 */
export const GGML_TYPE_BYTES: Record<number, number> = {
  0: 4, // F32
  1: 2, // F16
  2: 18 / 32, // Q4_0
  3: 20 / 32, // Q4_1
  6: 22 / 32, // Q5_0
  7: 24 / 32, // Q5_1
  8: 34 / 32, // Q8_0
  9: 36 / 32, // Q8_1
  10: 84 / 256, // Q2_K
  11: 110 / 256, // Q3_K
  12: 144 / 256, // Q4_K
  13: 176 / 256, // Q5_K
  14: 210 / 256, // Q6_K
  15: 292 / 256, // Q8_K
  24: 1, // I8
  25: 2, // I16
  26: 4, // I32
  27: 8, // I64
  28: 8, // F64
  30: 2, // BF16
};

export interface TensorSummary {
  name: string;
  dimensions: number[];
  ggmlType: number;
}

/**
 * Bytes of weights one forward pass reads: every tensor of the layers (`blk.*`) and the small
 * ones around them, but not the token embedding table, of which a pass gathers only its n rows.
 * Unknown tensor types count as 1 byte per element (and are listed).
 */
export function weightBytesPerPass(tensors: TensorSummary[]): { bytes: number; unknownTypes: number[] } {
  let bytes = 0;
  const unknown = new Set<number>();
  for (const t of tensors) {
    if (t.name === 'token_embd.weight' || t.name === 'position_embd.weight' || t.name === 'token_types.weight') continue;
    const el = t.dimensions.reduce((a, b) => a * b, 1);
    const per = GGML_TYPE_BYTES[t.ggmlType];
    if (per === undefined) unknown.add(t.ggmlType);
    bytes += el * (per ?? 1);
  }
  return { bytes, unknownTypes: [...unknown] };
}

/**
 * Bytes one pass moves besides the weights: activations written and read once per matrix
 * product (fp32), and the n×n attention matrix per head. A lower bound; caches make it smaller
 * in practice only for tiny inputs.
 */
export function activationBytes(s: EncoderShape, seqLen: number): number {
  const n = seqLen;
  const perLayer = 4 * (n * s.hidden * 6 + n * s.feedForward * 2 + 2 * s.heads * n * n);
  return s.layers * perLayer;
}

/** A device's ceilings, for the roofline. */
export interface DevicePeak {
  /** What these figures are for (`1 CPU thread of AMD EPYC …, AVX2 FMA`, `Apple M2 GPU`). */
  label: string;
  /** FP32 FLOP/s the units in use could do at best. */
  flops: number;
  /** Bytes/s of memory bandwidth (measured or published). */
  bytesPerSec: number;
  /** Where the figures come from. */
  source: string;
}

export type Bound = 'compute' | 'memory';

/** The roofline verdict for one measured configuration. */
export interface RooflinePoint {
  seqLen: number;
  flops: number;
  bytes: number;
  /** FLOPs per byte moved. */
  intensity: number;
  seconds: number;
  achievedFlops: number;
  /** achievedFlops / peak.flops. */
  fractionOfPeakFlops: number;
  /** bytes / seconds / peak.bytesPerSec. */
  fractionOfPeakBandwidth: number;
  /** Intensity below the ridge point (peak FLOP/s ÷ bandwidth) means memory-bound. */
  bound: Bound;
}

/** Ridge point of a device: the arithmetic intensity (FLOP/byte) above which work is compute-bound. */
export function ridgePoint(p: DevicePeak): number {
  return p.flops / p.bytesPerSec;
}

/** Places one measurement on the device's roofline. */
export function roofline(seqLen: number, flops: number, bytes: number, seconds: number, peak: DevicePeak): RooflinePoint {
  const intensity = flops / bytes;
  const achievedFlops = flops / seconds;
  return {
    seqLen,
    flops,
    bytes,
    intensity,
    seconds,
    achievedFlops,
    fractionOfPeakFlops: achievedFlops / peak.flops,
    fractionOfPeakBandwidth: bytes / seconds / peak.bytesPerSec,
    bound: intensity < ridgePoint(peak) ? 'memory' : 'compute',
  };
}

/**
 * Theoretical FP32 peak of `threads` CPU cores from /proc/cpuinfo-style facts: FMA lanes × FMA
 * pipes × 2 FLOPs per FMA per cycle. An upper bound: llama.cpp multiplies quantised weights with
 * integer dot products, which this does not model; measure GEMM beside it (the bench does).
 *
 * The width of the pipes is not the width of the instructions: AMD Zen 4 (family 0x19) decodes
 * AVX-512 but executes a 512-bit FMA on its two 256-bit pipes, so it peaks at 2 × 8 lanes like
 * AVX2 (32 FLOP/cycle), not 64; Zen 5 (family 0x1A) has 512-bit pipes. Intel cores with AVX-512
 * have one or two 512-bit FMA units depending on the part: two is assumed (an upper bound).
 */
export function cpuPeakFlops(opts: { threads: number; ghz: number; flags: string[]; arch: string; vendor?: string; family?: number }): {
  flops: number;
  perCycle: number;
  isa: string;
} {
  const has = (f: string): boolean => opts.flags.includes(f);
  const amd = /AMD/i.test(opts.vendor ?? '');
  let perCycle: number;
  let isa: string;
  if (opts.arch === 'arm64') {
    perCycle = 4 * 4 * 2;
    isa = 'NEON (4 FMA pipes × 4 lanes)';
  } else if (has('avx512f') && amd && opts.family !== undefined && opts.family <= 0x19) {
    perCycle = 8 * 2 * 2;
    isa = 'AVX-512 on two 256-bit FMA pipes (AMD Zen 4)';
  } else if (has('avx512f')) {
    perCycle = 16 * 2 * 2;
    isa = amd ? 'AVX-512 FMA (two 512-bit pipes, Zen 5)' : 'AVX-512 FMA (two 512-bit units assumed)';
  } else if (has('avx2') && has('fma')) {
    perCycle = 8 * 2 * 2;
    isa = 'AVX2 FMA';
  } else if (has('avx')) {
    perCycle = 8 * 2;
    isa = 'AVX';
  } else {
    perCycle = 4 * 2;
    isa = 'SSE';
  }
  return { flops: opts.threads * opts.ghz * 1e9 * perCycle, perCycle, isa };
}

/**
 * Published figures for GPUs Loupe's users have (FP32 TFLOP/s, memory GB/s); approximate, from
 * the vendors' specifications. Matched against the GPU or chip name, longest name first.
 */
export const KNOWN_GPU_PEAKS: { match: string; tflops: number; gbPerSec: number }[] = [
  { match: 'M1 Max', tflops: 10.4, gbPerSec: 400 },
  { match: 'M1 Pro', tflops: 5.2, gbPerSec: 200 },
  { match: 'M1 Ultra', tflops: 21, gbPerSec: 800 },
  { match: 'M1', tflops: 2.6, gbPerSec: 68 },
  { match: 'M2 Max', tflops: 13.6, gbPerSec: 400 },
  { match: 'M2 Pro', tflops: 6.8, gbPerSec: 200 },
  { match: 'M2 Ultra', tflops: 27.2, gbPerSec: 800 },
  { match: 'M2', tflops: 3.6, gbPerSec: 100 },
  { match: 'M3 Max', tflops: 16.4, gbPerSec: 400 },
  { match: 'M3 Pro', tflops: 7.4, gbPerSec: 150 },
  { match: 'M3', tflops: 4.1, gbPerSec: 100 },
  { match: 'M4 Max', tflops: 18.4, gbPerSec: 546 },
  { match: 'M4 Pro', tflops: 9.2, gbPerSec: 273 },
  { match: 'M4', tflops: 4.3, gbPerSec: 120 },
  { match: 'H200', tflops: 67, gbPerSec: 4800 },
  { match: 'H100', tflops: 67, gbPerSec: 3350 },
  { match: 'A100', tflops: 19.5, gbPerSec: 1555 },
  { match: 'RTX 4090', tflops: 82.6, gbPerSec: 1008 },
  { match: 'RTX 3090', tflops: 35.6, gbPerSec: 936 },
];

/** The published peak for a GPU or chip name, or null. */
export function knownGpuPeak(name: string): { match: string; tflops: number; gbPerSec: number } | null {
  const sorted = [...KNOWN_GPU_PEAKS].sort((a, b) => b.match.length - a.match.length);
  for (const k of sorted) {
    const re = new RegExp(`(^|[^A-Za-z0-9])${k.match.replace(/ /g, '\\s*')}($|[^A-Za-z0-9])`, 'i');
    if (re.test(name)) return k;
  }
  return null;
}
