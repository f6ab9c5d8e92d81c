/**
 * Shared test support: one engine factory on the real adapters, and the sample project. The file
 * helpers live in files.ts (which unit-tier tests import: it loads no adapter) and are re-exported.
 */
import { Engine, type EngineOptions } from '../../src/core/engine.js';
import { HnswFactory } from '../../src/adapters/hnsw-index.js';
import { LlamaEmbedder } from '../../src/adapters/llama-embedder.js';
import { TreeSitterChunker } from '../../src/adapters/treesitter-chunker.js';
import { tinyBertPath } from './files.js';

export { REPO, tempDir, tinyBertPath, tinySessionParams, writeTree } from './files.js';

let sharedEmbedder: Promise<LlamaEmbedder> | undefined;

/** One tiny-BERT embedder per test process (loading is the slow part). */
export function embedder(): Promise<LlamaEmbedder> {
  sharedEmbedder ??= LlamaEmbedder.load({ modelPath: tinyBertPath(), gpu: false, contexts: 2, threadsPerContext: 1 });
  return sharedEmbedder;
}

/** Opens an engine on real adapters with the tiny model. */
export async function openTestEngine(root: string, extra: Partial<EngineOptions> = {}): Promise<Engine> {
  return Engine.open({
    root,
    chunker: new TreeSitterChunker(),
    embedder: await embedder(),
    annFactory: new HnswFactory(),
    batchSize: 8,
    ...extra,
  });
}

/** A small multi-language project whose functions have distinct purposes. */
export const SAMPLE_PROJECT: Record<string, string> = {
  'src/config.ts': `import { readFileSync } from 'node:fs';

/** Loads the settings file and parses it. */
export function parseConfigFile(path: string): Record<string, unknown> {
  const text = readFileSync(path, 'utf8');
  return JSON.parse(text);
}

export class ConfigStore {
  private values = new Map<string, unknown>();

  get(key: string): unknown {
    return this.values.get(key);
  }

  deleteUserPreferences(user: string): void {
    for (const key of [...this.values.keys()]) {
      if (key.startsWith(user + '.')) this.values.delete(key);
    }
  }
}
`,
  'src/http/client.py': `import urllib.request


def download_url(url, timeout=10):
    """Fetch a web page and return its body as text."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode("utf-8")


class RetryPolicy:
    def __init__(self, attempts):
        self.attempts = attempts

    def backoff_delay(self, attempt):
        return min(30, 2 ** attempt)
`,
  'src/sort.go': `package sort

// QuickSort sorts a slice of integers in place.
func QuickSort(values []int) {
\tif len(values) < 2 {
\t\treturn
\t}
\tpivot := values[len(values)/2]
\tleft, right := 0, len(values)-1
\tfor left <= right {
\t\tfor values[left] < pivot {
\t\t\tleft++
\t\t}
\t\tfor values[right] > pivot {
\t\t\tright--
\t\t}
\t\tif left <= right {
\t\t\tvalues[left], values[right] = values[right], values[left]
\t\t\tleft++
\t\t\tright--
\t\t}
\t}
\tQuickSort(values[:right+1])
\tQuickSort(values[left:])
}
`,
  'src/auth.rs': `pub struct Session {
    pub user: String,
    pub token: String,
}

impl Session {
    pub fn authenticate_user(user: &str, password: &str) -> Option<Session> {
        if password.len() < 8 {
            return None;
        }
        Some(Session { user: user.to_string(), token: format!("tok-{}", user) })
    }
}
`,
  'README.md': `# Sample

A sample project for Loupe tests.

## Usage

Run the tool with a config file.
`,
};
