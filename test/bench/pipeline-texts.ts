/** The chunk texts Loupe's pipeline embeds, for benchmarks that feed embedders directly. */
import { boundedHeader, fitToTokenBudget } from '../../src/core/chunking.js';
import { chunkKey } from '../../src/core/engine.js';
import { DEFAULT_MAX_FILE_BYTES, readSourceFile, scanTree } from '../../src/core/scanner.js';
import type { EmbedderPort } from '../../src/core/types.js';
import { TreeSitterChunker } from '../../src/adapters/treesitter-chunker.js';

/**
 * The exact texts `engine.index()` embeds on a fresh store, in its order: scan → read → chunk →
 * fit to the token budget → dedupe by content key → header + text.
 */
export async function pipelineTexts(
  root: string,
  storeDir: string,
  embedder: Pick<EmbedderPort, 'countTokens' | 'profile'>,
): Promise<{ texts: string[]; chunks: number }> {
  const chunker = new TreeSitterChunker();
  const scan = await scanTree(root, { maxFileBytes: DEFAULT_MAX_FILE_BYTES, storeDir });
  const seen = new Set<string>();
  const texts: string[] = [];
  let chunks = 0;
  for (const f of scan.files) {
    const read = await readSourceFile(f.abs);
    if ('skip' in read) continue;
    const raw = await chunker.chunkFile(f.rel, read.text);
    const count = (t: string): number => embedder.countTokens(t);
    const max = embedder.profile.maxTokens;
    const fitted = raw.flatMap((c) => {
      const header = boundedHeader(c, count, max);
      return fitToTokenBudget(c, count, max, header).map((p) => ({ ...p, header }));
    });
    chunks += fitted.length;
    for (const c of fitted) {
      const key = chunkKey(c);
      if (seen.has(key)) continue;
      seen.add(key);
      texts.push(c.header + c.text);
    }
  }
  chunker.dispose();
  return { texts, chunks };
}
