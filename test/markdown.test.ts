// The Ask panel's Markdown renderer (src/webview/markdown.ts, the function the webview bundle
// runs): Markdown and code render, and whatever a model writes cannot run script in the panel.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { renderMarkdown, type RenderEnv } from '../src/webview/markdown.js';

const env: RenderEnv = { citation: (n) => (n >= 1 && n <= 3 ? `src/auth.py:${n * 10}-${n * 10 + 5} verify_password` : undefined) };
const render = (s: string) => renderMarkdown(s, env);

/** Tags allowed in output, and every attribute on them must be one of these. */
const TAGS = new Set([
  'p',
  'em',
  'strong',
  'code',
  'pre',
  'span',
  'ul',
  'ol',
  'li',
  'a',
  'button',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'blockquote',
  'hr',
  'br',
  'table',
  'thead',
  'tbody',
  'tr',
  'th',
  'td',
  's',
]);
const ATTRS = new Set(['class', 'href', 'title', 'type', 'data-n', 'start', 'style']);

function assertSafe(html: string): void {
  for (const m of html.matchAll(/<([a-zA-Z][\w-]*)([^>]*)>/g)) {
    const tag = m[1]!.toLowerCase();
    assert.ok(TAGS.has(tag), `tag <${tag}> in ${html}`);
    for (const a of m[2]!.matchAll(/\s([^\s=]+)(?:="([^"]*)")?/g)) {
      const name = a[1]!.toLowerCase();
      assert.doesNotMatch(a[2] ?? '', /javascript:|vbscript:|data:/i, `${name} on <${tag}> in ${html}`);
      assert.ok(ATTRS.has(name), `attribute ${name} on <${tag}> in ${html}`);
      if (name === 'href') assert.match(a[2]!, /^(https?:|mailto:)/i, `href ${a[2]}`);
      if (name === 'style') assert.match(a[2]!, /^text-align:(left|right|center)$/, `style ${a[2]}`);
    }
  }
  assert.doesNotMatch(html, /<script|<iframe|<img|<svg|<object/i);
}

describe('renderMarkdown: Markdown from a model', () => {
  test('lists, bold, inline code and a fenced block with highlighting', () => {
    const html = render(
      'The check is in **`verify_password`** [1]:\n\n- hashes the input\n- compares in constant time [2]\n\n```python\ndef verify_password(pw: str) -> bool:\n    return hmac.compare_digest(a, b)\n```\n',
    );
    assertSafe(html);
    assert.match(html, /<strong><code>verify_password<\/code><\/strong>/);
    assert.match(html, /<ul>\s*<li>hashes the input<\/li>/);
    assert.match(html, /<pre class="code-block"><code class="hljs language-python">/);
    assert.match(html, /<span class="hljs-keyword">def<\/span>/);
    assert.match(html, /<button type="button" class="cite" data-n="1" title="src\/auth\.py:10-15 verify_password">\[1\]<\/button>/);
    assert.match(html, /data-n="2"/);
  });

  test('a citation with no passage stays text; a real link keeps working', () => {
    const html = render('See [9] and [the docs](https://example.com/a?b=1&c=2). ![diagram](https://example.com/d.png)');
    assertSafe(html);
    assert.match(html, /See \[9\] and/);
    assert.match(html, /<a title="https:\/\/example\.com\/a\?b=1&amp;c=2" href="https:\/\/example\.com\/a\?b=1&amp;c=2">the docs<\/a>/);
    assert.match(html, /\. diagram<\/p>/, 'an image shows as its alt text');
  });
});

describe('renderMarkdown: hostile model output is neutralised', () => {
  const attacks: [string, string][] = [
    ['script tag', 'Hi <script>alert(1)</script> there'],
    ['script tag in a block', '<script>\nalert(document.cookie)\n</script>'],
    ['event handler on an image', '<img src=x onerror="alert(1)">'],
    ['event handler on a div', '<div onmouseover="alert(1)">hover</div>'],
    ['javascript: link', '[click](javascript:alert(1))'],
    ['javascript: link, upper case and spaces', '[click]( JAVASCRIPT:alert(1) )'],
    ['javascript: link, entity-encoded', '[click](&#106;avascript:alert(1))'],
    ['javascript: autolink', '<javascript:alert(1)>'],
    ['javascript: reference link', '[click][x]\n\n[x]: javascript:alert(1)'],
    ['data: link', '[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)'],
    ['vbscript: link', '[click](vbscript:msgbox(1))'],
    ['image with javascript src', '![x](javascript:alert(1))'],
    ['raw anchor', '<a href="javascript:alert(1)">x</a>'],
    ['iframe', '<iframe src="https://evil.example"></iframe>'],
    ['svg onload', '<svg onload=alert(1)>'],
    ['fence info with quotes', '```" onmouseover="alert(1)\ncode\n```'],
    ['html fence', '```html\n<script>alert(1)</script>\n```'],
    ['link title with quotes', '[x](https://example.com "a\\" onmouseover=\\"alert(1)")'],
  ];
  for (const [name, input] of attacks) {
    test(name, () => {
      const html = render(input);
      assertSafe(html);
      // What was dangerous is still visible as text (nothing silently dropped but the active part).
      assert.ok(html.length > 0);
    });
  }

  test('escaped text is shown, not interpreted', () => {
    const html = render('Use <b>bold</b> & <i onclick="x()">x</i>');
    assert.match(html, /&lt;b&gt;bold&lt;\/b&gt; &amp; &lt;i onclick=&quot;x\(\)&quot;&gt;x&lt;\/i&gt;/);
    const fence = render('```html\n<script>alert(1)</script>\n```');
    assert.match(fence, /&lt;/);
    assert.doesNotMatch(fence, /<script/);
  });
});
