/**
 * The benchmark's HTML report: one self-contained page (styles, data, Chart.js and the drawing
 * script inlined) that opens from disk with no network, under a strict Content-Security-Policy
 * (scripts and styles only by nonce, no connections), so a VS Code webview can show it as is.
 * Pure: the caller reads the assets and writes the file.
 */
import type { BenchResults, NotMeasured } from './results.js';

export interface ReportAssets {
  /** media/report/report.html with {{…}} placeholders. */
  template: string;
  css: string;
  /** Chart.js UMD build (defines the global `Chart`). */
  chartJs: string;
  /** media/report/report.js: draws the charts from #bench-data. */
  reportJs: string;
}

/** The ids of the charts a report draws for these results (what a page test expects). */
export function expectedCharts(r: BenchResults): string[] {
  const ids: string[] = [];
  if (r.sweeps.batch.length) ids.push('chart-batch');
  if (r.sweeps.seqLen.length) ids.push('chart-seqlen');
  if (!isNotMeasured(r.roofline)) ids.push('chart-roofline');
  if (r.sweeps.dimension.length) ids.push('chart-dimension');
  ids.push('chart-cohesion');
  if (!isNotMeasured(r.cache)) ids.push('chart-cache');
  if (!isNotMeasured(r.answer)) ids.push('chart-parallel');
  if (!isNotMeasured(r.contention)) ids.push('chart-contention');
  return ids;
}

export function isNotMeasured(x: unknown): x is NotMeasured {
  return !!x && typeof x === 'object' && (x as NotMeasured).status === 'not-measured';
}

/** Escapes text for HTML element content and attribute values. */
export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Makes text safe inside a <script> element (no `</script`, no `<!--`). */
export function scriptSafe(js: string): string {
  return js.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

/** JSON for a <script type="application/json"> element. */
export function jsonForScript(x: unknown): string {
  return JSON.stringify(x)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

const fmt = (x: number, d = 1): string =>
  Number.isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : '–';
const si = (x: number, unit: string): string => {
  if (!Number.isFinite(x)) return '–';
  const units: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [f, p] of units) if (Math.abs(x) >= f) return `${(x / f).toPrecision(3)} ${p}${unit}`;
  return `${x.toPrecision(3)} ${unit}`;
};
const mib = (b: number): string => `${fmt(b / 1048576, 2)} MiB`;

function tile(value: string, key: string): string {
  return `<div class="tile"><div class="v">${esc(value)}</div><div class="k">${esc(key)}</div></div>`;
}

function chartBox(id: string, title: string, caption: string, table: string): string {
  return `<div class="chart" id="box-${id}"><h3>${esc(title)}</h3><p>${esc(caption)}</p><div class="canvas-box"><canvas id="${id}" role="img" aria-label="${esc(title)}"></canvas></div><details><summary>figures</summary>${table}</details></div>`;
}

function notMeasuredBox(id: string, title: string, nm: NotMeasured): string {
  return `<div class="notmeasured" id="box-${id}" data-status="not-measured"><h3>${esc(title)}</h3><b>not measured:</b> ${esc(nm.reason)}</div>`;
}

function table(head: string[], rows: (string | number)[][]): string {
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

/** The report's body: figures as text and tables, and a canvas for every chart. */
export function reportBody(r: BenchResults): string {
  const m = r.model;
  const parts: string[] = [];
  parts.push(`<h1>Loupe benchmark: ${esc(m.name)}</h1>`);
  parts.push(
    `<p class="sub">${esc(new Date(r.startedAt).toUTCString())} · ${esc(r.machine.cpu)} (${r.machine.cores} cores, ${fmt(r.machine.ramGiB)} GiB) · ${esc(m.computeUnit)} · ${m.contexts} context(s) × ${m.threadsPerContext} thread(s) · load average ${esc(r.machine.loadAverageAtStart.join(' / '))} at start · ${r.quick ? 'quick run' : 'full run'} in ${fmt(r.seconds)} s</p>`,
  );
  const rf = isNotMeasured(r.roofline) ? null : r.roofline;
  const cache = isNotMeasured(r.cache) ? null : r.cache;
  parts.push(
    `<div class="tiles">${[
      tile(`${fmt(r.throughput.tokensPerSec, 0)}`, 'tokens/s (document embedding)'),
      tile(`${fmt(r.throughput.chunksPerSec, 1)}`, 'chunks/s'),
      tile(`${fmt(r.latency.singleText.p50, 1)} / ${fmt(r.latency.singleText.p99, 1)} ms`, 'single query latency p50 / p99'),
      tile(cache ? `${fmt(cache.speedup, 1)}×` : '–', 'content-hash cache speed-up'),
      tile(rf ? `${rf.points.at(-1)?.bound ?? '–'}-bound` : '–', 'at the longest measured input'),
      tile(r.throughput.achievedGflops !== null ? `${fmt(r.throughput.achievedGflops, 2)} GFLOP/s` : '–', 'achieved while embedding'),
      tile(`${fmt(r.sanity.cohesion.intra, 3)} vs ${fmt(r.sanity.cohesion.inter, 3)}`, 'cosine same topic vs other topics'),
      tile(r.sanity.norms.ok ? 'all 1.000 ± 0.002' : `${r.sanity.norms.min}…${r.sanity.norms.max}`, 'vector norms'),
    ].join('')}</div>`,
  );
  parts.push(`<h2>Recommendations</h2><ul class="rec">${r.recommendations.lines.map((l) => `<li>${esc(l)}</li>`).join('')}</ul>`);

  parts.push('<h2>Embedding speed</h2><div class="grid">');
  parts.push(
    chartBox(
      'chart-batch',
      'Throughput vs batch size',
      `The same ${r.corpus.texts} texts embedded in units of each size. Each chunk is its own llama.cpp pass, so a larger unit only changes how often the ${m.contexts} context(s) wait for each other.`,
      table(
        ['batch', 'chunks/s', 'tokens/s', 's', 'RSS Δ MiB'],
        r.sweeps.batch.map((p) => [p.batchSize, fmt(p.chunksPerSec), fmt(p.tokensPerSec, 0), fmt(p.seconds, 3), fmt(p.rssDeltaMiB)]),
      ),
    ),
  );
  parts.push(
    chartBox(
      'chart-seqlen',
      'Latency and memory vs sequence length',
      "One text of each length on a fresh context of that size: latency per text, and the memory that context took (process RSS growth, which allocator reuse makes noisy, and node-llama-cpp's estimate).",
      table(
        ['tokens', 'p50 ms', 'p99 ms', 'RSS Δ MiB', 'estimate MiB', 'VRAM Δ MiB', 'GFLOP/s'],
        r.sweeps.seqLen.map((p) => [
          p.tokens,
          fmt(p.latency.p50, 2),
          fmt(p.latency.p99, 2),
          fmt(p.memoryMiB),
          p.estimatedMiB === null ? '–' : fmt(p.estimatedMiB),
          p.vramDeltaMiB === null ? '–' : fmt(p.vramDeltaMiB),
          p.achievedGflops === null ? '–' : fmt(p.achievedGflops, 2),
        ]),
      ),
    ),
  );
  if (cache) {
    parts.push(
      chartBox(
        'chart-cache',
        'Content-hash cache',
        `${cache.files} files, ${cache.chunks} chunks indexed, then indexed again after the file metadata was lost: ${cache.embeddedOnCachedRun} chunks had to be embedded again.`,
        table(
          ['run', 'seconds'],
          [
            ['first index', fmt(cache.coldSeconds, 3)],
            ['same content again', fmt(cache.cachedSeconds, 3)],
            ['speed-up', `${fmt(cache.speedup)}×`],
          ],
        ),
      ),
    );
  } else {
    parts.push(notMeasuredBox('chart-cache', 'Content-hash cache', r.cache as NotMeasured));
  }
  parts.push('</div>');

  parts.push('<h2>Compute- or memory-bound</h2><div class="grid">');
  if (rf) {
    const b = rf.breakdownAtMaxTokens;
    parts.push(
      chartBox(
        'chart-roofline',
        'Roofline',
        `${rf.verdict} Peak: ${rf.peak.label}, ${si(rf.peak.flops, 'FLOP/s')}, ${si(rf.peak.bytesPerSec, 'B/s')} (${rf.peak.source}); ridge at ${fmt(rf.ridge)} FLOP/byte.`,
        table(
          ['tokens', 'FLOPs', 'bytes', 'FLOP/byte', 'GFLOP/s', '% of peak', 'bound'],
          rf.points.map((p) => [
            p.seqLen,
            si(p.flops, ''),
            si(p.bytes, 'B'),
            fmt(p.intensity),
            fmt(p.achievedFlops / 1e9, 2),
            fmt(p.fractionOfPeakFlops * 100, 1),
            p.bound,
          ]),
        ) +
          table(
            ['FLOPs of one ' + b.seqLen + '-token pass', 'value'],
            [
              ['QKV projections', si(b.qkv, '')],
              ['attention scores', si(b.attentionScores, '')],
              ['attention × values', si(b.attentionValues, '')],
              ['output projection', si(b.outputProjection, '')],
              ['feed-forward', si(b.feedForward, '')],
              ['total', si(b.total, '')],
            ],
          ),
      ),
    );
  } else {
    parts.push(notMeasuredBox('chart-roofline', 'Roofline', r.roofline as NotMeasured));
  }
  parts.push(
    chartBox(
      'chart-dimension',
      'Index memory vs embedding dimension',
      m.matryoshkaDims
        ? `${m.name} is trained to be truncated to ${m.matryoshkaDims.join('/')} dimensions.`
        : `${m.name} is not trained for truncation: the cut sizes ("cut") show the memory saved and how much cohesion is lost, not a recommended setting.`,
      table(
        ['dims', 'trained', 'vectors', 'HNSW file', 'RSS Δ MiB', 'search p50 ms', 'cohesion gap', '1-NN same topic'],
        r.sweeps.dimension.map((p) => [
          p.dims,
          p.trained ? 'yes' : 'no',
          mib(p.vectorBytes),
          mib(p.hnswBytes),
          fmt(p.hnswRssDeltaMiB),
          fmt(p.searchP50Ms, 3),
          fmt(p.cohesionGap, 3),
          fmt(p.nearestSameCategory, 2),
        ]),
      ),
    ),
  );
  parts.push('</div>');

  parts.push('<h2>Embedding sanity</h2><div class="grid">');
  const c = r.sanity.cohesion;
  parts.push(
    chartBox(
      'chart-cohesion',
      'Semantic cohesion by topic',
      `${c.texts} code snippets in ${c.categories} topics (${r.sanity.cohesionSource}). Mean cosine same topic ${fmt(c.intra, 3)}, other topics ${fmt(c.inter, 3)}, gap ${fmt(c.gap, 3)}; nearest other snippet in the same topic for ${fmt(c.nearestSameCategory * 100, 0)} %. Norms: ${r.sanity.norms.n} vectors, ${r.sanity.norms.min} – ${r.sanity.norms.max} ${r.sanity.norms.ok ? '(ok)' : '(OUT OF TOLERANCE)'}.`,
      table(
        ['topic', 'n', 'same topic', 'other topics'],
        c.perCategory.map((p) => [p.category, p.n, fmt(p.intra, 3), fmt(p.inter, 3)]),
      ),
    ),
  );
  parts.push('</div>');

  parts.push('<h2>Answer model</h2><div class="grid">');
  if (isNotMeasured(r.answer)) {
    parts.push(notMeasuredBox('chart-parallel', 'Parallel requests', r.answer));
  } else {
    const a = r.answer;
    parts.push(
      chartBox(
        'chart-parallel',
        `Parallel requests: ${a.name}`,
        `${a.where}. Prompt ${a.promptTokens} tokens at ${fmt(a.promptTokensPerSec, 0)} tokens/s (first token after ${fmt(a.firstTokenMs, 0)} ms); generation ${fmt(a.generationTokensPerSec, 1)} tokens/s for one request.`,
        table(
          ['requests', 'seconds', 'tokens', 'tokens/s'],
          a.parallel.map((p) => [p.requests, fmt(p.seconds, 2), p.tokens, fmt(p.tokensPerSec, 1)]),
        ),
      ),
    );
  }
  parts.push('</div>');

  parts.push('<h2>Contention</h2><div class="grid">');
  if (isNotMeasured(r.contention)) {
    parts.push(notMeasuredBox('chart-contention', 'Indexing beside another workload', r.contention));
  } else {
    const k = r.contention;
    parts.push(
      chartBox(
        'chart-contention',
        'Indexing beside another workload',
        `From ${k.source} (${k.date}): each point is a back-off setting; up and right is better.`,
        table(
          ['setting', 'workload kept', 'Loupe speed'],
          k.frontier.map((p) => [p.label, fmt(p.workloadKept, 2), fmt(p.loupeSpeed, 2)]),
        ),
      ),
    );
  }
  parts.push('</div>');

  if (r.comparison && r.comparison.length > 1) {
    parts.push('<h2>Compared runs</h2>');
    parts.push(
      table(
        [
          'run',
          'model',
          'unit',
          'contexts × threads',
          'tokens/s',
          'chunks/s',
          'query p50 ms',
          'cohesion gap',
          '1-NN same topic',
          'batch',
          'load',
        ],
        r.comparison.map((c, i) => [
          i === 0 ? 'this run' : new Date(c.startedAt).toISOString().slice(0, 16).replace('T', ' '),
          c.model,
          c.computeUnit,
          c.setup,
          fmt(c.tokensPerSec, 0),
          fmt(c.chunksPerSec),
          fmt(c.queryP50Ms, 2),
          fmt(c.cohesionGap, 3),
          fmt(c.nearestSameCategory, 2),
          c.batchSize ?? '–',
          fmt(c.loadAverage),
        ]),
      ),
    );
  }
  parts.push('<h2>Setup</h2>');
  parts.push(
    table(
      ['', ''],
      [
        ['model file', m.path],
        ['architecture', m.architecture],
        ['dimensions / max tokens', `${m.dimensions} / ${m.maxTokens}`],
        [
          'shape',
          m.shape
            ? `${m.shape.layers} layers, hidden ${m.shape.hidden}, feed-forward ${m.shape.feedForward}, ${m.shape.heads} heads`
            : `unknown (${(m.shapeMissing ?? []).join(', ')})`,
        ],
        ['weights read per pass', mib(m.weightBytesPerPass)],
        ['file', mib(m.fileBytes)],
        ['load', `${fmt(m.loadSeconds, 2)} s`],
        ['corpus', `${r.corpus.source}: ${r.corpus.files} files, ${r.corpus.texts} texts, ${r.corpus.tokens} tokens`],
        [
          'machine',
          `${r.machine.platform}, Node ${r.machine.node}, node-llama-cpp ${r.machine.nodeLlamaCpp}, GPU backend ${r.machine.gpuBackend ?? 'none'}${r.machine.gpus.length ? ` (${r.machine.gpus.join(', ')})` : ''}`,
        ],
        [
          'load average (1/5/15 min)',
          `${r.machine.loadAverageAtStart.join(' / ')} at start, ${r.machine.loadAverageAtEnd.join(' / ')} at end`,
        ],
      ],
    ),
  );
  if (r.notes.length) parts.push(`<h2>Notes</h2><ul>${r.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>`);
  return parts.join('\n');
}

/** The Content-Security-Policy of the report: nothing but its own nonce'd scripts and styles. */
export function reportCsp(nonce: string, extraSources = ''): string {
  const src = extraSources ? ` ${extraSources}` : '';
  return `default-src 'none'; script-src 'nonce-${nonce}'${src}; style-src 'nonce-${nonce}'${src}; img-src data:${src}; font-src${src || " 'none'"}`;
}

/**
 * The whole page. `nonce` must be fresh per page (base64/hex, no quotes); `cspSource` is a
 * VS Code webview's `webview.cspSource` when shown there (nothing else is loaded either way).
 */
export function renderReport(r: BenchResults, a: ReportAssets, nonce: string, cspSource = ''): string {
  if (!/^[A-Za-z0-9+/=_-]{8,}$/.test(nonce)) throw new Error('renderReport: the nonce must be 8+ base64/hex characters');
  const values: Record<string, string> = {
    CSP: esc(reportCsp(nonce, cspSource)),
    NONCE: nonce,
    TITLE: esc(`Loupe benchmark: ${r.model.name}`),
    CSS: a.css.replace(/<\/(style)/gi, '<\\/$1'),
    BODY: reportBody(r),
    DATA: jsonForScript(r),
    CHARTJS: scriptSafe(a.chartJs),
    REPORTJS: scriptSafe(a.reportJs),
  };
  // A function replacer: the inlined code contains `$&`-like sequences a string replacement would expand.
  return a.template.replace(/\{\{([A-Z]+)\}\}/g, (whole, key: string) => values[key] ?? whole);
}
