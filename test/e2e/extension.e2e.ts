// End to end in a real VS Code host: code-server with the packaged VSIX installed, driven by
// Chromium. One workbench session walks through every surface: status bar from indexing to
// ready, command-palette search opening the right file and line, pause/resume, an edit becoming
// searchable, the search's filter buttons, and the Q&A panel with retrieved passages and a streamed answer (the generated tiny
// chat model). Restricted Mode is not covered: this code-server build offers no workspace trust
// (no "Manage Workspace Trust" command even without --disable-workspace-trust). Screenshots go to out/e2e/screenshots; figures (activation,
// extension-host event-loop delay during the full index) to out/e2e/metrics.json, and with
// LOUPE_RECORD=1 to test/bench/results/extension-e2e-<date>.json.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Browser, FrameLocator, Locator, Page } from 'playwright-core';
import { runBenchForked } from '../../src/adapters/bench/bench-client.js';
import { REPO, tempDir, tinyBertPath, writeTree } from '../support/helpers.js';
import {
  closeWorkbench,
  cursorLine,
  fillPalette,
  hostVsix,
  missingSetup,
  openWorkbench,
  runCommand,
  startCodeServer,
  statusText,
  waitForStatus,
  type CodeServer,
} from './harness.js';

const pkg = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { name: string; version: string; publisher: string };
const VSIX = hostVsix(REPO);
const OUT = path.join(REPO, 'out', 'e2e');
const SHOTS = path.join(OUT, 'screenshots');
const TINY_LLAMA = path.join(REPO, 'models', 'generated', 'tiny-llama.gguf');

/** The fixture's two known functions; each is long enough to be its own chunk. */
const RETRY_TS = `import { setTimeout as sleep } from 'node:timers/promises';

/** Formats a byte count for people: 1536 becomes "1.5 KiB". */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = value >= 10 || unit === 0 ? 0 : 1;
  return \`\${value.toFixed(digits)} \${units[unit]}\`;
}

/** Retries a failed HTTP request with exponential backoff between attempts. */
export async function fetchWithRetry(url: string, attempts = 5): Promise<Response> {
  let delay = 200;
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      const response = await fetch(url);
      if (response.status < 500) return response;
      lastError = new Error(\`server error \${response.status}\`);
    } catch (error) {
      lastError = error;
    }
    await sleep(delay);
    delay *= 2;
  }
  throw lastError;
}
`;
const RETRY_LINE = RETRY_TS.split('\n').findIndex((l) => l.includes('Retries a failed HTTP request')) + 1;

const FIXTURE: Record<string, string> = {
  'src/net/retry.ts': RETRY_TS,
  'src/auth/password.py': `import hashlib\nimport hmac\nimport os\n\n\ndef hash_password(password: str) -> str:\n    """Hash a user's password with a random salt using PBKDF2."""\n    salt = os.urandom(16)\n    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 200_000)\n    return salt.hex() + ":" + digest.hex()\n\n\ndef verify_password(password: str, stored: str) -> bool:\n    """Check a password against a stored salted hash in constant time."""\n    salt_hex, digest_hex = stored.split(":")\n    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt_hex), 200_000)\n    return hmac.compare_digest(digest.hex(), digest_hex)\n`,
  'src/geometry/area.go': `package geometry\n\n// Point is a vertex of a polygon.\ntype Point struct{ X, Y float64 }\n\n// PolygonArea computes the area of a simple polygon with the shoelace formula.\nfunc PolygonArea(points []Point) float64 {\n\tsum := 0.0\n\tfor i := range points {\n\t\tj := (i + 1) % len(points)\n\t\tsum += points[i].X*points[j].Y - points[j].X*points[i].Y\n\t}\n\tif sum < 0 {\n\t\tsum = -sum\n\t}\n\treturn sum / 2\n}\n`,
  'README.md': '# Fixture\n\nA small project for the Loupe end-to-end tests.\n',
};

/**
 * Real code to make the first index a measurable one: the files directly in this repository's
 * src/core (CI, ~300 chunks), or its whole src/ tree with LOUPE_E2E_FULL=1 (the recorded figures).
 */
function addRealCode(dir: string): number {
  let n = 0;
  const full = !!process.env.LOUPE_E2E_FULL;
  const copyTs = (from: string, to: string) => {
    for (const e of readdirSync(from, { withFileTypes: true })) {
      const f = path.join(from, e.name);
      if (e.isDirectory()) {
        if (full) copyTs(f, path.join(to, e.name));
      } else if (e.name.endsWith('.ts')) {
        mkdirSync(to, { recursive: true });
        cpSync(f, path.join(to, e.name));
        n++;
      }
    }
  };
  copyTs(path.join(REPO, full ? 'src' : 'src/core'), path.join(dir, full ? 'vendor-loupe' : 'vendor-loupe/core'));
  return n;
}

async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

/**
 * A screenshot for the Marketplace page (docs/marketplace.md), to out/e2e/screenshots/marketplace/:
 * the window from its top down to `focus` (a quick pick), `margin` px around it, so the text stays
 * readable in the page's narrow column. The chosen ones are copied to media/screenshots/.
 */
async function marketplaceShot(
  page: Page,
  name: string,
  focus: Locator,
  opts: { margin?: number; from?: 'element' | 'window' } = {},
): Promise<void> {
  const margin = opts.margin ?? 24;
  const box = await focus.boundingBox();
  assert.ok(box, `${name}: the element to frame is visible`);
  // From the window's left edge (a side bar with the editor beside it), or around the element.
  const x = opts.from === 'window' ? 0 : Math.max(0, box.x - margin);
  const width = opts.from === 'window' ? box.x + box.width + margin : box.width + 2 * margin;
  mkdirSync(path.join(SHOTS, 'marketplace'), { recursive: true });
  await page.screenshot({
    path: path.join(SHOTS, 'marketplace', `${name}.png`),
    clip: { x, y: 0, width, height: Math.min(box.y + box.height + margin, page.viewportSize()?.height ?? 900) },
  });
}

/** Opens the search quick pick, types `query`, waits for a result row matching `expect`. */
async function search(page: Page, query: string, expect: RegExp): Promise<{ rows: string[] }> {
  await runCommand(page, 'Loupe: Search by meaning');
  const input = page.locator('.quick-input-widget input');
  await page.locator('.quick-input-widget', { hasText: 'Loupe: Search by Meaning' }).waitFor({ timeout: 10_000 });
  await input.fill(query);
  const row = page.locator('.quick-input-widget .monaco-list-row').first();
  const deadline = Date.now() + 30_000;
  let rows: string[] = [];
  for (let tries = 1; ; tries++) {
    rows = await page.locator('.quick-input-widget .monaco-list-row').allTextContents();
    if (rows.length && expect.test(rows[0]!)) break;
    if (Date.now() > deadline) throw new Error(`no result matching ${expect} for "${query}"; rows: ${JSON.stringify(rows.slice(0, 5))}`);
    await page.waitForTimeout(200);
    // The quick pick searches when the text changes; a search typed before an update reached the
    // index shows the old results, so type it again now and then, as a user would.
    if (tries % 10 === 0) {
      await input.fill(query + ' ');
      await input.fill(query);
    }
  }
  await row.waitFor();
  return { rows };
}

interface LoopWindow {
  time: string;
  indexing: boolean;
  p50: number;
  p99: number;
  max: number;
  samples: number;
}

/**
 * Median of the windows' p50 and p99, and the worst max, for windows with and without indexing.
 * The window in which an extension host started is reported apart: it holds VS Code's own start
 * (built-in extensions activating), not Loupe's work.
 */
function summarise(all: LoopWindow[], activations: string[]): Record<string, unknown> {
  const startup = (w: LoopWindow) =>
    activations.some((a) => {
      const dt = Date.parse(w.time) - Date.parse(a);
      return dt >= 0 && dt <= 5500;
    });
  const windows = all.filter((w) => !startup(w));
  const med = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length ? +s[Math.floor(s.length / 2)]!.toFixed(1) : null;
  };
  const of = (w: LoopWindow[]) => ({
    windows: w.length,
    medianP50: med(w.map((x) => x.p50)),
    medianP99: med(w.map((x) => x.p99)),
    worstP99: w.length ? +Math.max(...w.map((x) => x.p99)).toFixed(1) : null,
    worstMax: w.length ? +Math.max(...w.map((x) => x.max)).toFixed(1) : null,
  });
  return {
    windowMs: 5000,
    indexing: of(windows.filter((w) => w.indexing)),
    notIndexing: of(windows.filter((w) => !w.indexing)),
    hostStartup: of(all.filter(startup)),
  };
}

function readMetrics(file: string): Record<string, unknown>[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const skip = missingSetup(VSIX);

describe('the packaged VSIX', { skip: existsSync(VSIX) ? undefined : `no VSIX at ${VSIX} (npm run package)` }, () => {
  test("carries the bundles, grammars, the bundled model and only this platform's native binaries", () => {
    const names = execFileSync('unzip', ['-Z1', VSIX], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
      .split('\n')
      .filter(Boolean);
    for (const f of [
      'extension/package.json',
      'extension/dist/extension.cjs',
      'extension/dist/engine-server.mjs',
      'extension/dist/tree-sitter.wasm',
      'extension/dist/webview/qa.js',
      'extension/media/qa.css',
      'extension/media/walkthrough/ask.md',
      'extension/models/all-MiniLM-L6-v2.Q8_0.gguf',
      'extension/node_modules/hnswlib-node/build/Release/addon.node',
      'extension/node_modules/node-llama-cpp/package.json',
      'extension/dist/bench-worker.mjs',
      'extension/dist/report/chart.umd.min.js',
      'extension/media/report/report.js',
    ]) {
      assert.ok(names.includes(f), `${f} is in the VSIX`);
    }
    assert.ok(
      names.some((n) => /extension\/dist\/grammars\/tree-sitter-typescript\.wasm$/.test(n)),
      'grammar wasm',
    );
    assert.ok(names.filter((n) => n.startsWith('extension/dist/cohesion/')).length >= 8, 'the labelled cohesion set (for the benchmark)');
    const llamaPackages = new Set(names.map((n) => /node_modules\/@node-llama-cpp\/([^/]+)\//.exec(n)?.[1]).filter(Boolean));
    const platform = process.platform === 'darwin' ? 'mac' : process.platform === 'win32' ? 'win' : process.platform;
    for (const p of llamaPackages) assert.ok(p!.startsWith(`${platform}-${process.arch}`), `only this platform's llama.cpp binaries: ${p}`);
    assert.ok(llamaPackages.size > 0);
    assert.ok(
      !names.some((n) => /hnswlib-node\/(src|build\/Release\/obj)/.test(n) || n.endsWith('gitRelease.bundle') || n.endsWith('.map')),
      'no sources, build objects or maps',
    );
    assert.ok(!names.some((n) => n.startsWith('extension/src/') || n.startsWith('extension/test/')), 'no sources or tests');
  });

  test('its README is the user guide for the Marketplace, and the screenshots it shows ship with it', () => {
    // vsce stores the README as extension/readme.md (the manifest's Details asset).
    const readme = execFileSync('unzip', ['-p', VSIX, 'extension/readme.md'], { encoding: 'utf8' });
    // With LOUPE_README_BASE_URL vsce makes the links absolute; the text is otherwise docs/marketplace.md's.
    const base = process.env.LOUPE_README_BASE_URL;
    const shipped = base ? readme.replaceAll(base.replace(/\/?$/, '/'), '') : readme;
    assert.equal(
      shipped,
      readFileSync(path.join(REPO, 'docs', 'marketplace.md'), 'utf8'),
      'docs/marketplace.md, not the engineering README',
    );
    const images = [...shipped.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((m) => m[1]!);
    assert.ok(images.length >= 3, `screenshots referenced: ${images.join(', ')}`);
    const names = new Set(execFileSync('unzip', ['-Z1', VSIX], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }).split('\n'));
    for (const img of images) {
      assert.match(img, /^media\/screenshots\/[\w-]+\.png$/, 'a PNG under media/screenshots/');
      assert.ok(names.has(`extension/${img}`), `${img} is in the VSIX`);
    }
  });

  test('its bench worker runs from the installed files alone (what Loupe: Run Benchmark forks)', async () => {
    const { dir, cleanup } = tempDir('loupe-vsix-');
    try {
      execFileSync('unzip', ['-q', VSIX, 'extension/*', '-d', dir]);
      const ext = path.join(dir, 'extension');
      // The worker resolves node-llama-cpp, Chart.js, the cohesion set and the report template from the extracted extension only.
      const r = await runBenchForked(
        { quick: true, modelPath: tinyBertPath(), gpu: false, contexts: 1, threadsPerContext: 1, jsonPath: path.join(dir, 'run.json') },
        undefined,
        { workerScript: path.join(ext, 'dist', 'bench-worker.mjs'), env: { ELECTRON_RUN_AS_NODE: '1' } },
      );
      assert.equal(r.results.model.name, 'loupe-tiny-bert');
      assert.ok(r.results.sanity.cohesion, 'cohesion measured on the shipped set');
      assert.ok(existsSync(path.join(dir, 'run.json')));
      assert.ok((r.html.match(/<canvas /g) ?? []).length >= 4, 'chart canvases in the report');
      assert.match(r.html, /Chart\.js v\d/, 'Chart.js inlined from dist/report');
    } finally {
      cleanup();
    }
  });
});

describe('Loupe in a real VS Code (code-server)', { skip }, () => {
  let server: CodeServer;
  let browser: Browser;
  let page: Page;
  let workspace: string;
  const cleanups: (() => void)[] = [];
  const metricsFile = path.join(os.tmpdir(), `loupe-e2e-metrics-${process.pid}.jsonl`);
  const statusSeen: string[] = [];
  let realFiles = 0;
  const t0 = Date.now();

  before(async () => {
    const { dir, cleanup } = tempDir('loupe-e2e-ws-');
    cleanups.push(cleanup);
    workspace = dir;
    writeTree(workspace, FIXTURE);
    realFiles = addRealCode(workspace);
    // The generated tiny chat model answers every question with one scripted sentence.
    // Back-off off: this shared CI box is always loaded, and the suite checks indexing, not pacing
    // (the scheduler has its own tests and benchmark).
    writeTree(workspace, {
      '.vscode/settings.json': JSON.stringify(
        { 'loupe.answer.provider': 'llama', 'loupe.answer.model': TINY_LLAMA, 'loupe.compute.backoff': false },
        null,
        2,
      ),
    });
    writeFileSync(metricsFile, '');
    server = await startCodeServer({ vsix: VSIX, workspace, env: { LOUPE_METRICS_FILE: metricsFile } });
    ({ browser, page } = await openWorkbench(server, workspace));
  });

  after(() => closeWorkbench(browser, server, cleanups));

  test('the status bar goes from indexing to ready on a fresh folder', async () => {
    await waitForStatus(page, (t) => /Loupe: [\d,]+ chunks/.test(t), process.env.LOUPE_E2E_FULL ? 900_000 : 420_000, statusSeen);
    await shot(page, '1-status-ready');
    assert.ok(
      statusSeen.some((t) => /indexing|scanning|starting/.test(t)),
      `expected an indexing state before ready; seen ${JSON.stringify(statusSeen)}`,
    );
    assert.match(await statusText(page), /CPU|GPU|ANE/, 'the compute unit is shown');
  });

  test('command-palette search finds the function and opens it at its line', async () => {
    const { rows } = await search(page, 'retry a failed HTTP request with exponential backoff', /retry\.ts:\d+/);
    await shot(page, '2-search-quick-pick');
    await marketplaceShot(page, 'search', page.locator('.quick-input-widget'));
    const m = /src\/net\/retry\.ts:(\d+)/.exec(rows[0]!);
    assert.ok(m, `first row names retry.ts: ${rows[0]}`);
    const line = Number(m[1]);
    assert.ok(line >= RETRY_LINE - 1 && line <= RETRY_LINE + 1, `result starts at line ${line}, function at ${RETRY_LINE}`);
    assert.match(rows[0]!, /fetchWithRetry/);
    // The row: a function icon, the score, and the signature line rather than the doc comment.
    const first = page.locator('.quick-input-widget .monaco-list-row').first();
    assert.equal(await first.locator('.codicon-symbol-function').count(), 1, 'a function icon on the first row');
    assert.match(rows[0]!, /retry\.ts:\d+ · \d\.\d\d/, 'the score is shown');
    assert.match(rows[0]!, /export async function fetchWithRetry\(url: string/, 'the signature is the snippet');
    assert.doesNotMatch(rows[0]!, /Retries a failed/, 'not the doc comment');
    assert.ok(
      rows.some((r) => /Less relevant below/.test(r)),
      `the relevance cut-off is shown: ${JSON.stringify(rows.slice(0, 4))}`,
    );
    await page.locator('.quick-input-widget input').press('Enter');
    // Moving through the rows already previews them, so a retry.ts tab is active before Enter does
    // anything: wait for the editor Enter opens (pinned: its tab label is no longer italic), then
    // for the cursor to get there, instead of reading the line a fixed 300 ms later.
    await page.locator('.tab.active:not(:has(.monaco-icon-label.italic))', { hasText: 'retry.ts' }).waitFor({ timeout: 10_000 });
    let at = -1;
    for (const end = Date.now() + 10_000; (at = await cursorLine(page)) !== line && Date.now() < end; ) await page.waitForTimeout(100);
    assert.equal(at, line, 'the editor opened at the result line');
    await shot(page, '3-search-opened');
  });

  test('Find Similar Code on a selection lists other code, not the selection itself, and the Results view keeps it', async () => {
    // retry.ts is open at fetchWithRetry: select its body's first lines.
    await page.keyboard.press('Escape');
    const editor = page.locator('.monaco-editor .view-lines').first();
    await editor.click();
    await page.keyboard.press('Control+Home');
    for (let i = 1; i < RETRY_LINE + 1; i++) await page.keyboard.press('ArrowDown');
    for (let i = 0; i < 6; i++) await page.keyboard.press('Shift+ArrowDown');
    // Its keybinding: the palette's Escape would clear the selection first.
    await page.keyboard.press('Control+Shift+Alt+S');
    await page.locator('.quick-input-widget', { hasText: 'Code Similar to' }).waitFor({ timeout: 30_000 });
    await page.waitForTimeout(500);
    const rows = await page.locator('.quick-input-widget .monaco-list-row').allTextContents();
    await shot(page, '3b-find-similar');
    assert.ok(rows.length > 0, 'something similar is listed');
    assert.ok(
      !rows.some((r) => /retry\.ts:(\d+)/.test(r) && Math.abs(Number(/retry\.ts:(\d+)/.exec(r)![1]) - RETRY_LINE) <= 1),
      `the selection itself is not listed: ${JSON.stringify(rows)}`,
    );
    await page.keyboard.press('Escape');
  });

  test('with nothing indexing, Pause, Resume and Cancel are not offered in the palette', async () => {
    await waitForStatus(page, (t) => /chunks/.test(t), 15_000);
    await fillPalette(page, '>Loupe: ');
    await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'Search by Meaning' }).first().waitFor({ timeout: 10_000 });
    await shot(page, '4-palette-idle');
    const rows = await page.locator('.quick-input-widget .monaco-list-row').allTextContents();
    for (const hidden of ['Pause Indexing', 'Resume Indexing', 'Cancel Indexing'])
      assert.ok(!rows.some((r) => r.includes(hidden)), `${hidden} offered while idle: ${JSON.stringify(rows)}`);
    await page.keyboard.press('Escape');
  });

  test('an edit saved in the editor becomes searchable', async () => {
    // retry.ts is the active editor: append a new function and save. The cursor must be at the end
    // of the file, with no selection left by Find Similar, before typing: a palette just closed can
    // take the first click's focus back (a fresh CI run typed the function over that selection).
    const editor = page.locator('.monaco-editor .view-lines').first();
    const lastLine = RETRY_TS.split('\n').length;
    const selection = page.locator('.statusbar-item[id="status.editor.selection"]');
    let where = '';
    for (const end = Date.now() + 15_000; ; ) {
      await editor.click();
      await page.keyboard.press('Control+End');
      for (const settle = Date.now() + 1_000; Date.now() < settle; await page.waitForTimeout(100)) {
        where = (await selection.textContent({ timeout: 5_000 })) ?? '';
        if ((await cursorLine(page)) === lastLine && !/selected/.test(where)) break;
      }
      if ((await cursorLine(page)) === lastLine && !/selected/.test(where)) break;
      assert.ok(Date.now() < end, `the cursor never reached the end of retry.ts (line ${lastLine}): "${where}"`);
    }
    await page.keyboard.press('Enter');
    await page.keyboard.type(
      '/** Converts a temperature from degrees Celsius to degrees Fahrenheit. */\nexport function celsiusToFahrenheit(celsius: number): number {\nreturn celsius * 9 / 5 + 32;\n}\n',
    );
    await page.keyboard.press('Control+s');
    await page.locator('.tab.active.dirty').waitFor({ state: 'detached', timeout: 10_000 });
    const { rows } = await search(page, 'convert a temperature from celsius to fahrenheit', /celsiusToFahrenheit|Celsius/);
    await shot(page, '5-search-after-edit');
    assert.match(rows[0]!, /retry\.ts:(3\d|4\d)/, `the new function is found in retry.ts: ${rows[0]}`);
    await page.keyboard.press('Escape');
  });

  test('the filter buttons limit the search: content kind, language, path, and clear', async () => {
    // The search closed by the last test puts its editor back; a palette opened meanwhile loses the focus to it.
    await page.waitForTimeout(1500);
    await search(page, 'retry a failed HTTP request with exponential backoff', /retry\.ts:\d+/);
    const widget = page.locator('.quick-input-widget');
    const titleButton = (icon: string) => widget.locator(`.quick-input-titlebar .codicon-${icon}`).first();
    /** Waits until the pick's title says `what` (a test of the whole title). */
    const titleSays = async (what: RegExp | ((title: string) => boolean)): Promise<void> => {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const t = (await widget.locator('.quick-input-title').textContent()) ?? '';
        if (typeof what === 'function' ? what(t) : what.test(t)) return;
        if (Date.now() > deadline) throw new Error(`the title never matched ${what}: "${t}"`);
        await page.waitForTimeout(100);
      }
    };
    const unfiltered = (t: string) => t.startsWith('Loupe: Search by Meaning') && !t.includes('Filter:');
    /** Waits until the first row names a file matching `file`. */
    const firstRow = async (file: RegExp): Promise<void> => {
      await page.locator('.quick-input-widget .monaco-list-row', { hasText: file }).first().waitFor({ timeout: 30_000 });
      const deadline = Date.now() + 30_000;
      while (!file.test((await widget.locator('.monaco-list-row').first().textContent()) ?? '')) {
        if (Date.now() > deadline) throw new Error(`the first row never matched ${file}`);
        await page.waitForTimeout(200);
      }
    };
    /** Waits until every result row names a file matching `file` (the cut-off row aside), or a row says nothing matches. */
    const rowsOnly = async (file: RegExp | 'none'): Promise<string[]> => {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const rows = (await widget.locator('.monaco-list-row').allTextContents()).filter((r) => !/Less relevant below/.test(r));
        if (file === 'none' ? rows.some((r) => /Nothing matches the filter/.test(r)) : rows.length > 0 && rows.every((r) => file.test(r)))
          return rows;
        if (Date.now() > deadline) throw new Error(`rows never matched ${file}: ${JSON.stringify(rows.slice(0, 5))}`);
        await page.waitForTimeout(200);
      }
    };
    // The content button cycles all → code → tests → docs: docs only leaves the README.
    await titleButton('filter').click();
    await titleSays(/Filter: code only/);
    await titleButton('symbol-method').click();
    await titleButton('beaker').click();
    await titleSays(/Filter: docs only/);
    await rowsOnly(/README\.md/);
    // Clear, then languages from their own pick: Go only leaves area.go, and the query is kept.
    await titleButton('clear-all').click();
    await titleSays(unfiltered);
    await firstRow(/retry\.ts/);
    await titleButton('file-code').click();
    await page.locator('.quick-input-widget', { hasText: 'Search Only These Languages' }).waitFor({ timeout: 10_000 });
    await widget.locator('.monaco-list-row', { hasText: /^Go/ }).first().click();
    await page.keyboard.press('Enter');
    await titleSays(/Filter: Go( — |$)/);
    assert.equal(
      await widget.locator('input').first().inputValue(),
      'retry a failed HTTP request with exponential backoff',
      'the query is kept',
    );
    await rowsOnly(/area\.go/);
    // A query that fits the filter, for the screenshot.
    await widget.locator('input').first().fill('compute the area of a polygon');
    await firstRow(/PolygonArea/);
    await rowsOnly(/area\.go/);
    await page.waitForTimeout(300);
    await shot(page, '5b-search-filtered');
    await marketplaceShot(page, 'search-filtered', widget);
    // A path glob from an input box: Go under src/net/ matches nothing, and the pick says so.
    await titleButton('folder').click();
    await page.locator('.quick-input-widget', { hasText: 'Search Only These Paths' }).waitFor({ timeout: 10_000 });
    await widget.locator('input').first().fill('src/net/**');
    await page.keyboard.press('Enter');
    await titleSays(/Filter: Go · src\/net\/\*\*( — |$)/);
    await rowsOnly('none');
    // The filter stays for the next search in this window; clear it so the later tests search everything.
    await titleButton('clear-all').click();
    await titleSays(unfiltered);
    await widget
      .locator('.monaco-list-row', { hasText: /retry\.ts|vendor-loupe|password\.py|README\.md/ })
      .first()
      .waitFor({ timeout: 30_000 });
    await page.keyboard.press('Escape');
  });

  test('the Q&A panel shows retrieved passages, streams an answer, and citations open files', async () => {
    // Through the activity bar, as a user would (the container is not open yet).
    await page.locator('.activitybar .action-item a[aria-label^="Loupe"]').click();
    const frame: FrameLocator = page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
    const input = frame.locator('#question');
    await input.waitFor({ timeout: 30_000 });
    await input.fill('how is a user password hashed and checked?');
    await input.press('Enter');
    const turn = frame.locator('.turn').last();
    await turn.locator('.answer', { hasText: 'Hello from the tiny Loupe model.' }).waitFor({ timeout: 120_000 });
    await frame.locator('.turn[data-status="done"]').last().waitFor({ timeout: 30_000 });
    await turn.locator('details.passages summary').click();
    const heads = await turn.locator('.passage-head').allTextContents();
    await shot(page, '6-qa-answer');
    assert.ok(heads.length > 0, 'passages listed');
    assert.ok(
      heads.some((h) => /password\.py/.test(h)),
      `a cited passage is password.py: ${JSON.stringify(heads)}`,
    );
    await turn.locator('.passage-head', { hasText: 'password.py' }).first().click();
    await page.locator('.tab.active', { hasText: 'password.py' }).waitFor({ timeout: 10_000 });
    await shot(page, '7-qa-citation-opened');
    // The Ask view beside the code its citation opened.
    await marketplaceShot(page, 'ask', page.locator('.part.sidebar'), { from: 'window', margin: 860 });
  });

  test('the Extensions view shows the Marketplace README (docs/marketplace.md), its screenshots in place', async () => {
    await runCommand(page, 'Extensions: Show Installed Extensions');
    await page.locator('.extension-list-item', { hasText: 'Loupe' }).first().click({ timeout: 15_000 });
    // The details page is a webview: find the frame that rendered the README.
    const deadline = Date.now() + 30_000;
    let imgs: { alt: string; src: string; width: number }[] | undefined;
    while (!imgs) {
      for (const f of page.frames()) {
        if (
          !(await f
            .locator('h1', { hasText: 'search your code by meaning' })
            .count()
            .catch(() => 0))
        )
          continue;
        imgs = await f.locator('img').evaluateAll((els) =>
          els.map((e) => ({
            alt: e.getAttribute('alt') ?? '',
            src: e.getAttribute('src') ?? '',
            width: (e as HTMLImageElement).naturalWidth,
          })),
        );
      }
      if (!imgs && Date.now() > deadline) throw new Error('the README was not rendered in the extension page');
      if (!imgs) await page.waitForTimeout(500);
    }
    await page.waitForTimeout(500);
    await shot(page, '7b-extension-page');
    const expected = [...readFileSync(path.join(REPO, 'docs', 'marketplace.md'), 'utf8').matchAll(/!\[([^\]]*)\]\(/g)].map((m) => m[1]!);
    assert.deepEqual(
      imgs.filter((i) => expected.includes(i.alt)).map((i) => i.alt),
      expected,
      `the screenshots in place: ${JSON.stringify(imgs)}`,
    );
    // Whether they load depends on how the VSIX was packaged: with relative links (no base URL, as
    // here) VS Code shows their alt text; with LOUPE_README_BASE_URL they load from that HTTPS address.
    console.log(`extension page images: ${JSON.stringify(imgs)}`);
    // The extension page is a webview too: close it, so the later tests find only Loupe's.
    await runCommand(page, 'View: Close All Editors');
    await page.locator('.tab', { hasText: 'Extension: Loupe' }).waitFor({ state: 'detached', timeout: 10_000 });
  });

  test('after a window reload the Q&A history is still there and the index is ready again without re-embedding', async () => {
    await Promise.all([page.waitForEvent('load', { timeout: 60_000 }), runCommand(page, 'Developer: Reload Window')]);
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    await waitForStatus(page, (t) => /Loupe: [\d,]+ chunks/.test(t), 120_000);
    // The reload may restore the Loupe container already open (a click would close it): use the command.
    await runCommand(page, 'Loupe: Ask About This Codebase');
    const frame: FrameLocator = page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
    await frame.locator('.turn .question', { hasText: 'how is a user password hashed and checked?' }).waitFor({ timeout: 30_000 });
    await frame.locator('.turn .answer', { hasText: 'Hello from the tiny Loupe model.' }).waitFor({ timeout: 5_000 });
    await shot(page, '8-qa-after-reload');
    const indexes = readMetrics(metricsFile).filter((m) => m.event === 'index') as { summary: { embedded: number } }[];
    assert.ok(indexes.length >= 2, 'the reloaded extension brought the index up to date');
    assert.equal(indexes[indexes.length - 1]!.summary.embedded, 0, 'nothing re-embedded after the reload');
  });

  test('without an answer model the panel says so and still shows the retrieved passages', async () => {
    // Workspace settings change on disk: the answer model setting applies live.
    writeTree(workspace, {
      '.vscode/settings.json': JSON.stringify(
        { 'loupe.answer.provider': 'auto', 'loupe.answer.model': '', 'loupe.compute.backoff': false },
        null,
        2,
      ),
    });
    await page.waitForTimeout(2000);
    const frame: FrameLocator = page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
    const input = frame.locator('#question');
    await input.fill('where is the area of a polygon computed?');
    await input.press('Enter');
    const turn = frame.locator('.turn').last();
    await turn.locator('.notice.no-model').waitFor({ timeout: 30_000 });
    const heads = await turn.locator('.passage-head').allTextContents();
    await shot(page, '9-qa-no-answer-model');
    assert.ok(
      heads.some((h) => /area\.go/.test(h)),
      `area.go retrieved: ${JSON.stringify(heads)}`,
    );
    assert.equal(await turn.locator('.answer').textContent(), '', 'no fake answer');
  });

  test('Loupe: Run Benchmark (quick) shows the report with its charts drawn and saves the run', async () => {
    await runCommand(page, 'Loupe: Run Benchmark');
    await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'Smaller sweeps' }).first().click({ timeout: 15_000 });
    // The report's webview: its nonce'd scripts ran under its CSP once body[data-charts] lists the drawn charts.
    const deadline = Date.now() + 240_000;
    let charts = '';
    let canvases = 0;
    while (!charts) {
      for (const f of page.frames()) {
        const body = f.locator('body[data-charts]');
        if (!(await body.count().catch(() => 0))) continue;
        charts = (await body.getAttribute('data-charts').catch(() => '')) ?? '';
        canvases = await f.locator('canvas').count();
      }
      if (charts) break;
      if (Date.now() > deadline) throw new Error('no benchmark report with drawn charts within 240 s');
      await page.waitForTimeout(1000);
    }
    await page.locator('.notifications-toasts', { hasText: 'Recommended batch size' }).waitFor({ timeout: 15_000 });
    await shot(page, '10-benchmark-report');
    assert.ok(charts.split(' ').length >= 4, `charts drawn: ${charts}`);
    assert.ok(canvases >= 4, `${canvases} canvases`);
    const runs = path.join(server.userDataDir, 'User', 'globalStorage', `${pkg.publisher}.${pkg.name}`, 'benchmarks');
    assert.ok(existsSync(runs) && readdirSync(runs).some((f) => f.endsWith('.json')), `a run saved under ${runs}`);
  });

  test('record activation time and extension-host event-loop delay during the full index', async () => {
    const metrics = readMetrics(metricsFile);
    const activate = metrics.find((m) => m.event === 'activate') as { activateMs: number } | undefined;
    const firstIndex = metrics.find((m) => m.event === 'index') as
      | {
          ms: number;
          summary: { files: number; chunks: number; embedded: number };
          eventLoopDelayMs: { p50: number; p99: number; max: number; samples: number };
        }
      | undefined;
    assert.ok(activate, 'activation measured');
    assert.ok(firstIndex, 'first index measured');
    const result = {
      date: new Date().toISOString(),
      host: `code-server ${process.env.CODE_SERVER_VERSION ?? '4.139.1'} (extension host on Node 24), ${os.cpus().length} cores`,
      loadavg: os.loadavg().map((x) => +x.toFixed(2)),
      uptime: execFileSync('uptime', { encoding: 'utf8' }).trim(),
      vsix: path.basename(VSIX),
      vsixBytes: readFileSync(VSIX).length,
      activationMs: +activate.activateMs.toFixed(1),
      fixture: process.env.LOUPE_E2E_FULL ? 'full (fixture + src/)' : 'ci (fixture + src/core/*.ts)',
      firstIndex: {
        files: firstIndex.summary.files,
        realSourceFiles: realFiles,
        chunks: firstIndex.summary.chunks,
        embedded: firstIndex.summary.embedded,
        wallMs: firstIndex.ms,
      },
      extensionHostEventLoopDelayMs: firstIndex.eventLoopDelayMs,
      // 5-second windows in the same run: while an index job ran vs. not (searches, edits, the panel).
      loopWindows: summarise(
        metrics.filter((m) => m.event === 'loop') as unknown as LoopWindow[],
        metrics.filter((m) => m.event === 'activate').map((m) => m.time as string),
      ),
      note: 'monitorEventLoopDelay at 10 ms resolution records whole timer intervals: an idle loop reads ~10 ms, so the delay beyond the timer is the figure minus 10 ms',
      statusBarSequence: statusSeen,
      suiteSeconds: Math.round((Date.now() - t0) / 1000),
      goals: {
        activationMsBelow: 200,
        eventLoopP99MsBelow: 50,
        met: { activation: activate.activateMs < 200, eventLoopP99: firstIndex.eventLoopDelayMs.p99 < 50 },
      },
    };
    mkdirSync(OUT, { recursive: true });
    writeFileSync(path.join(OUT, 'metrics.json'), JSON.stringify(result, null, 2));
    if (process.env.LOUPE_RECORD)
      writeFileSync(
        path.join(REPO, 'test', 'bench', 'results', `extension-e2e-${result.date.slice(0, 10)}.json`),
        JSON.stringify(result, null, 2) + '\n',
      );
    console.log(JSON.stringify(result, null, 2));
    assert.ok(result.activationMs < 200, `activation ${result.activationMs} ms`);
    // The goal (p99 < 50 ms) is recorded, not asserted: on this shared 2-core box the load average
    // runs at 10–15 and every process's timers fire late. Asserted: the host never froze.
    assert.ok(
      result.extensionHostEventLoopDelayMs.p99 < 250,
      `event-loop p99 ${result.extensionHostEventLoopDelayMs.p99} ms: the extension host stalled`,
    );
  });
});
