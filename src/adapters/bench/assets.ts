/**
 * Files the benchmark reads at run time: the report template and script (media/report), Chart.js's
 * UMD build, and the labelled cohesion set. In a bundle (dist/) esbuild.mjs copies Chart.js and the
 * set beside it (dist/report, dist/cohesion); from the sources they come from node_modules and
 * data/cohesion (product data: product code never reads test/).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ReportAssets } from '../../core/bench/report.js';
import { LoupeError } from '../../core/types.js';
import { packageRoot } from '../open-engine.js';

function here(): string {
  return path.dirname(fileURLToPath(import.meta.url));
}

function firstExisting(cands: string[], what: string): string {
  for (const c of cands) if (existsSync(c)) return c;
  throw new LoupeError(`Cannot find ${what} (looked in ${cands.join(', ')}).`, 'missing-asset');
}

/** Chart.js's minified UMD build. */
export function chartJsPath(): string {
  const cands = [path.join(here(), 'report', 'chart.umd.min.js')];
  try {
    // The package's exports hide dist/; resolve its package.json's folder instead.
    const req = createRequire(import.meta.url);
    const main = req.resolve('chart.js');
    cands.push(path.join(path.dirname(main), 'chart.umd.min.js'));
  } catch {
    /* not installed: only the bundled copy */
  }
  cands.push(path.join(packageRoot(), 'node_modules', 'chart.js', 'dist', 'chart.umd.min.js'));
  return firstExisting(cands, 'Chart.js (chart.umd.min.js)');
}

/** Template, styles, Chart.js and the drawing script. */
export function loadReportAssets(): ReportAssets {
  const dir = path.join(packageRoot(), 'media', 'report');
  const read = (f: string): string => readFileSync(firstExisting([path.join(dir, f)], `media/report/${f}`), 'utf8');
  return {
    template: read('report.html'),
    css: read('report.css'),
    reportJs: read('report.js'),
    chartJs: readFileSync(chartJsPath(), 'utf8'),
  };
}

/** Folder of the labelled cohesion set (one sub-folder per topic). */
export function cohesionDir(): string {
  return firstExisting([path.join(here(), 'cohesion'), path.join(packageRoot(), 'data', 'cohesion')], 'the cohesion set');
}

/** The labelled texts: topic (folder) → files, in a stable order. */
export function loadCohesionSet(dir = cohesionDir()): { category: string; file: string; text: string }[] {
  const out: { category: string; file: string; text: string }[] = [];
  for (const cat of readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort()) {
    for (const f of readdirSync(path.join(dir, cat)).sort()) {
      out.push({ category: cat, file: `${cat}/${f}`, text: readFileSync(path.join(dir, cat, f), 'utf8') });
    }
  }
  if (out.length < 4) throw new LoupeError(`The cohesion set in ${dir} has too few texts (${out.length}).`, 'missing-asset');
  return out;
}
