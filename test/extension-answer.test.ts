// The Q&A panel's answers (src/extension/answerer.ts) against the real engine process and an
// OpenAI-compatible HTTP server started here that records the prompt it gets: the passages the
// panel shows are exactly the ones the model reads, in the same order and with the same text.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { engineAnswerer, quotedPassages } from '../src/extension/answerer.js';
import { EngineSession } from '../src/extension/engine-session.js';
import { mergeResults, readPassages, type Passage } from '../src/extension/passages.js';
import { readSettings } from '../src/extension/settings.js';
import type { ChatMessage } from '../src/core/answer/types.js';
import { SAMPLE_PROJECT, tempDir, writeTree, tinySessionParams } from './support/helpers.js';

/** An OpenAI-compatible server that answers "See [1]." and keeps every request's messages. */
async function recordingServer(): Promise<{ url: string; prompts: ChatMessage[][]; close: () => Promise<void> }> {
  const prompts: ChatMessage[][] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      if (req.method === 'GET' && req.url === '/health') return res.end('{"status":"ok"}');
      if (req.method === 'GET' && req.url === '/v1/models') return res.end('{"data":[{"id":"recorder"}]}');
      if (req.method === 'POST' && req.url === '/v1/chat/completions') {
        prompts.push((JSON.parse(body) as { messages: ChatMessage[] }).messages);
        return res.end(
          JSON.stringify({
            choices: [{ message: { role: 'assistant', content: 'See [1].' }, finish_reason: 'stop' }],
            usage: { prompt_tokens: 1, completion_tokens: 3 },
          }),
        );
      }
      res.statusCode = 404;
      res.end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, prompts, close: () => new Promise((r) => server.close(() => r())) };
}

/** The numbered sources of a prompt's last user message: `[n] path:start-end`. */
function promptSources(messages: ChatMessage[]): { n: number; path: string; startLine: number; endLine: number }[] {
  const user = messages.at(-1)!.content;
  return [...user.matchAll(/^\[(\d+)\] (\S+?):(\d+)(?:-(\d+))?(?: \(.*\))?$/gm)].map((m) => ({
    n: Number(m[1]),
    path: m[2]!,
    startLine: Number(m[3]),
    endLine: Number(m[4] ?? m[3]),
  }));
}

describe('Q&A answers from the passages shown', () => {
  const cleanups: (() => void | Promise<void>)[] = [];
  let session: EngineSession;
  let server: Awaited<ReturnType<typeof recordingServer>>;

  before(async () => {
    const { dir, cleanup } = tempDir('loupe-qa-');
    cleanups.push(cleanup);
    writeTree(dir, SAMPLE_PROJECT);
    server = await recordingServer();
    cleanups.push(() => server.close());
    session = new EngineSession({
      root: dir,
      name: 'sample',
      params: tinySessionParams(dir),
      logger: { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} },
      onChange: () => {},
    });
    cleanups.push(() => session.dispose());
    await session.open();
    assert.ok((await session.index().done)?.chunks);
  });

  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  test('the prompt quotes exactly the passages given, in order, and those stay shown', async () => {
    const settings = readSettings(
      (k) => (({ 'answer.provider': 'openai', 'answer.url': server.url, 'answer.passages': 4 }) as Record<string, unknown>)[k],
    );
    const answerer = engineAnswerer({
      sessions: () => [session],
      settings: () => settings,
      log: { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} },
    });
    assert.equal(answerer.unavailable(), undefined);
    // What the panel shows: one folder's hits read from disk (Loupe.searchPassages), here a
    // subset, so an answer that retrieved on its own would quote others.
    const found = await readPassages(mergeResults([await session.search('parse the config file', 4)], 4));
    assert.ok(found.length >= 3, `found ${found.length}`);
    const shown: Passage[] = found.slice(1, 3).map((p, i) => ({ ...p, n: i + 1 }));
    let afterCitations: Passage[] | undefined;
    let answer = '';
    await answerer.answer('how is the config file parsed?', 'conv-1', shown, new AbortController().signal, {
      citations: (ps) => (afterCitations = ps),
      token: (t) => (answer += t),
    });
    assert.equal(answer, 'See [1].');
    assert.equal(server.prompts.length, 1);
    const prompt = server.prompts[0]!;
    assert.deepEqual(
      promptSources(prompt),
      shown.map((p) => ({ n: p.n, path: p.path, startLine: p.startLine, endLine: p.endLine })),
    );
    for (const p of shown) assert.ok(prompt.at(-1)!.content.includes(p.text), `the prompt quotes ${p.path}:${p.startLine} as shown`);
    assert.deepEqual(
      afterCitations?.map((p) => [p.n, p.path, p.startLine, p.endLine, p.text]),
      shown.map((p) => [p.n, p.path, p.startLine, p.endLine, p.text]),
    );

    // Passages from two folders name their folder in the prompt.
    const twoRoots = [shown[0]!, { ...shown[1]!, root: '/elsewhere', rootName: 'other' }];
    await answerer.answer('and the other one?', 'conv-1', twoRoots, new AbortController().signal, { citations: () => {}, token: () => {} });
    assert.deepEqual(
      promptSources(server.prompts[1]!).map((s) => s.path),
      [`sample/${shown[0]!.path}`, `other/${shown[1]!.path}`],
    );
  });

  test('quotedPassages: citation n is passage n; a source the prompt cut shows only the lines it quoted', () => {
    const p = (n: number, startLine: number, text: string): Passage => ({
      n,
      root: '/r',
      rootName: 'r',
      path: `f${n}.ts`,
      startLine,
      endLine: startLine + text.split('\n').length - 1,
      symbol: null,
      language: 'typescript',
      score: 1,
      text,
    });
    const passages = [p(1, 1, 'a\nb'), p(2, 10, 'c\nd\ne\nf'), p(3, 5, 'g')];
    const cite = (n: number, x: Passage, quotedEndLine = x.endLine) => ({
      n,
      path: x.path,
      startLine: x.startLine,
      endLine: x.endLine,
      symbol: null,
      score: 1,
      quotedEndLine,
    });
    // The third did not fit; the second was cut after 3 of its 4 lines.
    const shown = quotedPassages(passages, [cite(1, passages[0]!), cite(2, passages[1]!, 12)]);
    assert.deepEqual(
      shown.map((x) => [x.n, x.startLine, x.endLine, x.text]),
      [
        [1, 1, 2, 'a\nb'],
        [2, 10, 12, 'c\nd\ne'],
      ],
    );
  });
});
