// The MLX path against a real mlx_lm.server (mlx[cpu] + mlx-lm from PyPI on Linux) serving a
// tiny scripted MLX model the tests write locally (test/support/mlx_tiny_model.py): exact
// streaming, maxTokens, stop, cancel, Content-Length, start/attach/stop-by-PID (never a server we
// did not start), idle stop and restart, a wedged server timing out, a server killed mid-stream,
// and `ask` through the engine process. One server for most tests, started once.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { EngineClient } from '../src/adapters/engine-client.js';
import { freePort, MlxServer } from '../src/adapters/llm/mlx-server.js';
import { MlxChat, openAnswerModel } from '../src/adapters/llm/open-answer-model.js';
import { OpenAiChat, probeServer } from '../src/adapters/llm/openai-chat.js';
import type { ChatMessage } from '../src/core/answer/types.js';
import type { EventMessage } from '../src/core/protocol.js';
import { LoupeError } from '../src/core/types.js';
import { REPO, SAMPLE_PROJECT, tempDir, tinyBertPath, writeTree } from './support/helpers.js';
import { makeTinyMlxModel, mlxPython, TINY_MLX_SENTENCE } from './support/mlx.js';
import { processAlive } from '../src/core/store.js';

const py = await mlxPython();
const skip = 'skip' in py ? py.skip : false;
const msgs: ChatMessage[] = [{ role: 'user', content: 'Say something.' }];

async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('mlx_lm.server (real, tiny scripted MLX model)', { skip }, () => {
  const tmp = tempDir('loupe-mlx-');
  const modelDir = path.join(tmp.dir, 'tiny-mlx');
  const env = { HF_HOME: path.join(tmp.dir, 'hf'), HF_HUB_OFFLINE: '1' };
  let python: string;
  let eosId: number;
  let server: MlxServer;
  /** Request fields that suppress the EOS: the tiny model then repeats its sentence until max_tokens. */
  let endless: Record<string, unknown>;

  before(async () => {
    python = (py as { python: string }).python;
    ({ eosId } = makeTinyMlxModel(python, modelDir));
    endless = { logit_bias: { [eosId]: -1000 } };
    const t0 = performance.now();
    server = await MlxServer.start({ python, model: modelDir, env, startTimeoutMs: 120_000 });
    console.log(`mlx_lm.server started in ${Math.round(performance.now() - t0)} ms (PID ${server.pid})`);
  });

  after(async () => {
    await server?.stop();
    if (server?.pid) assert.equal(processAlive(server.pid), false, 'the server we started is stopped');
    tmp.cleanup();
  });

  test('streams the scripted sentence; maxTokens and stop are exact', async () => {
    const chat = new OpenAiChat({ baseUrl: server.url, kind: 'mlx' });
    const pieces: string[] = [];
    const r = await chat.generate(msgs, { maxTokens: 50, onToken: (t) => pieces.push(t) });
    assert.equal(r.text, TINY_MLX_SENTENCE);
    assert.deepEqual(pieces, ['Hello', ' from', ' the', ' tiny', ' MLX', ' model', '.']);
    assert.equal(r.finishReason, 'stop');
    const cut = await chat.generate(msgs, { maxTokens: 3 });
    assert.deepEqual([cut.text, cut.finishReason], ['Hello from the', 'length']);
    const stopped = await chat.generate(msgs, { maxTokens: 50, stop: [' tiny'] });
    assert.deepEqual([stopped.text, stopped.finishReason], ['Hello from the', 'stop']);
    const endlessChat = new OpenAiChat({ baseUrl: server.url, extraBody: endless });
    const long = await endlessChat.generate(msgs, { maxTokens: 20 });
    assert.equal(long.finishReason, 'length');
    assert.ok(long.text.startsWith(`${TINY_MLX_SENTENCE}`) && long.text.length > TINY_MLX_SENTENCE.length);
  });

  test('POST requests carry Content-Length (the server refuses them without it)', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        `${server.url}/v1/chat/completions`,
        { method: 'POST', headers: { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ messages: msgs, max_tokens: 2 }));
    });
    assert.ok(status >= 400, `chunked POST without Content-Length answered ${status}`);
  });

  test('cancel closes the stream mid-answer; the server keeps serving', async () => {
    const chat = new OpenAiChat({ baseUrl: server.url, extraBody: endless });
    const ac = new AbortController();
    let text = '';
    const t0 = performance.now();
    await assert.rejects(
      chat.generate(msgs, {
        maxTokens: 100_000,
        signal: ac.signal,
        onToken: (t) => {
          text += t;
          if (text.length > 40) ac.abort();
        },
      }),
      (e: Error) => e.name === 'AbortError',
    );
    assert.ok(performance.now() - t0 < 30_000);
    assert.ok((await probeServer(server.url)).healthy);
    const r = await new OpenAiChat({ baseUrl: server.url }).generate(msgs, { maxTokens: 50 });
    assert.equal(r.text, TINY_MLX_SENTENCE);
  });

  test('a server found running is used and never stopped', async () => {
    const found = await MlxServer.attach(server.url);
    assert.ok(found);
    assert.equal(found.owned, false);
    assert.equal(found.pid, undefined);
    await found.stop();
    const { model, selection } = await openAnswerModel({ provider: 'mlx', url: server.url, python });
    assert.deepEqual([selection.kind, (selection as { start: boolean }).start], ['mlx', false]);
    assert.match(model.info.where, /already running/);
    assert.equal((await model.generate(msgs, { maxTokens: 50 })).text, TINY_MLX_SENTENCE);
    await model.dispose();
    assert.ok((await probeServer(server.url)).healthy, 'still running after stop() and dispose()');
    assert.ok(processAlive(server.pid!));
  });

  test('no server at the URL: a clear error, not a hang', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    await assert.rejects(
      new OpenAiChat({ baseUrl: url }).generate(msgs, { maxTokens: 5 }),
      (e: unknown) => e instanceof LoupeError && e.code === 'server-not-running',
    );
    await assert.rejects(
      openAnswerModel({ provider: 'openai', url }),
      (e: unknown) => e instanceof LoupeError && e.code === 'server-not-running' && e.message.includes(url),
    );
  });

  test('started by Loupe: stopped by PID when idle, restarted on demand; wedged → timeout; killed mid-stream → error', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const { model, selection } = await openAnswerModel({
      provider: 'mlx',
      url,
      python,
      model: modelDir,
      allowMlxAnywhere: true,
      idleStopMs: 300,
      serverEnv: env,
      startTimeoutMs: 120_000,
      idleTimeoutMs: 4000,
      extraBody: endless,
    });
    const chat = model as MlxChat;
    try {
      assert.deepEqual([selection.kind, (selection as { start: boolean }).start], ['mlx', true]);
      const pid1 = chat.currentServer!.pid!;
      assert.match(chat.info.where, new RegExp(`started by Loupe, PID ${pid1}`));
      assert.equal(chat.info.contextSize, 2048, 'context from the model folder config.json');
      const r = await chat.generate(msgs, { maxTokens: 7 });
      assert.equal(r.text, TINY_MLX_SENTENCE);
      await until(() => !processAlive(pid1), 10_000, 'the idle server to stop');
      // The next question starts a new server.
      assert.equal((await chat.generate(msgs, { maxTokens: 3 })).text, 'Hello from the');
      const pid2 = chat.currentServer!.pid!;
      assert.notEqual(pid2, pid1);

      // Wedged (SIGSTOP) mid-stream: the idle timeout ends the request.
      let text = '';
      let t0 = performance.now();
      await assert.rejects(
        chat.generate(msgs, {
          maxTokens: 100_000,
          onToken: (t) => {
            text += t;
            if (text.length > 20 && text.length < 40) process.kill(pid2, 'SIGSTOP');
          },
        }),
        (e: unknown) => e instanceof LoupeError && e.code === 'server-timeout',
      );
      const waited = performance.now() - t0;
      assert.ok(waited >= 3500 && waited < 20_000, `timed out after ${Math.round(waited)} ms`);
      process.kill(pid2, 'SIGCONT');

      // Killed (SIGKILL) mid-stream: an error, promptly.
      text = '';
      let killedAt = 0;
      t0 = performance.now();
      await assert.rejects(
        chat.generate(msgs, {
          maxTokens: 100_000,
          onToken: (t) => {
            text += t;
            if (!killedAt && text.length > 20) {
              killedAt = performance.now();
              process.kill(pid2, 'SIGKILL');
            }
          },
        }),
        (e: unknown) => e instanceof LoupeError && e.code === 'server-died' && /middle of an answer/.test(e.message),
      );
      assert.ok(killedAt > 0);
      assert.ok(performance.now() - killedAt < 3000, `error ${Math.round(performance.now() - killedAt)} ms after the kill`);
    } finally {
      await chat.dispose();
    }
    assert.equal(processAlive(chat.currentServer!.pid!), false);
  });

  test('a model mlx_lm.server cannot load is a model-missing error, and the server is stopped', async () => {
    const t0 = performance.now();
    await assert.rejects(
      MlxServer.start({ python, model: path.join(tmp.dir, 'no-such-model'), env, startTimeoutMs: 120_000 }),
      (e: unknown) => e instanceof LoupeError && e.code === 'model-missing' && e.message.includes('no-such-model'),
    );
    assert.ok(performance.now() - t0 < 60_000, 'reported as soon as the server said so, not at the start timeout');
  });

  test('a server Loupe started exits when its host process is SIGKILLed (no orphan)', async () => {
    const script = path.join(tmp.dir, 'host.mjs');
    const mod = path.join(REPO, 'out/src/adapters/llm/mlx-server.js');
    writeFileSync(
      script,
      `import { MlxServer } from ${JSON.stringify(mod)};
const s = await MlxServer.start({ python: ${JSON.stringify(python)}, model: ${JSON.stringify(modelDir)}, env: ${JSON.stringify(env)}, startTimeoutMs: 120000 });
console.log(s.pid);
process.kill(process.pid, 'SIGKILL');
`,
    );
    const out = await new Promise<string>((resolve) => execFile(process.execPath, [script], (_err, stdout) => resolve(stdout)));
    const pid = Number(out.trim());
    assert.ok(pid > 0, `host printed the server PID: ${out}`);
    await until(() => !processAlive(pid), 10_000, `server PID ${pid} to exit after its host died`);
  });

  test('ask through the engine process: answer events with citations, and cancel', async () => {
    const proj = tempDir('loupe-mlx-ask-');
    writeTree(proj.dir, SAMPLE_PROJECT);
    const client = new EngineClient({ env: { LOUPE_CHAT_MODEL: '' } });
    const events: EventMessage[] = [];
    client.onEvent((e) => events.push(e));
    try {
      await client.open({ root: proj.dir, modelPath: tinyBertPath(), gpu: false, contexts: 1, threadsPerContext: 1 });
      await client.request('index', { jobId: 'i1' });
      const res = await client.request('ask', {
        jobId: 'a1',
        question: 'parse config file',
        k: 3,
        llm: { provider: 'openai', url: server.url },
      });
      assert.equal(res.answer, TINY_MLX_SENTENCE);
      assert.equal(res.model.kind, 'openai');
      assert.equal(res.citations[0]!.path, 'src/config.ts');
      const mine = events.filter((e) => e.event === 'answer' && e.jobId === 'a1') as Extract<EventMessage, { event: 'answer' }>[];
      assert.equal(mine[0]!.kind, 'citations');
      assert.equal(mine.at(-1)!.kind, 'done');
      assert.equal(
        mine
          .filter((e) => e.kind === 'token')
          .map((e) => (e as { text: string }).text)
          .join(''),
        TINY_MLX_SENTENCE,
      );

      // Cancel mid-answer with the existing `cancel` request.
      const llm = { provider: 'openai' as const, url: server.url, extraBody: endless };
      const firstToken = new Promise<void>((resolve) =>
        client.onEvent((e) => e.event === 'answer' && e.jobId === 'a2' && e.kind === 'token' && resolve()),
      );
      const asking = client.request('ask', { jobId: 'a2', question: 'parse config file', maxTokens: 100_000, llm });
      await firstToken;
      assert.deepEqual(await client.request('cancel', { jobId: 'a2' }), { cancelled: true });
      await assert.rejects(asking, (e: Error) => e.name === 'AbortError');
      const last = events.filter((e) => e.event === 'answer' && e.jobId === 'a2').at(-1) as { kind: string; code?: string };
      assert.deepEqual([last.kind, last.code], ['error', 'cancelled']);
    } finally {
      await client.close();
      proj.cleanup();
    }
  });
});
