// The in-process answer path through the real node-llama-cpp runtime with the generated tiny
// LLaMA (it always answers TINY_LLAMA_SENTENCE): exact streaming, maxTokens, stop, cancel,
// parallel sequences, and a whole retrieval-augmented answer whose citations map to files and lines.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { EngineClient } from '../src/adapters/engine-client.js';
import { LlamaChat } from '../src/adapters/llm/llama-chat.js';
import { answerQuestion } from '../src/core/answer/answer.js';
import { ConversationHistory } from '../src/core/answer/history.js';
import { engineRetriever } from '../src/core/answer/retrieve.js';
import type { AnswerEvent, ChatMessage } from '../src/core/answer/types.js';
import type { Engine } from '../src/core/engine.js';
import type { EventMessage } from '../src/core/protocol.js';
import { LoupeError } from '../src/core/types.js';
import { main } from '../src/cli/main.js';
import { TINY_LLAMA_SENTENCE, writeTinyLlama } from '../src/tools/tiny-llama.js';
import { openTestEngine, REPO, SAMPLE_PROJECT, tempDir, tinyBertPath, writeTree } from './support/helpers.js';

const tmp = tempDir('loupe-llm-');
let modelPath = path.join(REPO, 'models/generated/tiny-llama.gguf');
let chat: LlamaChat;
const msgs: ChatMessage[] = [
  { role: 'system', content: 'You answer questions.' },
  { role: 'user', content: 'Say something.' },
];

before(async () => {
  if (!existsSync(modelPath)) {
    modelPath = path.join(tmp.dir, 'tiny-llama.gguf');
    writeTinyLlama(modelPath);
  }
  chat = await LlamaChat.load({ modelPath, gpu: false, threads: 1, sequences: 2 });
});

after(async () => {
  await chat?.dispose();
  tmp.cleanup();
});

describe('LlamaChat (node-llama-cpp, tiny LLaMA)', () => {
  test('streams the scripted sentence token by token', async () => {
    const pieces: string[] = [];
    const r = await chat.generate(msgs, { maxTokens: 50, onToken: (t) => pieces.push(t) });
    assert.equal(r.text, TINY_LLAMA_SENTENCE);
    assert.equal(pieces.join(''), TINY_LLAMA_SENTENCE);
    assert.ok(pieces.length >= 5, `streamed in ${pieces.length} pieces`);
    assert.equal(r.finishReason, 'stop');
    assert.ok(r.firstTokenMs! > 0);
    assert.equal(chat.info.kind, 'llama');
    assert.equal(chat.info.name, 'loupe-tiny-llama');
    assert.ok(chat.exactTokenCount && chat.countTokens('Hello from the') > 3 && chat.countTokens('') === 0);
  });

  test('maxTokens cuts the answer exactly', async () => {
    const r = await chat.generate(msgs, { maxTokens: 3 });
    assert.equal(r.text, 'Hello from the');
    assert.equal(r.finishReason, 'length');
    assert.equal(r.completionTokens, 3);
  });

  test('a stop string ends the answer before it', async () => {
    const r = await chat.generate(msgs, { maxTokens: 50, stop: [' tiny'] });
    assert.equal(r.text, 'Hello from the');
    assert.equal(r.finishReason, 'stop');
  });

  test('cancel stops generation mid-answer and frees the sequence', async () => {
    const ac = new AbortController();
    const pieces: string[] = [];
    await assert.rejects(
      chat.generate(msgs, {
        maxTokens: 50,
        signal: ac.signal,
        onToken: (t) => {
          pieces.push(t);
          if (pieces.length === 2) ac.abort();
        },
      }),
      (e: Error) => e.name === 'AbortError',
    );
    assert.ok(pieces.join('').length < TINY_LLAMA_SENTENCE.length, `stopped after "${pieces.join('')}"`);
    // Both sequences are free again: two answers at once.
    const [a, b] = await Promise.all([chat.generate(msgs, { maxTokens: 50 }), chat.generate(msgs, { maxTokens: 50 })]);
    assert.equal(a.text, TINY_LLAMA_SENTENCE);
    assert.equal(b.text, TINY_LLAMA_SENTENCE);
  });

  test('a request waiting for a sequence can be cancelled', async () => {
    const busy = [chat.generate(msgs, { maxTokens: 50 }), chat.generate(msgs, { maxTokens: 50 })];
    const ac = new AbortController();
    const third = chat.generate(msgs, { maxTokens: 50, signal: ac.signal });
    ac.abort();
    await assert.rejects(third, (e: Error) => e.name === 'AbortError');
    for (const r of await Promise.all(busy)) assert.equal(r.text, TINY_LLAMA_SENTENCE);
  });

  test('a missing model file is a model-missing error', async () => {
    await assert.rejects(
      LlamaChat.load({ modelPath: path.join(tmp.dir, 'nope.gguf'), gpu: false, threads: 1 }),
      (e: unknown) => e instanceof LoupeError && e.code === 'model-missing',
    );
  });

  test('a prompt larger than the context is a context-overflow error', async () => {
    const long: ChatMessage[] = [{ role: 'user', content: 'word '.repeat(3000) }];
    await assert.rejects(chat.generate(long, { maxTokens: 10 }), (e: unknown) => e instanceof LoupeError && e.code === 'context-overflow');
  });
});

describe('answerQuestion with the engine and the tiny LLaMA', () => {
  const proj = tempDir('loupe-ask-');
  let engine: Engine;

  before(async () => {
    writeTree(proj.dir, SAMPLE_PROJECT);
    engine = await openTestEngine(proj.dir);
    await engine.index();
  });

  after(async () => {
    await engine?.close();
    proj.cleanup();
  });

  test('citations map to the files and lines retrieved; events come in order', async () => {
    const events: AnswerEvent[] = [];
    const history = new ConversationHistory();
    const done = await answerQuestion({
      question: 'parse config file',
      retrieve: engineRetriever(engine),
      model: chat,
      history,
      k: 4,
      onEvent: (e) => events.push(e),
    });
    assert.equal(done.answer, TINY_LLAMA_SENTENCE);
    assert.equal(events[0]!.kind, 'citations');
    assert.equal(events.at(-1)!.kind, 'done');
    assert.ok(events.slice(1, -1).every((e) => e.kind === 'token'));
    assert.equal(
      events
        .filter((e) => e.kind === 'token')
        .map((e) => (e as { text: string }).text)
        .join(''),
      TINY_LLAMA_SENTENCE,
    );
    const cits = done.citations;
    assert.ok(cits.length >= 1 && cits.length <= 4);
    assert.deepEqual(
      cits.map((c) => c.n),
      cits.map((_, i) => i + 1),
    );
    const first = cits[0]!;
    assert.equal(first.path, 'src/config.ts');
    // The cited lines hold the code the hit names.
    const lines = readFileSync(path.join(proj.dir, first.path), 'utf8')
      .split('\n')
      .slice(first.startLine - 1, first.endLine)
      .join('\n');
    assert.match(lines, /function parseConfigFile/);
    for (const c of cits) {
      const text = readFileSync(path.join(proj.dir, c.path), 'utf8').split('\n');
      assert.ok(c.startLine >= 1 && c.endLine <= text.length, `${c.path}:${c.startLine}-${c.endLine} lies inside the file`);
    }
    assert.deepEqual(done.cited, [], 'the tiny model cites nothing');
    assert.equal(history.turns.length, 1);
  });

  test('a follow-up carries the bounded history into the prompt', async () => {
    const history = new ConversationHistory({ maxTurns: 1 });
    history.add('what parses config?', 'parseConfigFile [1]');
    history.add('and the sort?', 'QuickSort [1]');
    const seen: ChatMessage[][] = [];
    const spy = {
      ...chat,
      info: chat.info,
      exactTokenCount: true,
      countTokens: (t: string) => chat.countTokens(t),
      dispose: async () => undefined,
      generate: (m: ChatMessage[], o: Parameters<LlamaChat['generate']>[1]) => (seen.push(m), chat.generate(m, o)),
    };
    await answerQuestion({
      question: 'where is it used?',
      retrieve: engineRetriever(engine),
      model: spy,
      history,
      onEvent: () => undefined,
    });
    assert.deepEqual(
      seen[0]!.slice(1, 3).map((m) => m.content),
      ['and the sort?', 'QuickSort [1]'],
    );
    assert.equal(history.turns.length, 1);
    assert.equal(history.turns[0]!.question, 'where is it used?');
  });

  test('errors are events too: a question too long for the context', async () => {
    const events: AnswerEvent[] = [];
    await assert.rejects(
      answerQuestion({ question: 'why '.repeat(5000), retrieve: engineRetriever(engine), model: chat, onEvent: (e) => events.push(e) }),
    );
    assert.deepEqual(
      events.map((e) => e.kind),
      ['error'],
    );
    assert.equal((events[0] as { code: string }).code, 'context-overflow');
  });

  test('loupe ask streams the answer and lists the sources; --json gives one object', async () => {
    const out: string[] = [];
    const err: string[] = [];
    let streamed = '';
    const io = { out: (s: string) => out.push(s), err: (s: string) => err.push(s), isTTY: false, write: (s: string) => (streamed += s) };
    await engine.close();
    const common = ['--model', tinyBertPath(), '--llm', 'llama', '--llm-model', modelPath, '--threads', '1', '--cpu'];
    try {
      assert.equal(await main(['ask', proj.dir, 'parse config file', ...common], io), 0, err.join('\n'));
      assert.equal(streamed, `${TINY_LLAMA_SENTENCE}\n`);
      assert.equal(out[0], '\nSources:');
      assert.match(out[1]!, /^ {2}\[1\] src\/config\.ts:\d+-\d+ parseConfigFile/);
      assert.match(err[0]!, /answering with loupe-tiny-llama — in process/);
      out.length = 0;
      assert.equal(await main(['ask', proj.dir, 'parse config file', '--json', ...common], io), 0);
      const j = JSON.parse(out[0]!);
      assert.equal(j.answer, TINY_LLAMA_SENTENCE);
      assert.equal(j.citations[0].path, 'src/config.ts');
      assert.equal(j.model.kind, 'llama');
      // No chat model configured: the passages and how to get answers (test/ask-no-model.test.ts has the details).
      out.length = 0;
      const prev = process.env.LOUPE_CHAT_MODEL;
      const prevDir = process.env.LOUPE_MODELS_DIR;
      delete process.env.LOUPE_CHAT_MODEL;
      process.env.LOUPE_MODELS_DIR = path.join(proj.dir, 'no-models');
      try {
        assert.equal(await main(['ask', proj.dir, 'parse config file', '--model', tinyBertPath(), '--llm', 'llama', '--cpu'], io), 0);
      } finally {
        if (prev !== undefined) process.env.LOUPE_CHAT_MODEL = prev;
        if (prevDir !== undefined) process.env.LOUPE_MODELS_DIR = prevDir;
        else delete process.env.LOUPE_MODELS_DIR;
      }
      assert.match(out.join('\n'), /No GGUF chat model is available[\s\S]*\[1\] src\/config\.ts[\s\S]*How to get answers/);
      assert.equal(await main(['ask', proj.dir], io), 2);
    } finally {
      engine = await openTestEngine(proj.dir);
    }
  });
});

describe('ask through the engine process (in-process GGUF chat model)', () => {
  test('answer events, follow-ups by conversationId, errors as events, forgetConversation', async () => {
    const proj = tempDir('loupe-ask-ep-');
    writeTree(proj.dir, SAMPLE_PROJECT);
    const client = new EngineClient();
    const events: Extract<EventMessage, { event: 'answer' }>[] = [];
    client.onEvent((e) => e.event === 'answer' && events.push(e));
    const llm = { provider: 'llama' as const, model: modelPath, threads: 1, gpu: false as const };
    try {
      await client.open({ root: proj.dir, modelPath: tinyBertPath(), gpu: false, contexts: 1, threadsPerContext: 1 });
      await client.request('index', { jobId: 'i' });
      const r1 = await client.request('ask', { jobId: 'q1', question: 'parse config file', conversationId: 'c1', llm });
      assert.equal(r1.answer, TINY_LLAMA_SENTENCE);
      assert.equal(r1.model.kind, 'llama');
      assert.equal(r1.citations[0]!.path, 'src/config.ts');
      const q1 = events.filter((e) => e.jobId === 'q1');
      assert.deepEqual([q1[0]!.kind, q1.at(-1)!.kind], ['citations', 'done']);
      assert.equal(
        q1
          .filter((e) => e.kind === 'token')
          .map((e) => (e as { text: string }).text)
          .join(''),
        TINY_LLAMA_SENTENCE,
      );
      assert.equal(r1.model.name, 'loupe-tiny-llama');
      const r2 = await client.request('ask', { jobId: 'q2', question: 'and where is it called?', conversationId: 'c1', llm });
      assert.equal(r2.answer, TINY_LLAMA_SENTENCE);
      assert.deepEqual(await client.request('forgetConversation', { conversationId: 'c1' }), { forgotten: true });
      assert.deepEqual(await client.request('forgetConversation', { conversationId: 'c1' }), { forgotten: false });
      // Errors are answers too: an event, then a failed request with the code.
      await assert.rejects(
        client.request('ask', { jobId: 'q3', question: 'why '.repeat(5000), llm }),
        (e: unknown) => e instanceof LoupeError && e.code === 'context-overflow',
      );
      assert.deepEqual(
        events.filter((e) => e.jobId === 'q3').map((e) => [e.kind, (e as { code?: string }).code]),
        [['error', 'context-overflow']],
      );
      await assert.rejects(
        client.request('ask', { jobId: 'q4', question: 'hi', llm: { provider: 'llama', model: path.join(proj.dir, 'missing.gguf') } }),
        (e: unknown) => e instanceof LoupeError && e.code === 'model-missing',
      );
    } finally {
      await client.close();
      proj.cleanup();
    }
  });
});
