/**
 * `loupe bench`: a --quick run on the tiny BERT (with the tiny LLaMA as the answer model) within a
 * minute; norms 1.000 ± 0.002; FLOPs in the results equal the model; the HTML report renders in
 * headless Chromium (Debian's, through playwright-core; no browser download) with every expected
 * chart drawn, no network request and no script error; a screenshot is kept for a person to look at.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { encoderFlops } from '../src/core/bench/flops.js';
import { expectedCharts, renderReport } from '../src/core/bench/report.js';
import { compareLines, parseBenchResults, recommendBatchSize, runSummary, type BenchResults } from '../src/core/bench/results.js';
import { loadReportAssets } from '../src/adapters/bench/assets.js';
import { runBench, type BenchProgress } from '../src/adapters/bench/run-bench.js';
import { progressBar } from '../src/cli/bench.js';
import { writeTinyLlama } from '../src/tools/tiny-llama.js';
import { REPO, tempDir, tinyBertPath } from './support/helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const BIN = path.join(REPO, 'bin/loupe.js');

/** Where screenshots are kept (outside the repo's tracked files). */
const SHOTS = path.join(os.tmpdir(), 'loupe-bench-report-shots');

interface PageCheck {
  charts: { id: string; width: number; height: number; painted: number }[];
  errors: string[];
  requests: string[];
  notMeasured: string[];
}

/** Opens a report file in headless Chromium and measures every canvas. */
async function checkInChromium(file: string, shot: string): Promise<PageCheck> {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('request', (r) => {
      if (!r.url().startsWith('file:')) requests.push(r.url());
    });
    await page.goto(`file://${file}`);
    // Page code as strings: this project compiles without the DOM library.
    await page.waitForFunction("document.body.hasAttribute('data-charts')", undefined, { timeout: 20_000 });
    const charts = await page.evaluate<PageCheck['charts']>(`Array.from(document.querySelectorAll('canvas')).map((c) => {
      const img = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let painted = 0;
      for (let i = 3; i < img.length; i += 4) if (img[i] !== 0) painted++;
      return { id: c.id, width: c.width, height: c.height, painted };
    })`);
    const notMeasured = await page.evaluate<string[]>(
      `Array.from(document.querySelectorAll('[data-status="not-measured"]')).map((e) => e.id)`,
    );
    mkdirSync(path.dirname(shot), { recursive: true });
    await page.screenshot({ path: shot, fullPage: true });
    return { charts, errors, requests, notMeasured };
  } finally {
    await browser.close();
  }
}

const noChromium =
  !existsSync(CHROMIUM) && `Chromium not installed at ${CHROMIUM} (apt-get install -y chromium); the page test needs a real browser`;

describe('loupe bench --quick (tiny BERT, tiny LLaMA)', () => {
  let tmp: { dir: string; cleanup: () => void };
  let results: BenchResults;
  let seconds = 0;
  const progress: BenchProgress[] = [];
  let reportPath = '';
  let jsonPath = '';

  before(async () => {
    tmp = tempDir('loupe-bench-test-');
    const llm = path.join(REPO, 'models/generated/tiny-llama.gguf');
    const chat = existsSync(llm) ? llm : path.join(tmp.dir, 'tiny-llama.gguf');
    if (!existsSync(chat)) writeTinyLlama(chat);
    const contention = path.join(tmp.dir, 'contention.json');
    writeFileSync(
      contention,
      JSON.stringify({
        benchmark: 'contention',
        date: '2026-11-22T00:00:00Z',
        frontier: [
          { setting: 'back-off off', workloadKept: 0.5, loupeSpeed: 0.9 },
          { setting: 'default', workloadKept: 0.85, loupeSpeed: 0.3 },
        ],
      }),
    );
    const t0 = performance.now();
    const out = await runBench(
      {
        quick: true,
        modelPath: tinyBertPath(),
        gpu: false,
        contexts: 2,
        threadsPerContext: 1,
        answerModel: { provider: 'llama', model: chat, threads: 1, gpu: false },
        contentionFile: contention,
        jsonPath: path.join(tmp.dir, 'out', 'bench.json'),
        reportPath: path.join(tmp.dir, 'out', 'report.html'),
      },
      (p) => progress.push(p),
    );
    seconds = (performance.now() - t0) / 1000;
    results = out.results;
    reportPath = out.reportPath!;
    jsonPath = out.jsonPath!;
  });
  after(() => tmp.cleanup());

  test('runs within a minute and reports progress from 0 to 1', () => {
    assert.ok(seconds < 60, `quick run took ${seconds.toFixed(1)} s (load average ${os.loadavg()[0].toFixed(1)})`);
    assert.equal(progress[0].fraction, 0);
    assert.equal(progress.at(-1)!.fraction, 1);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i].fraction >= progress[i - 1].fraction, 'progress never goes back');
    assert.match(progressBar({ step: 'batch', fraction: 0.5, detail: 'batch 16' }, 10), /^\[#####-----\] {2}50% batch: batch 16$/);
  });

  test('norms are 1.000 ± 0.002; same-topic code is closer than cross-topic code', () => {
    const n = results.sanity.norms;
    assert.ok(n.n >= 40);
    assert.ok(n.ok, JSON.stringify(n));
    assert.ok(Math.abs(n.min - 1) <= 0.002 && Math.abs(n.max - 1) <= 0.002, JSON.stringify(n));
    const c = results.sanity.cohesion;
    assert.equal(c.texts, 40);
    assert.equal(c.categories, 8);
    assert.ok(c.intra > c.inter, JSON.stringify(c));
  });

  test('sweeps, FLOPs and roofline figures are consistent with the model', () => {
    const shape = results.model.shape!;
    assert.deepEqual(
      { layers: shape.layers, hidden: shape.hidden, feedForward: shape.feedForward, heads: shape.heads },
      { layers: 1, hidden: 256, feedForward: 256, heads: 4 },
    );
    assert.deepEqual(
      results.sweeps.batch.map((p) => p.batchSize),
      [8, 16, 32, 64],
    );
    assert.equal(results.recommendations.batchSize, recommendBatchSize(results.sweeps.batch));
    const lens = results.sweeps.seqLen.map((p) => p.tokens);
    assert.equal(lens[lens.length - 1], results.model.maxTokens);
    assert.ok(lens.includes(128));
    for (const p of results.sweeps.seqLen) {
      assert.equal(p.flops, encoderFlops(shape, p.tokens).total);
      assert.ok(p.latency.p50 > 0 && p.latency.p99 >= p.latency.p50);
    }
    assert.ok(!('status' in results.roofline));
    if (!('status' in results.roofline)) {
      assert.equal(results.roofline.points.length, lens.length);
      assert.ok(['compute', 'memory'].includes(results.roofline.points[0].bound));
      assert.match(results.roofline.verdict, /bound/);
    }
    assert.equal(results.sweeps.dimension[0].dims, 256);
    assert.ok(results.sweeps.dimension.every((d, i) => i === 0 || d.vectorBytes < results.sweeps.dimension[i - 1].vectorBytes));
    assert.ok(results.throughput.tokensPerSec > 0 && results.latency.singleText.n === 30);
    assert.ok(
      'speedup' in results.cache && results.cache.embeddedOnCachedRun === 0 && results.cache.speedup > 1,
      JSON.stringify(results.cache),
    );
  });

  test('the answer model is measured: prompt, generation, 1/2/4 parallel requests', () => {
    assert.equal(results.answer.status, 'measured');
    if (results.answer.status !== 'measured') return;
    assert.equal(results.answer.name, 'loupe-tiny-llama');
    assert.ok(results.answer.promptTokensPerSec > 0 && results.answer.generatedTokens > 0);
    assert.deepEqual(
      results.answer.parallel.map((p) => p.requests),
      [1, 2, 4],
    );
    assert.ok(results.answer.parallel.every((p) => p.tokens >= p.requests));
  });

  test('JSON on disk equals the results', () => {
    assert.deepEqual(JSON.parse(readFileSync(jsonPath, 'utf8')), JSON.parse(JSON.stringify(results)));
  });

  test('the report is one offline page: strict CSP, nothing loaded from elsewhere', () => {
    const html = readFileSync(reportPath, 'utf8');
    assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; script-src &#39;nonce-/);
    assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href=|<img[^>]+src="http/);
    assert.ok(html.includes('Chart.js v4'), 'Chart.js is inlined');
    for (const id of expectedCharts(results)) assert.ok(html.includes(`<canvas id="${id}"`), id);
  });

  test('renders in headless Chromium with every expected chart drawn', { skip: noChromium }, async () => {
    const shot = path.join(SHOTS, 'bench-report-quick.png');
    const page = await checkInChromium(reportPath, shot);
    assert.deepEqual(page.errors, []);
    assert.deepEqual(page.requests, []);
    const expected = expectedCharts(results);
    assert.deepEqual(expected, [
      'chart-batch',
      'chart-seqlen',
      'chart-roofline',
      'chart-dimension',
      'chart-cohesion',
      'chart-cache',
      'chart-parallel',
      'chart-contention',
    ]);
    assert.deepEqual(page.charts.map((c) => c.id).sort(), [...expected].sort());
    for (const c of page.charts) {
      assert.ok(c.width > 200 && c.height > 100, `${c.id} is ${c.width}×${c.height}`);
      // Axes, bars and lines: a drawn chart paints thousands of pixels; an empty canvas none.
      assert.ok(c.painted > 2000, `${c.id} painted ${c.painted} pixels`);
    }
    assert.deepEqual(page.notMeasured, []);
    assert.ok(existsSync(shot));
  });

  test(
    "the charts take the VS Code theme's colours, and are redrawn in the new ones when the theme changes",
    { skip: noChromium },
    async () => {
      const { chromium } = await import('playwright-core');
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
      try {
        const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(String(e)));
        // As a VS Code webview starts: the theme's variables on <html>, its kind as the body's class.
        await page.addInitScript(`document.addEventListener('DOMContentLoaded', () => {
        document.documentElement.style.setProperty('--vscode-charts-green', '#00aa00');
        document.documentElement.style.setProperty('--vscode-editor-foreground', '#111111');
        document.body.classList.add('vscode-light');
      }, { capture: true });`);
        await page.goto(`file://${reportPath}`);
        await page.waitForFunction("document.body.hasAttribute('data-charts')", undefined, { timeout: 20_000 });
        // Page code as strings: this project compiles without the DOM library.
        const colours = () =>
          page.evaluate<{ bar: string; text: string; id: number }>(`(() => {
        const c = window.__loupeCharts['chart-cohesion'];
        return { bar: c.data.datasets[0].backgroundColor, text: c.options.color, id: c.id };
      })()`);
        /** Polls `test` (page.waitForFunction would evaluate strings in the page, which its CSP forbids). */
        const until = async (test: () => Promise<boolean>, what: string) => {
          const deadline = Date.now() + 5_000;
          while (!(await test())) {
            assert.ok(Date.now() < deadline, `${what} within 5 s`);
            await new Promise((r) => setTimeout(r, 50));
          }
        };
        // The variables may land after the first drawing (a webview sets them as it loads): that redraws too.
        await until(async () => (await colours()).bar === '#00aa00', "the theme's chart colour");
        const light = await colours();
        assert.equal(light.bar, '#00aa00', "the theme's chart colour");
        assert.equal(light.text, '#111111', "the theme's text colour");
        // The user switches to a dark theme: VS Code rewrites the variables and the body's class.
        await page.evaluate(`(() => {
        document.documentElement.style.setProperty('--vscode-charts-green', '#55ff55');
        document.documentElement.style.setProperty('--vscode-editor-foreground', '#eeeeee');
        document.body.classList.replace('vscode-light', 'vscode-dark');
      })()`);
        await until(async () => (await colours()).id !== light.id, 'a redraw');
        const dark = await colours();
        assert.equal(dark.bar, '#55ff55');
        assert.equal(dark.text, '#eeeeee');
        assert.deepEqual(
          (await page.getAttribute('body', 'data-charts'))!.split(' ').sort(),
          expectedCharts(results).sort(),
          'every chart drawn again',
        );
        assert.deepEqual(errors, []);
      } finally {
        await browser.close();
      }
    },
  );

  test('unmeasured sections say why; hostile text is escaped', { skip: noChromium }, async () => {
    const r: BenchResults = {
      ...results,
      model: { ...results.model, name: '</script><script>document.title="pwned"</script>' },
      answer: { status: 'not-measured', reason: 'no answer model <b>here</b>' },
      contention: { status: 'not-measured', reason: 'no contention result' },
    };
    const html = renderReport(r, loadReportAssets(), 'dGVzdG5vbmNlMTIz');
    assert.ok(!html.includes('<script>document.title'));
    assert.ok(html.includes('no answer model &lt;b&gt;here&lt;/b&gt;'));
    const file = path.join(tmp.dir, 'hostile.html');
    writeFileSync(file, html);
    const page = await checkInChromium(file, path.join(SHOTS, 'bench-report-not-measured.png'));
    assert.deepEqual(page.errors, []);
    assert.deepEqual(page.notMeasured.sort(), ['box-chart-contention', 'box-chart-parallel']);
    assert.deepEqual(page.charts.map((c) => c.id).sort(), expectedCharts(r).sort());
    assert.ok(page.charts.every((c) => c.painted > 2000));
  });
});

describe('comparing runs', () => {
  test('an earlier committed run parses; the report gets a comparison table and a pick per goal', () => {
    const committed = path.join(REPO, 'test/bench/results/bench-report-2026-11-22.json');
    const earlier = parseBenchResults(JSON.parse(readFileSync(committed, 'utf8')), committed);
    assert.equal(earlier.model.name, 'all-MiniLM-L6-v2');
    assert.throws(() => parseBenchResults({ schema: 'other' }, 'x.json'), /x\.json is not a loupe bench result/);
    const fast = {
      ...runSummary(earlier),
      model: 'fast-model',
      chunksPerSec: earlier.throughput.chunksPerSec * 10,
      cohesionGap: 0.5,
      nearestSameCategory: 0.25,
    };
    const rows = [runSummary(earlier), fast];
    // The 1-NN accuracy decides (the larger cosine gap of fast-model does not).
    assert.match(
      compareLines(rows)[0],
      /^Fastest of the compared runs: fast-model .* best topic separation: all-MiniLM-L6-v2 \(nearest snippet in the same topic for 85 % vs 25 %\)/,
    );
    assert.deepEqual(compareLines([rows[0]]), []);
    const html = renderReport({ ...earlier, comparison: rows }, loadReportAssets(), 'bm9uY2Vub25jZQ');
    assert.ok(/<h2>Compared runs<\/h2>\s*<table>.*this run.*fast-model/s.test(html), 'comparison table in the report');
  });
});

describe('loupe bench CLI', () => {
  test('--help and bad options', () => {
    const help = spawnSync(process.execPath, [BIN, 'bench', '--help'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(help.status, 0);
    assert.match(help.stdout, /loupe bench \[--quick\] \[--json <out.json>\] \[--report <report.html>\]/);
    const bad = spawnSync(process.execPath, [BIN, 'bench', '--frobnicate'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /^loupe bench: unknown option --frobnicate/);
    const badN = spawnSync(process.execPath, [BIN, 'bench', '--contexts', '0'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(badN.status, 2, 'a bad number is a usage error');
    assert.match(badN.stderr, /--contexts must be a positive integer/);
    const missing = spawnSync(process.execPath, [BIN, 'bench', '--model', '/nonexistent/model.gguf'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /Model file not found: \/nonexistent\/model\.gguf/);
  });
});
