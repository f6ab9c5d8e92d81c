// Pure answer logic: prompt budget, citations, history, SSE parsing, model selection, sources from files.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildAnswerPrompt, MESSAGE_OVERHEAD_TOKENS } from '../src/core/answer/prompt.js';
import { citedNumbers, formatCitation } from '../src/core/answer/citations.js';
import { ConversationHistory } from '../src/core/answer/history.js';
import { parseChatChunk, SseParser } from '../src/core/answer/sse.js';
import { mlxModelForMemory, selectAnswerModel, type SelectionFacts } from '../src/core/answer/select.js';
import { hitLines, MAX_SOURCE_CHARS, sourcesFor } from '../src/core/answer/retrieve.js';
import { readPassages } from '../src/extension/passages.js';
import { StopMatcher } from '../src/core/answer/stop.js';
import type { Source } from '../src/core/answer/types.js';
import { LoupeError } from '../src/core/types.js';
import { tempDir, writeTree } from './support/files.js';

/** One token per whitespace-separated word: easy to reason about. */
const words = (t: string): number => t.split(/\s+/).filter(Boolean).length;

function source(path: string, startLine: number, lines: number, word = 'code'): Source {
  const text = Array.from({ length: lines }, (_, i) => `${word} line ${startLine + i}`).join('\n');
  return { path, startLine, endLine: startLine + lines - 1, symbol: null, language: 'typescript', score: 1, text };
}

describe('buildAnswerPrompt', () => {
  test('numbers sources in rank order and stays within the budget', () => {
    const sources = [source('a.ts', 1, 5), source('b.ts', 10, 5), source('c.ts', 20, 5)];
    const p = buildAnswerPrompt({
      question: 'what does a do?',
      sources,
      budget: { contextSize: 4000, maxAnswerTokens: 500 },
      countTokens: words,
    });
    assert.deepEqual(
      p.citations.map((c) => [c.n, c.path, c.startLine, c.endLine]),
      [
        [1, 'a.ts', 1, 5],
        [2, 'b.ts', 10, 14],
        [3, 'c.ts', 20, 24],
      ],
    );
    assert.equal(p.droppedSources, 0);
    const user = p.messages.at(-1)!.content;
    assert.match(user, /\[1\] a\.ts:1-5\n```typescript\ncode line 1\n/);
    assert.match(user, /\[3\] c\.ts:20-24/);
    assert.match(user, /Question: what does a do\?$/);
    assert.equal(p.messages[0]!.role, 'system');
    assert.equal(
      p.promptTokens,
      p.messages.reduce((s, m) => s + words(m.content) + MESSAGE_OVERHEAD_TOKENS, 0),
    );
  });

  test('cuts the last source that only partly fits by lines, and drops the rest', () => {
    const sources = [source('a.ts', 1, 10), source('b.ts', 100, 40), source('c.ts', 1, 3)];
    // 3 words per line: room for a.ts whole and about 15 lines of b.ts.
    const base = buildAnswerPrompt({
      question: 'q',
      sources: [],
      budget: { contextSize: 10_000, maxAnswerTokens: 0 },
      countTokens: words,
    }).promptTokens;
    const contextSize = base + 40 + 50 + 20;
    const p = buildAnswerPrompt({
      question: 'q',
      sources,
      budget: { contextSize, maxAnswerTokens: 20, historyShare: 0 },
      countTokens: words,
    });
    assert.equal(p.citations.length, 2);
    const b = p.citations[1]!;
    assert.equal(b.path, 'b.ts');
    assert.equal(b.endLine, 139, 'the citation keeps the full hit');
    assert.ok(b.quotedEndLine < 139 && b.quotedEndLine >= 102, `quoted up to line ${b.quotedEndLine}`);
    assert.match(p.messages.at(-1)!.content, new RegExp(`\\[2\\] b\\.ts:100-${b.quotedEndLine}\\n`));
    assert.ok(!p.messages.at(-1)!.content.includes(`code line ${b.quotedEndLine + 1}\n`));
    assert.equal(p.droppedSources, 1);
    assert.ok(p.promptTokens <= contextSize - 20, `${p.promptTokens} tokens within ${contextSize - 20}`);
  });

  test('a question that does not fit is a context-overflow error', () => {
    const question = 'word '.repeat(300);
    assert.throws(
      () =>
        buildAnswerPrompt({
          question,
          sources: [source('a.ts', 1, 3)],
          budget: { contextSize: 256, maxAnswerTokens: 64 },
          countTokens: words,
        }),
      (e: unknown) => e instanceof LoupeError && e.code === 'context-overflow' && /does not fit/.test(e.message),
    );
  });

  test('history: newest turns first, within its share of the budget', () => {
    const history = [
      { question: 'first question', answer: 'old '.repeat(200) },
      { question: 'second question', answer: 'short answer' },
      { question: 'third question', answer: 'another short answer' },
    ];
    const p = buildAnswerPrompt({
      question: 'follow up?',
      sources: [],
      history,
      budget: { contextSize: 1000, maxAnswerTokens: 100 },
      countTokens: words,
    });
    assert.equal(p.historyTurns, 2);
    assert.deepEqual(
      p.messages.map((m) => m.role),
      ['system', 'user', 'assistant', 'user', 'assistant', 'user'],
    );
    assert.equal(p.messages[1]!.content, 'second question');
    assert.equal(p.messages[4]!.content, 'another short answer');
  });
});

describe('citations', () => {
  test('finds [n], [n, m] and [n][m] in order, ignoring numbers without a source', () => {
    assert.deepEqual(citedNumbers('See [2] and [1, 3]; also [3][4] and [9] and [0] and [x].', 4), [2, 1, 3, 4]);
    assert.deepEqual(citedNumbers('no references', 3), []);
    assert.equal(
      formatCitation({ n: 2, path: 'src/a.ts', startLine: 4, endLine: 9, symbol: 'parse', score: 1, quotedEndLine: 9 }),
      '[2] src/a.ts:4-9 parse',
    );
    assert.equal(formatCitation({ n: 1, path: 'b.py', startLine: 7, endLine: 7, symbol: null, score: 1, quotedEndLine: 7 }), '[1] b.py:7');
  });
});

describe('ConversationHistory', () => {
  test('keeps the newest turns within the turn and character limits', () => {
    const h = new ConversationHistory({ maxTurns: 3, maxChars: 100 });
    for (let i = 1; i <= 5; i++) h.add(`q${i}`, `a${i}`);
    assert.deepEqual(
      h.turns.map((t) => t.question),
      ['q3', 'q4', 'q5'],
    );
    h.add('long', 'x'.repeat(95));
    assert.deepEqual(
      h.turns.map((t) => t.question),
      ['long'],
    );
    h.add('huge', 'y'.repeat(200));
    assert.equal(h.turns.length, 0, 'a turn larger than the whole budget is not kept');
  });
});

describe('SSE', () => {
  const stream =
    ': keepalive 1/3\r\n\r\n' +
    'data: {"choices":[{"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}\r\n\r\n' +
    'data: {"choices":[{"delta":{"content":"lo é"},"finish_reason":null}]}\n\n' +
    'event: message\ndata: {"choices":[{"delta":{},"finish_reason":"length"}],\ndata: "usage":{"prompt_tokens":5,"completion_tokens":2}}\n\n' +
    'data: [DONE]\n\n';

  function parseAll(chunks: string[]): string[] {
    const p = new SseParser();
    const out = chunks.flatMap((c) => p.push(c));
    return [...out, ...p.end()].map((e) => e.data);
  }

  test('gives the same events however the stream is split', () => {
    const whole = parseAll([stream]);
    assert.equal(whole.length, 4);
    for (let size = 1; size <= 7; size++) {
      const parts: string[] = [];
      for (let i = 0; i < stream.length; i += size) parts.push(stream.slice(i, i + size));
      assert.deepEqual(parseAll(parts), whole, `split every ${size} characters`);
    }
    const chunks = whole.map(parseChatChunk);
    assert.deepEqual(chunks[0], { done: false, text: 'Hel', finishReason: null, usage: undefined });
    assert.deepEqual(chunks[2], { done: false, text: '', finishReason: 'length', usage: { promptTokens: 5, completionTokens: 2 } });
    assert.deepEqual(chunks[3], { done: true });
  });

  test('an event without its blank line is delivered at the end', () => {
    assert.deepEqual(parseAll(['data: {"a":1}']), ['{"a":1}']);
  });

  test('streamed errors and malformed events are clear errors', () => {
    assert.throws(
      () => parseChatChunk('{"error":{"message":"model not loaded"}}'),
      (e: unknown) => e instanceof LoupeError && e.code === 'server-error' && /model not loaded/.test(e.message),
    );
    assert.throws(
      () => parseChatChunk('{"choices": ['),
      (e: unknown) => e instanceof LoupeError && e.code === 'bad-stream',
    );
  });
});

describe('selectAnswerModel', () => {
  const base: SelectionFacts = {
    preference: 'auto',
    platform: 'darwin',
    arch: 'arm64',
    serverRunning: false,
    mlxPython: false,
    ggufPath: null,
  };
  const url = 'http://127.0.0.1:8080';
  const pick = (f: Partial<SelectionFacts>) => selectAnswerModel({ ...base, ...f }, url);

  test('auto on Apple Silicon: a running mlx_lm.server, else start one, else in process', () => {
    assert.deepEqual(pick({ serverRunning: true }), {
      kind: 'mlx',
      start: false,
      url,
      reason: `using the mlx_lm.server already running at ${url}`,
    });
    assert.equal(pick({ mlxPython: true }).kind, 'mlx');
    assert.equal((pick({ mlxPython: true }) as { start: boolean }).start, true);
    assert.deepEqual(pick({ ggufPath: '/m/chat.gguf' }), {
      kind: 'llama',
      modelPath: '/m/chat.gguf',
      reason: 'no mlx-lm found: in-process GGUF chat model',
    });
    const none = pick({});
    assert.equal(none.kind, 'none');
    assert.match(none.reason, /pip install mlx-lm/);
  });

  test('auto elsewhere: a configured server, else in process; never starts MLX', () => {
    const linux = { platform: 'linux', arch: 'x64' };
    assert.equal(pick({ ...linux, mlxPython: true, ggufPath: '/m.gguf' }).kind, 'llama');
    assert.deepEqual(pick({ ...linux, url: 'http://127.0.0.1:11434', serverRunning: true }), {
      kind: 'openai',
      url: 'http://127.0.0.1:11434',
      reason: 'using the server at http://127.0.0.1:11434',
    });
    const none = pick({ ...linux, url: 'http://127.0.0.1:11434' });
    assert.equal(none.kind, 'none');
    assert.equal((none as { code: string }).code, 'server-not-running');
  });

  test('explicit choices say why they cannot be used', () => {
    const linux = { platform: 'linux', arch: 'x64' };
    assert.match(pick({ ...linux, preference: 'mlx', mlxPython: true }).reason, /MLX needs Apple Silicon/);
    assert.equal((pick({ ...linux, preference: 'mlx', mlxPython: true, allowMlxAnywhere: true }) as { start: boolean }).start, true);
    assert.equal(pick({ ...linux, preference: 'mlx', serverRunning: true }).kind, 'mlx');
    assert.match(pick({ preference: 'openai' }).reason, /needs its URL/);
    assert.match(pick({ preference: 'llama', mlxPython: true }).reason, /No GGUF chat model/);
  });

  test('MLX model sized to memory', () => {
    assert.match(mlxModelForMemory(8 * 2 ** 30), /3B-Instruct-4bit$/);
    assert.match(mlxModelForMemory(16 * 2 ** 30), /7B-Instruct-4bit$/);
    assert.match(mlxModelForMemory(128 * 2 ** 30), /32B-Instruct-4bit$/);
  });
});

describe('sourcesFor', () => {
  test('reads the hit lines from the files as they are now; missing files are skipped', async () => {
    const t = tempDir();
    try {
      writeTree(t.dir, { 'src/a.ts': 'one\ntwo\nthree\nfour\n', 'b.py': 'x = 1\r\ny = 2\r\n' });
      const hit = { symbol: null, language: 'typescript', score: 0.5 };
      const s = await sourcesFor(t.dir, [
        { path: 'src/a.ts', startLine: 2, endLine: 3, ...hit },
        { path: 'gone.ts', startLine: 1, endLine: 2, ...hit },
        { path: 'b.py', startLine: 2, endLine: 9, ...hit },
      ]);
      assert.deepEqual(
        s.map((x) => [x.path, x.startLine, x.endLine, x.text]),
        [
          ['src/a.ts', 2, 3, 'two\nthree'],
          ['b.py', 2, 3, 'y = 2\n'],
        ],
      );
    } finally {
      t.cleanup();
    }
  });
});

describe('readHits: the one way a hit becomes text', () => {
  test('a hit longer than MAX_SOURCE_CHARS is cut at a line boundary, the same for answer sources and the Q&A panel', async () => {
    const t = tempDir();
    try {
      const line = (i: number) => `const value_${String(i).padStart(3, '0')} = ${'x'.repeat(80)};`;
      writeTree(t.dir, { 'big.ts': Array.from({ length: 300 }, (_, i) => line(i + 1)).join('\n') + '\n' });
      const hit = { path: 'big.ts', startLine: 11, endLine: 290, symbol: null, language: 'typescript', score: 0.5 };
      const [s] = await sourcesFor(t.dir, [hit]);
      assert.ok(
        s!.text.length <= MAX_SOURCE_CHARS && s!.text.length > MAX_SOURCE_CHARS - line(1).length - 1,
        `${s!.text.length} characters`,
      );
      assert.ok(s!.endLine < 290);
      assert.equal(s!.text.split('\n').length, s!.endLine - 11 + 1);
      assert.equal(s!.text.split('\n').at(-1), line(s!.endLine), 'ends with a whole line');
      const [p] = await readPassages([{ ...hit, root: t.dir, rootName: 'w' }]);
      assert.deepEqual([p!.text, p!.endLine], [s!.text, s!.endLine]);
      assert.equal(hitLines(['a', 'b'], 3, 4), null, 'a file now shorter than the hit');
    } finally {
      t.cleanup();
    }
  });
});

describe('StopMatcher', () => {
  function run(stops: string[], pieces: string[]): { shown: string[]; stopped: boolean; rest: string } {
    const m = new StopMatcher(stops);
    const shown: string[] = [];
    let stopped = false;
    for (const p of pieces) {
      const r = m.push(p);
      if (r.emit) shown.push(r.emit);
      if (r.stopped) {
        stopped = true;
        break;
      }
    }
    return { shown, stopped, rest: m.flush() };
  }

  test('cuts before a stop string split across pieces, holding back only a possible start', () => {
    assert.deepEqual(run([' tiny'], ['Hello', ' from', ' the', ' t', 'iny', ' model']), {
      shown: ['Hello', ' from', ' the'],
      stopped: true,
      rest: '',
    });
    assert.deepEqual(run(['</s>', 'END'], ['a <', '/x', ' E', 'N', 'D!']), { shown: ['a ', '</x', ' '], stopped: true, rest: '' });
    assert.deepEqual(run(['STOP'], ['ends with ST']), { shown: ['ends with '], stopped: false, rest: 'ST' });
    assert.deepEqual(run([], ['as ', 'is']), { shown: ['as ', 'is'], stopped: false, rest: '' });
  });
});
