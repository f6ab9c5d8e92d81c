// The generated Markdown answer model (tiny-llama-markdown.gguf) through the real node-llama-cpp
// runtime: greedy decoding gives exactly the scripted Markdown answer (newlines, backticks, a
// fenced Python block, a citation), and the Ask panel's renderer turns that output into bold, a
// list, highlighted code and a citation button. The e2e test (test/e2e/ask-markdown.e2e.ts) shows
// the same answer in the real webview.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { LlamaChat } from '../src/adapters/llm/llama-chat.js';
import { DEFAULT_SYSTEM_PROMPT } from '../src/core/answer/prompt.js';
import { TINY_LLAMA_MARKDOWN_FILE } from '../src/tools/make-models.js';
import { buildTinyLlamaVocab, markdownScript, scriptPieces, TINY_LLAMA_MARKDOWN, writeTinyLlama } from '../src/tools/tiny-llama.js';
import { renderMarkdown } from '../src/webview/markdown.js';
import { REPO, tempDir } from './support/files.js';

/** The answer, written out here so that any change to what the model says fails this test. */
const EXPECTED = `**Passwords are salted and hashed with PBKDF2** before they are stored [1].

- \`hash_password\` draws a random 16-byte salt and derives the digest.
- \`verify_password\` recomputes it and compares in constant time.

\`\`\`python
def verify_password(password: str, stored: str) -> bool:
    salt_hex, digest_hex = stored.split(":")
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt_hex), 200_000)
    return hmac.compare_digest(digest.hex(), digest_hex)
\`\`\`

Both sides use 200,000 iterations, so a stored hash stays valid.`;

const tmp = tempDir('loupe-llm-md-');
let chat: LlamaChat;

before(async () => {
  let modelPath = path.join(REPO, 'models', 'generated', TINY_LLAMA_MARKDOWN_FILE);
  if (!existsSync(modelPath)) {
    modelPath = path.join(tmp.dir, TINY_LLAMA_MARKDOWN_FILE);
    writeTinyLlama(modelPath, { markdown: true });
  }
  chat = await LlamaChat.load({ modelPath, gpu: false, threads: 1 });
});

after(async () => {
  await chat?.dispose();
  tmp.cleanup();
});

describe('the generated Markdown answer model (node-llama-cpp)', () => {
  test('greedy decoding streams exactly the scripted Markdown answer, newlines and backticks included', async () => {
    const pieces: string[] = [];
    const r = await chat.generate(
      [
        { role: 'system', content: DEFAULT_SYSTEM_PROMPT },
        { role: 'user', content: 'How is a user password hashed and checked?' },
      ],
      { maxTokens: 200, onToken: (t) => pieces.push(t) },
    );
    assert.equal(r.text, EXPECTED);
    assert.equal(TINY_LLAMA_MARKDOWN, EXPECTED, 'the exported script is the one pinned here');
    assert.equal(pieces.join(''), EXPECTED, 'the streamed chunks add up to the answer');
    assert.equal(r.finishReason, 'stop', 'it ends at <|im_end|>, not at the token limit');
    assert.equal(r.completionTokens, markdownScript().pieces.length, 'one token per scripted piece');
    assert.ok(pieces.length > 20, `streamed in ${pieces.length} chunks`);
    assert.equal(chat.info.name, 'loupe-tiny-llama-markdown');
  });

  test('its answer renders in the Ask panel as bold, a list, highlighted Python and a citation', async () => {
    const r = await chat.generate([{ role: 'user', content: 'Anything.' }], { maxTokens: 200 });
    const html = renderMarkdown(r.text, { citation: (n) => (n === 1 ? 'src/auth/password.py:6-10 hash_password' : undefined) });
    assert.match(html, /<strong>Passwords are salted and hashed with PBKDF2<\/strong>/);
    assert.equal((html.match(/<li>/g) ?? []).length, 2, 'two list items');
    assert.match(html, /<ul>\s*<li><code>hash_password<\/code>/);
    assert.match(html, /<pre class="code-block"><code class="hljs language-python">/);
    assert.match(html, /<span class="hljs-keyword">def<\/span>/, 'Python keywords highlighted');
    assert.match(html, /<button type="button" class="cite" data-n="1" title="src\/auth\/password\.py:6-10 hash_password">\[1\]<\/button>/);
    assert.doesNotMatch(html, /```|\*\*/, 'no Markdown syntax left raw');
  });

  test('scriptPieces makes every piece distinct, merging repeats with the words after them', () => {
    // '▁a' is taken by the fixed vocabulary, and the last '▁b' repeats the second word.
    const reserved = new Set(['▁a']);
    const pieces = scriptPieces('a b a b is\n  a b', reserved);
    assert.deepEqual(pieces, ['a', '▁b', '▁a▁b', '▁is', '\n▁▁a▁b']);
    assert.equal(new Set(pieces).size, pieces.length, 'distinct');
    assert.ok(!pieces.some((p) => reserved.has(p)), 'none reserved');
    assert.equal(pieces.join('').replaceAll('▁', ' '), 'a b a b is\n  a b');
    const vocab = buildTinyLlamaVocab(markdownScript());
    assert.equal(new Set(vocab.tokens).size, vocab.tokens.length, 'the Markdown vocabulary has no duplicates');
  });
});
