/**
 * `loupe export <dir> --projector <outdir>`: the index's vectors and chunk metadata as
 * TensorFlow Embedding Projector files (vectors.tsv, metadata.tsv, projector_config.json).
 * Reads the index without the model and without the writer lock (a running `index --watch` or
 * VS Code may keep it open).
 */
import * as path from 'node:path';
import { writeProjectorFiles, type ExportSummary } from '../core/projector-export.js';
import { readManifest, Store } from '../core/store.js';
import { LoupeError } from '../core/types.js';
import { parseCommandArgs, type CliIo } from './common.js';
import { storeDirFor } from '../core/defaults.js';

export const EXPORT_USAGE = `Usage:
  loupe export <dir> --projector <outdir> [--store <dir>]

Writes the index of <dir> as TensorFlow Embedding Projector files: <outdir>/vectors.tsv (one
vector per chunk), <outdir>/metadata.tsv (path, symbol, language, lines, first line) and
<outdir>/projector_config.json. Load them at https://projector.tensorflow.org ("Load").`;

/** Writes the Projector files for the index in `storeDir` (of the folder `root`), read-only. */
export async function exportProjector(root: string, storeDir: string, outDir: string): Promise<ExportSummary> {
  const m = readManifest(storeDir);
  if (!m) throw new LoupeError(`${root} has no index in ${storeDir}; run \`loupe index ${root}\` first.`, 'no-index');
  const store = Store.open(
    storeDir,
    { modelId: m.modelId, modelName: m.modelName, dimensions: m.dimensions },
    { metadataOnly: true, readOnly: true },
  );
  try {
    return await writeProjectorFiles(root, store, outDir);
  } finally {
    store.close();
  }
}

export async function runExportCli(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(
    {
      args: argv,
      allowPositionals: true,
      options: { projector: { type: 'string' }, store: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    },
    EXPORT_USAGE,
    io,
  );
  if (!parsed) return 2;
  const { values: v, positionals } = parsed;
  if (v.help) {
    io.out(EXPORT_USAGE);
    return 0;
  }
  if (positionals.length !== 1 || !v.projector) {
    io.err(`loupe export: ${positionals.length !== 1 ? 'give one <dir>' : 'missing --projector <outdir>'}\n\n${EXPORT_USAGE}`);
    return 2;
  }
  const root = path.resolve(positionals[0]);
  const storeDir = storeDirFor(root, v.store);
  const s = await exportProjector(root, storeDir, path.resolve(v.projector));
  io.out(
    `${s.rows} chunks × ${s.dimensions} dimensions → ${path.dirname(s.files.vectors)} (vectors.tsv, metadata.tsv, projector_config.json)${s.skipped ? `; ${s.skipped} chunks without a vector skipped` : ''}`,
  );
  return 0;
}
