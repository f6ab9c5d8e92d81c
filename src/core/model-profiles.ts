import type { ModelProfile } from './types.js';

/** Known embedding models: how they want queries and documents dressed, and their useful length. */
const PROFILES: { match: RegExp; profile: ModelProfile }[] = [
  { match: /minilm/i, profile: { queryPrefix: '', documentPrefix: '', maxTokens: 256 } },
  {
    match: /bge-(small|base|large)-en/i,
    profile: { queryPrefix: 'Represent this sentence for searching relevant passages: ', documentPrefix: '', maxTokens: 512 },
  },
  { match: /(^|[^a-z])e5-(small|base|large)/i, profile: { queryPrefix: 'query: ', documentPrefix: 'passage: ', maxTokens: 512 } },
  {
    match: /embeddinggemma/i,
    profile: {
      queryPrefix: 'task: code retrieval | query: ',
      documentPrefix: 'title: none | text: ',
      maxTokens: 2048,
      matryoshkaDims: [768, 512, 256, 128],
      // tune-model.js on the mined set's tuning half + bench:quality's tuning questions (713):
      // 0.8/0.2 + stage 0.815 nDCG@10 vs 0.803 for 0.6/0.4 + stage (docs/ranking.md).
      rankedFusionDense: 0.8,
    },
  },
  {
    match: /qwen3-embedding/i,
    profile: {
      queryPrefix: 'Instruct: Given a question about code, retrieve the code that answers it\nQuery: ',
      documentPrefix: '',
      maxTokens: 2048,
    },
  },
  {
    match: /coderankembed/i,
    profile: { queryPrefix: 'Represent this query for searching relevant code: ', documentPrefix: '', maxTokens: 2048 },
  },
  {
    match: /nomic-embed/i,
    profile: {
      queryPrefix: 'search_query: ',
      documentPrefix: 'search_document: ',
      maxTokens: 2048,
      matryoshkaDims: [768, 512, 256, 128, 64],
    },
  },
  { match: /jina-embeddings-v2-base-code/i, profile: { queryPrefix: '', documentPrefix: '', maxTokens: 2048 } },
];

const DEFAULT_PROFILE: ModelProfile = { queryPrefix: '', documentPrefix: '', maxTokens: 512 };

/**
 * Checks a requested vector size against a model: its own size, or one of the Matryoshka sizes
 * it was trained to be cut to. Returns the size to cut to, or undefined for whole vectors.
 */
export function checkDimensions(modelName: string, modelDims: number, profile: ModelProfile, dims: number | undefined): number | undefined {
  if (dims === undefined || dims === modelDims) return undefined;
  const trained = profile.matryoshkaDims ?? [];
  if (!trained.includes(dims) || dims > modelDims) {
    throw new RangeError(
      trained.length
        ? `${modelName} cannot be cut to ${dims} dimensions: it was trained for ${trained.filter((d) => d <= modelDims).join(', ')}.`
        : `${modelName} makes ${modelDims}-dimensional vectors and was not trained to be cut shorter (no Matryoshka sizes); use it whole.`,
    );
  }
  return dims;
}

/** The profile for a model, matched on its GGUF `general.name` or file name. */
export function profileFor(modelName: string, fileName = ''): ModelProfile {
  for (const { match, profile } of PROFILES) {
    if (match.test(modelName) || match.test(fileName))
      return { ...profile, ...(profile.matryoshkaDims ? { matryoshkaDims: [...profile.matryoshkaDims] } : {}) };
  }
  return { ...DEFAULT_PROFILE };
}
