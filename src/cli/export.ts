/**
 * `loupe export <dir> --projector <outdir>`: the index's vectors and chunk metadata as
 * TensorFlow Embedding Projector files (vectors.tsv, metadata.tsv, projector_config.json).
 * Reads the index without the model and without the writer lock (a running `index --watch` or
 * VS Code may keep it open).
 */
import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { finished } from 'node:stream/promises';
import { firstCodeLine, metadataHeader, metadataLine, projectorConfig, vectorLine } from '../core/bench/projector.js';
import { readManifest, Store } from '../core/store.js';
import { LoupeError } from '../core/types.js';
import { parseCommandArgs, type CliIo } from './common.js';

export const EXPORT_USAGE = `Usage:
  loupe export <dir> --projector <outdir> [--store <dir>]

Writes the index of <dir> as TensorFlow Embedding Projector files: <outdir>/vectors.tsv (one
vector per chunk), <outdir>/metadata.tsv (path, symbol, language, lines, first line) and
<outdir>/projector_config.json. Load them at https://projector.tensorflow.org ("Load").`;

export interface ExportSummary {
  rows: number;
  dimensions: number;
  files: { vectors: string; metadata: string; config: string };
  skipped: number;
}

/** Writes the Projector files for the index in `storeDir` (of the folder `root`). */
export async function exportProjector(root: string, storeDir: string, outDir: string): Promise<ExportSummary> {
  const m = readManifest(storeDir);
  if (!m) throw new LoupeError(`${root} has no index in ${storeDir}; run \`loupe index ${root}\` first.`, 'no-index');
  const store = Store.open(storeDir, { modelId: m.modelId, modelName: m.modelName, dimensions: m.dimensions }, { metadataOnly: true, readOnly: true });
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
      const rec = store.files.get(p)!;
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
        ms.write(metadataLine({ path: p, symbol: c.symbol, language: c.language, startLine: c.startLine, endLine: c.endLine, firstLine: firstCodeLine(lines, c.startLine, c.endLine) }) + '\n');
        rows++;
      }
    }
    vs.end();
    ms.end();
    await Promise.all([finished(vs), finished(ms)]);
    renameSync(vecTmp, vecFile);
    renameSync(metaTmp, metaFile);
    writeFileSync(cfgFile, JSON.stringify(projectorConfig({ name: `${path.basename(root)} · ${m.modelName}`, rows, dimensions: m.dimensions }), null, 2) + '\n');
  } finally {
    store.close();
    for (const t of [vecTmp, metaTmp]) if (existsSync(t)) rmSync(t, { force: true });
  }
  return { rows, dimensions: m.dimensions, files: { vectors: vecFile, metadata: metaFile, config: cfgFile }, skipped };
}

export async function runExportCli(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs({ args: argv, allowPositionals: true, options: { projector: { type: 'string' }, store: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }, EXPORT_USAGE, io);
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
  const storeDir = v.store ? path.resolve(v.store) : path.join(root, '.loupe');
  const s = await exportProjector(root, storeDir, path.resolve(v.projector));
  io.out(`${s.rows} chunks × ${s.dimensions} dimensions → ${path.dirname(s.files.vectors)} (vectors.tsv, metadata.tsv, projector_config.json)${s.skipped ? `; ${s.skipped} chunks without a vector skipped` : ''}`);
  return 0;
}
