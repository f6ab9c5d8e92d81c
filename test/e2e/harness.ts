/**
 * A real VS Code host for end-to-end tests, offline: code-server (VS Code in the browser, on a
 * Node 24 binary) with the packaged VSIX installed, driven by playwright-core in Debian's
 * Chromium. test/e2e/setup.sh installs both into ~/.cache/loupe-e2e (see
 * /work/shared/notes/E2E-real-vscode.md for what was learned getting here).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CACHE = process.env.LOUPE_E2E_CACHE ?? path.join(os.homedir(), '.cache', 'loupe-e2e');
export const NODE24 = path.join(CACHE, 'node24', 'bin', 'node');
export const CODE_SERVER = path.join(CACHE, 'code-server', 'node_modules', 'code-server', 'out', 'node', 'entry.js');
export const CHROMIUM = process.env.LOUPE_E2E_CHROMIUM ?? '/usr/bin/chromium';

/** The VSIX `npm run package` builds for this platform (or $LOUPE_VSIX), in the repository `repo`. */
export function hostVsix(repo: string): string {
  const pkg = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { name: string; version: string };
  return process.env.LOUPE_VSIX ?? path.join(repo, 'dist', 'vsix', `${pkg.name}-${process.platform}-${process.arch}-${pkg.version}.vsix`);
}

/** Closes the browser, stops code-server and runs the cleanups (an `after` hook's body; each part may be missing). */
export async function closeWorkbench(
  browser: Browser | undefined,
  server: CodeServer | undefined,
  cleanups: (() => void)[],
): Promise<void> {
  await browser?.close().catch(() => undefined);
  await server?.stop();
  for (const c of cleanups) c();
}

/** Why the e2e suite cannot run here (setup not done), or undefined. */
export function missingSetup(vsix: string): string | undefined {
  for (const [what, p] of [
    ['Node 24', NODE24],
    ['code-server', CODE_SERVER],
    ['Chromium', CHROMIUM],
    ['the packaged VSIX (npm run package)', vsix],
  ] as const) {
    if (!existsSync(p)) return `${what} not found at ${p}; run test/e2e/setup.sh`;
  }
  return undefined;
}

export interface CodeServer {
  url: string;
  /** Per-run folders (user data, extensions, home), removed by `stop`. */
  base: string;
  userDataDir: string;
  log: () => string;
  stop(): Promise<void>;
}

/** Environment that keeps code-server and Chromium out of the real home directory and offline. */
function isolatedEnv(base: string, extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const home = path.join(base, 'home');
  mkdirSync(home, { recursive: true });
  return {
    ...process.env,
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    XDG_DATA_HOME: path.join(home, '.local/share'),
    XDG_CACHE_HOME: path.join(home, '.cache'),
    EXTENSIONS_GALLERY: '{}',
    ...extra,
  };
}

/** Installs `vsix` into a fresh extensions folder and starts code-server on `workspace`. */
export async function startCodeServer(opts: {
  vsix: string;
  workspace: string;
  env?: NodeJS.ProcessEnv;
  trust?: boolean;
}): Promise<CodeServer> {
  const base = mkdtempSync(path.join(os.tmpdir(), 'loupe-e2e-'));
  const userDataDir = path.join(base, 'user-data');
  const extensionsDir = path.join(base, 'extensions');
  mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  writeFileSync(
    path.join(userDataDir, 'User', 'settings.json'),
    JSON.stringify(
      {
        'telemetry.telemetryLevel': 'off',
        'update.mode': 'none',
        'workbench.startupEditor': 'none',
        'security.workspace.trust.enabled': opts.trust !== false,
        'security.workspace.trust.startupPrompt': 'never',
        'workbench.reduceMotion': 'on',
        'workbench.tips.enabled': false,
        'extensions.autoUpdate': false,
        'extensions.autoCheckUpdates': false,
        'editor.autoClosingBrackets': 'never',
        'editor.autoClosingQuotes': 'never',
        'editor.autoClosingComments': 'never',
        'chat.disableAIFeatures': true,
        'workbench.secondarySideBar.defaultVisibility': 'hidden',
        'editor.autoIndent': 'none',
        'editor.formatOnType': false,
        'editor.acceptSuggestionOnEnter': 'off',
        'editor.quickSuggestions': { other: false, comments: false, strings: false },
        'editor.suggestOnTriggerCharacters': false,
      },
      null,
      2,
    ),
  );
  const env = isolatedEnv(base, opts.env ?? {});
  const common = ['--user-data-dir', userDataDir, '--extensions-dir', extensionsDir];
  execFileSync(NODE24, [CODE_SERVER, ...common, '--install-extension', opts.vsix], { env, stdio: 'pipe', timeout: 120_000 });
  const args = [
    CODE_SERVER,
    ...common,
    '--bind-addr',
    '127.0.0.1:0',
    '--auth',
    'none',
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-getting-started-override',
    '--ignore-last-opened',
  ];
  // Trusted runs turn the trust feature off (everything trusted); an untrusted run keeps it on.
  if (opts.trust !== false) args.push('--disable-workspace-trust');
  args.push(opts.workspace);
  const child: ChildProcess = spawn(NODE24, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let log = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`code-server did not start:\n${log}`)), 60_000);
    const onData = (d: Buffer) => {
      log += d.toString();
      const m = /HTTP server listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`code-server exited (${code}):\n${log}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    base,
    userDataDir,
    log: () => log,
    async stop() {
      if (child.exitCode === null && child.pid) {
        const exited = new Promise((r) => child.once('exit', r));
        // The whole group: code-server, its extension host, and the engine processes it forked.
        try {
          process.kill(-child.pid, 'SIGTERM');
        } catch {
          // gone
        }
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      rmSync(base, { recursive: true, force: true });
    },
  };
}

/** Launches Chromium (headless) and opens the workbench on `folder`. */
export async function openWorkbench(server: CodeServer, folder: string): Promise<{ browser: Browser; page: Page }> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    env: isolatedEnv(server.base, {}) as Record<string, string>,
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(`${server.url}/?folder=${encodeURIComponent(folder)}`);
  await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  return { browser, page };
}

/** Runs a command from the command palette by its title. */
/**
 * Opens the command palette and types `text` into it. F1 toggles: with a quick input still open (or
 * closing) it can close instead of open; and a pick that was just dismissed can still move focus
 * back to an editor (restoring the one shown before its previews), which closes a palette opened
 * meanwhile. So start from none, and open again until the text is in a palette that stayed open.
 */
export async function fillPalette(page: Page, text: string): Promise<void> {
  const input = page.locator('.quick-input-widget input');
  for (let attempt = 0; ; attempt++) {
    await page.keyboard.press('Escape');
    // A pick just dismissed restores its editor a moment later: let it, before opening.
    await page.waitForTimeout(300);
    await page.keyboard.press('F1');
    try {
      await input.waitFor({ state: 'visible', timeout: 5_000 });
      // The text is set on the palette's own input element, never typed: typing (or Playwright's
      // fill, which focuses and then inserts into whatever has the focus by then) went into the
      // restored editor once, replacing Find Similar's selection with ">Loupe: " (a fresh CI run).
      await input.evaluate((el, value) => {
        const box = el as HTMLInputElement;
        box.value = value;
        box.dispatchEvent(new Event('input', { bubbles: true }));
      }, text);
      await page.waitForTimeout(200);
      if ((await input.inputValue()) === text && (await input.isVisible())) return;
    } catch (e) {
      if (attempt >= 3) throw e;
    }
    if (attempt >= 3) throw new Error(`the command palette did not stay open to take ${JSON.stringify(text)}`);
  }
}

/** Runs a command from the palette by its title. */
export async function runCommand(page: Page, title: string): Promise<void> {
  await fillPalette(page, `>${title}`);
  const row = page.locator('.quick-input-widget .monaco-list-row', { hasText: title }).first();
  await row.waitFor({ timeout: 15_000 });
  await page.locator('.quick-input-widget input').press('Enter');
}

/** The Loupe status bar item's text. */
export async function statusText(page: Page): Promise<string> {
  const item = page.locator('.statusbar-item', { hasText: 'Loupe' }).first();
  return (await item.textContent({ timeout: 5_000 }).catch(() => '')) ?? '';
}

/** Polls the status bar until `match` accepts its text; returns every distinct text seen. */
export async function waitForStatus(
  page: Page,
  match: (text: string) => boolean,
  timeoutMs: number,
  seen: string[] = [],
): Promise<string[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const t = (await statusText(page)).trim();
    if (t && seen[seen.length - 1] !== t) seen.push(t);
    if (match(t)) return seen;
    if (Date.now() > end) throw new Error(`status bar never matched; seen: ${JSON.stringify(seen)}`);
    await page.waitForTimeout(100);
  }
}

/** The editor's cursor position from the status bar ("Ln 12, Col 1"). */
export async function cursorLine(page: Page): Promise<number> {
  const t = await page.locator('.statusbar-item[id="status.editor.selection"]').textContent({ timeout: 5_000 });
  const m = /Ln (\d+)/.exec(t ?? '');
  return m ? Number(m[1]) : -1;
}

/** Finds files under `dir` named `name` (for the extension host's log). */
export function findFiles(dir: string, name: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name === name) out.push(p);
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}
