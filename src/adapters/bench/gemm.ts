/**
 * A measured FP32 GEMM ceiling for the roofline: one ONNX `MatMul` run by ONNX Runtime's MLAS
 * kernels (the same ones the ONNX backend embeds with), on `threads` threads. The theoretical peak
 * (cpuPeakFlops) is what the silicon could do; this is what a tuned sgemm does on this machine now,
 * in the same run as the embedding figures, so "% of peak" compares like with like.
 *
 * The model is written here as protobuf bytes (a dozen fields of onnx.proto3): no file, no weights.
 */
type Ort = typeof import('onnxruntime-node');

/** Protobuf wire encoding, the few shapes onnx.proto needs. */
function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push(v % 0x80 | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}
const field = (no: number, wire: number): number[] => varint(no * 8 + wire);
const int = (no: number, v: number): number[] => [...field(no, 0), ...varint(v)];
const bytes = (no: number, b: number[]): number[] => [...field(no, 2), ...varint(b.length), ...b];
const str = (no: number, s: string): number[] => bytes(no, [...Buffer.from(s, 'utf8')]);

/** ValueInfoProto of a float tensor with a fixed shape. */
function floatInput(name: string, dims: number[]): number[] {
  const shape = dims.flatMap((d) => bytes(1, int(1, d)));
  const tensorType = [...int(1, 1), ...bytes(2, shape)]; // elem_type FLOAT, shape
  return [...str(1, name), ...bytes(2, bytes(1, tensorType))];
}

/** An ONNX model computing C[m,n] = A[m,k] · B[k,n]. */
export function matMulModel(m: number, k: number, n: number): Uint8Array {
  const node = [...str(1, 'A'), ...str(1, 'B'), ...str(2, 'C'), ...str(3, 'gemm'), ...str(4, 'MatMul')];
  const graph = [
    ...bytes(1, node),
    ...str(2, 'gemm'),
    ...bytes(11, floatInput('A', [m, k])),
    ...bytes(11, floatInput('B', [k, n])),
    ...bytes(12, floatInput('C', [m, n])),
  ];
  const opset = [...str(1, ''), ...int(2, 17)];
  return Uint8Array.from([...int(1, 8), ...str(2, 'loupe-bench'), ...bytes(7, graph), ...bytes(8, opset)]);
}

export interface GemmResult {
  m: number;
  k: number;
  n: number;
  threads: number;
  /** Best of the runs, FLOP/s (2·m·k·n per product). */
  flops: number;
  /** FLOPs per CPU-second of this process over all runs: the ceiling on a machine shared with other work. */
  flopsPerCpuSecond: number;
  runs: number;
}

/**
 * Best FP32 FLOP/s of an m×k·k×n product on `threads` threads over `seconds` of repeats. Shapes
 * like an encoder's: 256 tokens × 384 → 1536 is MiniLM's feed-forward at its longest input.
 */
export async function measureGemm(opts: { m?: number; k?: number; n?: number; threads: number; seconds?: number }): Promise<GemmResult> {
  const { m = 256, k = 384, n = 1536, threads } = opts;
  // ONNX Runtime's telemetry off, as for the embedding lanes (src/adapters/onnx-prestart.ts).
  process.env.ORT_DISABLE_TELEMETRY ??= '1';
  const ort = (await import('onnxruntime-node')) as Ort;
  const session = await ort.InferenceSession.create(matMulModel(m, k, n), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    ...(threads > 1 ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}),
  });
  try {
    const a = new Float32Array(m * k).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
    const b = new Float32Array(k * n).map((_, i) => ((i * 104729) % 1000) / 1000 - 0.5);
    const feeds = { A: new ort.Tensor('float32', a, [m, k]), B: new ort.Tensor('float32', b, [k, n]) };
    await session.run(feeds);
    let best = Infinity;
    let runs = 0;
    const c0 = process.cpuUsage();
    const until = performance.now() + (opts.seconds ?? 1) * 1000;
    while (performance.now() < until || runs < 3) {
      const t0 = performance.now();
      await session.run(feeds);
      best = Math.min(best, performance.now() - t0);
      runs++;
    }
    const c = process.cpuUsage(c0);
    return {
      m,
      k,
      n,
      threads,
      flops: (2 * m * k * n) / (best / 1000),
      flopsPerCpuSecond: (2 * m * k * n * runs) / ((c.user + c.system) / 1e6),
      runs,
    };
  } finally {
    await session.release();
  }
}
