// The Ask panel renders a real model's Markdown, end to end in code-server: the answer model is the
// generated tiny-llama-markdown.gguf (src/tools/tiny-llama.ts), decoded greedily by node-llama-cpp
// in the extension's engine, so the panel gets bold, a list, inline code, a fenced Python block and
// a [1] citation exactly as a chat model streams them. Checked in the webview's DOM: <strong>,
// <ul>/<li>, a highlighted <pre><code> that scrolls sideways instead of being clipped, a citation
// button that opens its passage, and no Markdown syntax left raw. Screenshots in
// out/e2e/screenshots/: 6c-qa-markdown.png, 6d-qa-markdown-citation-opened.png and
// marketplace/ask-markdown.png. A small workspace of its own keeps it quick (~45 s).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import type { Browser, FrameLocator, Page } from 'playwright-core';
import { TINY_LLAMA_MARKDOWN_FILE } from '../../src/tools/make-models.js';
import { TINY_LLAMA_MARKDOWN } from '../../src/tools/tiny-llama.js';
import { REPO, tempDir, writeTree } from '../support/files.js';
import { closeWorkbench, hostVsix, missingSetup, openWorkbench, startCodeServer, waitForStatus, type CodeServer } from './harness.js';

const VSIX = hostVsix(REPO);
const SHOTS = path.join(REPO, 'out', 'e2e', 'screenshots');
const MODEL = path.join(REPO, 'models', 'generated', TINY_LLAMA_MARKDOWN_FILE);

/** The code lines between the answer's fences, as the <code> element should hold them. */
const CODE = /```python\n([\s\S]*?\n)```/.exec(TINY_LLAMA_MARKDOWN)![1]!;

describe('the Ask panel renders a generated model’s Markdown (code-server)', { skip: missingSetup(VSIX) }, () => {
  let server: CodeServer;
  let browser: Browser;
  let page: Page;
  const cleanups: (() => void)[] = [];

  before(async () => {
    const { dir, cleanup } = tempDir('loupe-e2e-md-');
    cleanups.push(cleanup);
    writeTree(dir, {
      'src/auth/password.py': `import hashlib\nimport hmac\nimport os\n\n\ndef hash_password(password: str) -> str:\n    """Hash a user's password with a random salt using PBKDF2."""\n    salt = os.urandom(16)\n    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 200_000)\n    return salt.hex() + ":" + digest.hex()\n\n\ndef verify_password(password: str, stored: str) -> bool:\n    """Check a password against a stored salted hash in constant time."""\n    salt_hex, digest_hex = stored.split(":")\n    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt_hex), 200_000)\n    return hmac.compare_digest(digest.hex(), digest_hex)\n`,
      'README.md': '# Accounts\n\nUser accounts: passwords are stored as salted PBKDF2 hashes.\n',
      '.vscode/settings.json': JSON.stringify({
        'loupe.answer.provider': 'llama',
        'loupe.answer.model': MODEL,
        'loupe.compute.backoff': false,
      }),
    });
    server = await startCodeServer({ vsix: VSIX, workspace: dir });
    ({ browser, page } = await openWorkbench(server, dir));
  });

  after(() => closeWorkbench(browser, server, cleanups));

  test('bold, a list, highlighted code that scrolls sideways, a citation button, no raw Markdown', async () => {
    await waitForStatus(page, (t) => /Loupe: [\d,]+ chunks/.test(t), 300_000);
    await page.locator('.activitybar .action-item a[aria-label^="Loupe"]').click();
    const frame: FrameLocator = page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
    const input = frame.locator('#question');
    await input.waitFor({ timeout: 30_000 });
    await input.fill('how is a user password hashed and checked?');
    await input.press('Enter');
    await frame.locator('.turn[data-status="done"]').last().waitFor({ timeout: 120_000 });
    const answer = frame.locator('.turn').last().locator('.answer');
    await answer.locator('pre code').waitFor({ timeout: 10_000 });

    const seen = await answer.evaluate((a) => {
      const pre = a.querySelector('pre');
      const code = pre?.querySelector('code');
      const spans = code ? Array.from(code.querySelectorAll('span[class*="hljs-"]')) : [];
      const keyword = spans.find((s) => s.classList.contains('hljs-keyword'));
      const string = spans.find((s) => s.classList.contains('hljs-string'));
      const cite = a.querySelector('button.cite');
      const before = pre?.scrollLeft ?? -1;
      if (pre) pre.scrollLeft = 60;
      const scrolled = pre?.scrollLeft ?? -1;
      if (pre) pre.scrollLeft = 0;
      return {
        text: a.textContent ?? '',
        strong: Array.from(a.querySelectorAll('strong')).map((e) => e.textContent),
        items: Array.from(a.querySelectorAll('ul > li')).map((e) => e.textContent),
        inlineCode: Array.from(a.querySelectorAll('li > code')).map((e) => e.textContent),
        codeClass: code?.className ?? '',
        codeText: code?.textContent ?? '',
        keywords: spans.filter((s) => s.classList.contains('hljs-keyword')).map((s) => s.textContent),
        strings: spans.filter((s) => s.classList.contains('hljs-string')).map((s) => s.textContent),
        spanClasses: [...new Set(spans.map((s) => s.className))],
        overflowX: pre ? getComputedStyle(pre).overflowX : '',
        whiteSpace: code ? getComputedStyle(code).whiteSpace : '',
        scrollWidth: pre?.scrollWidth ?? 0,
        clientWidth: pre?.clientWidth ?? 0,
        preRight: pre ? pre.getBoundingClientRect().right : 0,
        viewWidth: document.documentElement.clientWidth,
        before,
        scrolled,
        cite: cite
          ? { tag: cite.tagName, n: cite.getAttribute('data-n'), title: cite.getAttribute('title'), text: cite.textContent }
          : null,
        colours: {
          code: code ? getComputedStyle(code).color : '',
          keyword: keyword ? getComputedStyle(keyword).color : '',
          string: string ? getComputedStyle(string).color : '',
        },
      };
    });
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, '6c-qa-markdown.png') });
    console.log(JSON.stringify({ ...seen, text: undefined, codeText: undefined }));

    assert.deepEqual(seen.strong, ['Passwords are salted and hashed with PBKDF2'], 'the bold phrase is <strong>');
    assert.deepEqual(seen.items, [
      'hash_password draws a random 16-byte salt and derives the digest.',
      'verify_password recomputes it and compares in constant time.',
    ]);
    assert.deepEqual(seen.inlineCode, ['hash_password', 'verify_password'], 'inline code in the list items');
    assert.equal(seen.codeClass, 'hljs language-python');
    assert.equal(seen.codeText, CODE, 'the fenced block holds the code lines exactly');
    assert.ok(seen.keywords.includes('def') && seen.keywords.includes('return'), `keywords highlighted: ${JSON.stringify(seen.keywords)}`);
    assert.ok(seen.strings.includes('"sha256"'), `strings highlighted: ${JSON.stringify(seen.strings)}`);
    assert.equal(seen.overflowX, 'auto', 'the code block scrolls sideways');
    assert.equal(seen.whiteSpace, 'pre', 'code lines are not wrapped');
    assert.ok(seen.scrollWidth > seen.clientWidth, `the long line overflows the block (${seen.scrollWidth} > ${seen.clientWidth})`);
    assert.equal(seen.before, 0);
    assert.ok(seen.scrolled > 0, 'and the block scrolls to show it');
    assert.ok(seen.preRight <= seen.viewWidth + 0.5, `the block ends inside the panel (${seen.preRight} ≤ ${seen.viewWidth}), not clipped`);
    assert.ok(seen.cite, 'the [1] citation is rendered');
    assert.equal(seen.cite.tag, 'BUTTON');
    assert.equal(seen.cite.n, '1');
    assert.equal(seen.cite.text, '[1]');
    assert.match(seen.cite.title ?? '', /^(src\/auth\/password\.py|README\.md):\d+-\d+/, 'its tooltip names the passage');
    assert.doesNotMatch(seen.text, /```|\*\*/, 'no raw Markdown syntax');

    // The citation opens its passage's file.
    const file = path.basename(/^([^:]+):/.exec(seen.cite.title!)![1]!);
    await answer.locator('button.cite').first().click();
    await page.locator('.tab.active', { hasText: file }).waitFor({ timeout: 10_000 });
    await page.waitForTimeout(300);
    await page.screenshot({ path: path.join(SHOTS, '6d-qa-markdown-citation-opened.png') });
    // For the Marketplace page (as extension.e2e.ts frames its "ask" shot): the side bar and the cited code beside it.
    const bar = await page.locator('.part.sidebar').boundingBox();
    assert.ok(bar, 'the side bar is visible');
    mkdirSync(path.join(SHOTS, 'marketplace'), { recursive: true });
    await page.screenshot({
      path: path.join(SHOTS, 'marketplace', 'ask-markdown.png'),
      clip: { x: 0, y: 0, width: bar.x + bar.width + 700, height: Math.min(bar.y + bar.height, 900) },
    });
  });
});
