/** What `loupe bench` needs from a GGUF file's header: the encoder's shape and the bytes of its weights. */
import { statSync } from 'node:fs';
import * as path from 'node:path';
import { encoderShapeFromMetadata, weightBytesPerPass, type EncoderShape } from '../../core/bench/flops.js';

export interface GgufModelFacts {
  name: string;
  architecture: string;
  shape: EncoderShape | null;
  shapeMissing?: string[];
  weightBytesPerPass: number;
  fileBytes: number;
  unknownTensorTypes: number[];
}

/** Reads the header (metadata and tensor table, not the weights) with node-llama-cpp's readGgufFileInfo. */
export async function readModelFacts(modelPath: string): Promise<GgufModelFacts> {
  const { readGgufFileInfo } = await import('node-llama-cpp');
  const info = await readGgufFileInfo(modelPath, { readTensorInfo: true, logWarnings: false });
  const metadata = info.metadata as unknown as Record<string, unknown>;
  const general = (metadata.general ?? {}) as { name?: string; architecture?: string };
  const shape = encoderShapeFromMetadata(metadata);
  const tensors = (info.fullTensorInfo ?? info.tensorInfo ?? []).map((t) => ({
    name: t.name,
    dimensions: t.dimensions.map(Number),
    ggmlType: Number(t.ggmlType),
  }));
  const w = weightBytesPerPass(tensors);
  if (!('missing' in shape) && tensors.some((t) => /^blk\.0\.ffn_gate(_inp)?\.weight$/.test(t.name))) shape.gatedFfn = true;
  return {
    name: general.name ?? path.basename(modelPath, '.gguf'),
    architecture: general.architecture ?? 'unknown',
    shape: 'missing' in shape ? null : shape,
    shapeMissing: 'missing' in shape ? shape.missing : undefined,
    weightBytesPerPass: w.bytes,
    fileBytes: statSync(modelPath).size,
    unknownTensorTypes: w.unknownTypes,
  };
}
