import { profileFor } from '../model-profiles.js';
import type { ModelProfile } from '../types.js';

/** How a model turns token states into one vector (as llama.cpp's pooling types name them). */
export type Pooling = 'mean' | 'cls' | 'last';

/** A recommended embedding model that the model manager can download from Hugging Face. */
export interface CatalogEntry {
  /** Short id used by `loupe models install <id>`. */
  id: string;
  name: string;
  /** Hugging Face repository (`owner/name`) holding the GGUF file. */
  repo: string;
  /** Git revision to download from. */
  revision: string;
  /** Exact file name in the repository, or a pattern the hub's file list is searched with. */
  file: string | RegExp;
  /**
   * sha256 of the file when pinned here; otherwise the hub's own LFS sha256 (from its file
   * listing) is what the download is verified against.
   */
  sha256?: string;
  /** Approximate size for the catalogue listing (the hub's listing gives the exact one). */
  approxMB: number;
  dimensions: number;
  pooling: Pooling;
  /** Query/document prefixes and useful input length (shared with model-profiles.ts). */
  profile: ModelProfile;
  licence: string;
  notes: string;
}

function entry(e: Omit<CatalogEntry, 'profile'>): CatalogEntry {
  return { ...e, profile: profileFor(e.name) };
}

/**
 * Recommended downloads, strongest code retrieval first. Not bundled: each is 4–25× the size of
 * the bundled all-MiniLM-L6-v2 and slower per chunk on CPU. Repositories and file names were
 * taken from the repositories' listings; they were not downloaded from this project's machines
 * (no network to the hub here), so the download verifies each against the hub's sha256.
 */
export const CATALOG: CatalogEntry[] = [
  entry({
    id: 'qwen3-embedding-0.6b', name: 'Qwen3-Embedding-0.6B', repo: 'Qwen/Qwen3-Embedding-0.6B-GGUF', revision: 'main',
    file: /^Qwen3-Embedding-0\.6B-Q8_0\.gguf$/i, approxMB: 640, dimensions: 1024, pooling: 'last', licence: 'Apache-2.0',
    notes: 'Multilingual, instruction-aware queries, 32k context (Loupe uses 2,048 tokens per chunk); decoder, last-token pooling.',
  }),
  entry({
    id: 'coderankembed', name: 'CodeRankEmbed', repo: 'handwoven8588/CodeRankEmbed-GGUF', revision: 'main',
    file: /q8_0\.gguf$/i, approxMB: 145, dimensions: 768, pooling: 'cls', licence: 'MIT',
    notes: 'nomic-ai/CodeRankEmbed (137M, trained for code retrieval), community GGUF conversion; queries need its prefix.',
  }),
  entry({
    id: 'embeddinggemma-300m', name: 'EmbeddingGemma-300M', repo: 'ggml-org/embeddinggemma-300M-GGUF', revision: 'main',
    file: /q8_0\.gguf$/i, approxMB: 330, dimensions: 768, pooling: 'mean', licence: 'Gemma Terms of Use',
    notes: 'Google EmbeddingGemma, 2k context, task prefixes for query and document.',
  }),
  entry({
    id: 'jina-embeddings-v2-base-code', name: 'jina-embeddings-v2-base-code', repo: 'ggml-org/jina-embeddings-v2-base-code-Q8_0-GGUF', revision: 'main',
    file: 'jina-embeddings-v2-base-code-q8_0.gguf', approxMB: 173, dimensions: 768, pooling: 'mean', licence: 'Apache-2.0',
    notes: 'Code + English, 8k context with ALiBi (Loupe uses 2,048 tokens per chunk).',
  }),
  entry({
    id: 'bge-small-en-v1.5', name: 'bge-small-en-v1.5', repo: 'ChristianAzinn/bge-small-en-v1.5-gguf', revision: 'main',
    file: /Q8_0\.gguf$/i, approxMB: 36, dimensions: 384, pooling: 'cls', licence: 'MIT',
    notes: 'Small English model, same size class as the bundled MiniLM; query prefix, CLS pooling, 512 tokens.',
  }),
];

/** The catalogue entry for an id (case-insensitive), or undefined. */
export function catalogEntry(id: string): CatalogEntry | undefined {
  return CATALOG.find((e) => e.id.toLowerCase() === id.toLowerCase());
}
