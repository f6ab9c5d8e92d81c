/**
 * Answer (chat) models for `loupe ask` and the Ask view: small instruct GGUFs that run in process
 * through node-llama-cpp. They are installed from a file the user downloaded (`loupe models
 * install <id> --from <file.gguf>`); Loupe does not fetch them itself. Sizes are the Q4_K_M files'
 * approximate sizes from the repositories' listings (not downloaded on this project's machines).
 */

/** A recommended chat model: where to get it, what it costs, under which licence. */
export interface ChatCatalogEntry {
  /** Short id used by `loupe models install <id> --from <file>` and `--llm-model <id>`. */
  id: string;
  name: string;
  /** Hugging Face repository holding the GGUF files (where the user downloads it). */
  repo: string;
  /** The recommended file in that repository. */
  file: string;
  approxMB: number;
  licence: string;
  notes: string;
}

export const CHAT_CATALOG: ChatCatalogEntry[] = [
  {
    id: 'qwen2.5-coder-1.5b-instruct', name: 'Qwen2.5-Coder-1.5B-Instruct', repo: 'Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF',
    file: 'qwen2.5-coder-1.5b-instruct-q4_k_m.gguf', approxMB: 1100, licence: 'Apache-2.0',
    notes: 'Smallest useful code answerer: runs on a laptop CPU (a few tokens/s per core), 32k context.',
  },
  {
    id: 'qwen2.5-coder-3b-instruct', name: 'Qwen2.5-Coder-3B-Instruct', repo: 'Qwen/Qwen2.5-Coder-3B-Instruct-GGUF',
    file: 'qwen2.5-coder-3b-instruct-q4_k_m.gguf', approxMB: 2100, licence: 'Qwen Research License (non-commercial)',
    notes: 'Better answers at twice the cost; check its licence before commercial use.',
  },
  {
    id: 'qwen2.5-coder-7b-instruct', name: 'Qwen2.5-Coder-7B-Instruct', repo: 'Qwen/Qwen2.5-Coder-7B-Instruct-GGUF',
    file: 'qwen2.5-coder-7b-instruct-q4_k_m.gguf', approxMB: 4700, licence: 'Apache-2.0',
    notes: 'For a GPU or Apple Silicon; slow on CPU.',
  },
];

/** The chat catalogue entry for an id (case-insensitive), or undefined. */
export function chatCatalogEntry(id: string): ChatCatalogEntry | undefined {
  return CHAT_CATALOG.find((e) => e.id.toLowerCase() === id.toLowerCase());
}

/** Where the user downloads a chat model's recommended file. */
export function chatDownloadUrl(e: ChatCatalogEntry): string {
  return `https://huggingface.co/${e.repo}/blob/main/${e.file}`;
}
