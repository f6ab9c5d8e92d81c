/**
 * Which kind of model an index uses, for `loupe status` and the status bar: the bundled default
 * (instant, offline, cheap on a CPU) or the quality tier (EmbeddingGemma-300M: better results,
 * about ten times the compute per token, so recommended where a GPU makes that cheap). Chosen
 * by `npm run bench:quality` (README, "Models").
 */
export type ModelTier = 'default' | 'quality' | 'other';

export const QUALITY_MODEL_ID = 'embeddinggemma-300m';

export function modelTier(modelName: string): ModelTier {
  if (/minilm/i.test(modelName) || /loupe-tiny-bert/i.test(modelName)) return 'default';
  if (/embeddinggemma/i.test(modelName)) return 'quality';
  return 'other';
}

/** `all-MiniLM-L6-v2 (bundled default)`, `EmbeddingGemma-300M (quality tier)`, or the bare name. */
export function describeModel(modelName: string): string {
  const t = modelTier(modelName);
  return t === 'default' ? `${modelName} (bundled default)` : t === 'quality' ? `${modelName} (quality tier)` : modelName;
}

/**
 * Advice for an index on the default model when a GPU would embed: the quality tier is worth it
 * there. None on a CPU alone (the quality tier costs about ten times as much to index) and none
 * once another model is chosen.
 */
export function tierAdvice(modelName: string, unit: 'gpu' | 'cpu' | string, qualityInstalled: boolean): string | undefined {
  if (modelTier(modelName) !== 'default' || unit !== 'gpu') return undefined;
  return qualityInstalled
    ? `a GPU is available: the quality tier (EmbeddingGemma-300M) is installed; use it with --model ${QUALITY_MODEL_ID} --rebuild`
    : `a GPU is available: the quality tier (EmbeddingGemma-300M) finds more on it; loupe models install ${QUALITY_MODEL_ID}, then --model ${QUALITY_MODEL_ID} --rebuild`;
}
