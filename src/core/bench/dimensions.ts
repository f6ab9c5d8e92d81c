/** Embedding models trained to be truncated to fewer dimensions (Matryoshka representation learning). Pure. */

export const MATRYOSHKA_MODELS: { match: RegExp; dims: number[] }[] = [
  { match: /embeddinggemma/i, dims: [768, 512, 256, 128] },
  { match: /nomic-embed-text-v1\.5|nomic-embed-text-v2/i, dims: [768, 512, 256, 128, 64] },
  { match: /mxbai-embed-large/i, dims: [1024, 512, 256, 128] },
  { match: /snowflake-arctic-embed-m-v1\.5/i, dims: [768, 256] },
  { match: /qwen3-embedding/i, dims: [1024, 512, 256, 128] },
];

/** Trained truncation sizes for a model (by name or file name), largest first, or null. */
export function matryoshkaDims(...names: string[]): number[] | null {
  for (const m of MATRYOSHKA_MODELS) if (names.some((n) => m.match.test(n))) return [...m.dims];
  return null;
}

/**
 * Dimensions the sweep measures: the trained sizes that fit the model, else the full size and
 * two halvings (marked untrained in the results: the model was not taught to be cut).
 */
export function sweepDims(full: number, trained: number[] | null, quick: boolean): { dims: number; trained: boolean }[] {
  if (trained) {
    const fit = trained.filter((d) => d <= full);
    if (!fit.includes(full)) fit.unshift(full);
    return (quick ? fit.slice(0, 3) : fit).map((dims) => ({ dims, trained: true }));
  }
  const out = [{ dims: full, trained: true }];
  for (let d = full >> 1; out.length < 3 && d >= 16; d >>= 1) out.push({ dims: d, trained: false });
  return out;
}
