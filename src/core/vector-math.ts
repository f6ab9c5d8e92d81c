/** Cosine similarity of two vectors; NaN when their lengths differ, 0 when either is all zeros. */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return NaN;
  let d = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na && nb ? d / Math.sqrt(na * nb) : 0;
}

/**
 * A Matryoshka cut: the first `dims` components of a vector, L2-normalised again (a cut unit
 * vector is no longer unit length, and the index ranks by inner product). An all-zero prefix
 * stays zero.
 */
export function truncateNormalize(v: ArrayLike<number>, dims: number): Float32Array {
  if (!Number.isInteger(dims) || dims < 1 || dims > v.length)
    throw new RangeError(`Cannot cut a ${v.length}-dimensional vector to ${dims} dimensions.`);
  let s = 0;
  for (let i = 0; i < dims; i++) s += v[i] * v[i];
  const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
  const out = new Float32Array(dims);
  for (let i = 0; i < dims; i++) out[i] = v[i] * inv;
  return out;
}
