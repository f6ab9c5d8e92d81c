/**
 * Writes an index as TensorFlow Embedding Projector files (vectors.tsv, metadata.tsv,
 * projector_config.json) from an open store. Used by the engine process (its own store: the
 * `exportProjector` request of the VS Code command) and by `loupe export` (a read-only store).
 */
import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { finished } from 'node:stream/promises';
import { firstCodeLine, metadataHeader, metadataLine, projectorConfig, vectorLine } from './bench/projector.js';
import type { Store } from './store.js';

export interface ExportSummary {
  rows: number;
  dimensions: number;
  files: { vectors: string; metadata: string; config: string };
  /** Chunks without a vector (none in a committed index), left out. */
  skipped: number;
}

/** What an export reads of a store. */
export type ExportableStore = Pick<Store, 'files' | 'getVector'> & { readonly identity: { modelName: string; dimensions: number } };

/**
 * Writes the Projector files of the index of `root` into `outDir`. Files are read at the paths
 * listed when the export starts; chunks an index job removes meanwhile are left out.
 */
export async function writeProjectorFiles(root: string, store: ExportableStore, outDir: string): Promise<ExportSummary> {
  const { modelName, dimensions } = store.identity;
  mkdirSync(outDir, { recursive: true });
  const vecFile = path.join(outDir, 'vectors.tsv');
  const metaFile = path.join(outDir, 'metadata.tsv');
  const cfgFile = path.join(outDir, 'projector_config.json');
  // Written beside, renamed at the end: a failed export leaves any previous one whole.
  const vecTmp = `${vecFile}.tmp-${process.pid}`;
  const metaTmp = `${metaFile}.tmp-${process.pid}`;
  let rows = 0;
  let skipped = 0;
  try {
    const vs = createWriteStream(vecTmp);
    const ms = createWriteStream(metaTmp);
    ms.write(metadataHeader() + '\n');
    const paths = [...store.files.keys()].sort();
    for (const p of paths) {
      const rec = store.files.get(p);
      if (!rec) continue;
      let lines: string[] = [];
      try {
        lines = readFileSync(path.join(root, p), 'utf8').split(/\r?\n/);
      } catch {
        /* file gone since indexing: metadata without the first line */
      }
      for (const c of rec.chunks) {
        const v = store.getVector(c.hash);
        if (!v) {
          skipped++;
          continue;
        }
        if (!vs.write(vectorLine(v) + '\n')) await new Promise<void>((r) => vs.once('drain', () => r()));
        ms.write(
          metadataLine({
            path: p,
            symbol: c.symbol,
            language: c.language,
            startLine: c.startLine,
            endLine: c.endLine,
            firstLine: firstCodeLine(lines, c.startLine, c.endLine),
          }) + '\n',
        );
        rows++;
      }
    }
    vs.end();
    ms.end();
    await Promise.all([finished(vs), finished(ms)]);
    renameSync(vecTmp, vecFile);
    renameSync(metaTmp, metaFile);
    writeFileSync(
      cfgFile,
      JSON.stringify(projectorConfig({ name: `${path.basename(root)} · ${modelName}`, rows, dimensions }), null, 2) + '\n',
    );
  } finally {
    for (const t of [vecTmp, metaTmp]) if (existsSync(t)) rmSync(t, { force: true });
  }
  return { rows, dimensions, files: { vectors: vecFile, metadata: metaFile, config: cfgFile }, skipped };
}
