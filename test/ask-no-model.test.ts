// `loupe ask` without an answer model, and the model manager's answer-model section, through the
// built CLI with the real engine (bundled tiny BERT) and the real node-llama-cpp (generated tiny LLaMA).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TINY_LLAMA_SENTENCE, writeTinyLlama } from '../src/tools/tiny-llama.js';
import { REPO, SAMPLE_PROJECT, tempDir, tinyBertPath, writeTree } from './support/helpers.js';

const BIN = path.join(REPO, 'bin/loupe.js');

describe('loupe ask without an answer model (real process)', () => {
  let root: string;
  let modelsDir: string;
  let tinyLlama = path.join(REPO, 'models/generated/tiny-llama.gguf');
  let cleanup: () => void;
  const bert = tinyBertPath();
  // No LOUPE_CHAT_MODEL and an empty models folder: no answer model anywhere.
  const env = (): NodeJS.ProcessEnv => {
    const e: NodeJS.ProcessEnv = { ...process.env, LOUPE_MODELS_DIR: modelsDir };
    delete e.LOUPE_CHAT_MODEL;
    return e;
  };
  const loupe = (...args: string[]): { code: number; out: string; err: string } => {
    const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 180_000, env: env() });
    return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
  };

  before(() => {
    let dir: string;
    ({ dir, cleanup } = tempDir());
    root = path.join(dir, 'project');
    modelsDir = path.join(dir, 'models');
    mkdirSync(modelsDir);
    writeTree(root, SAMPLE_PROJECT);
    if (!existsSync(tinyLlama)) {
      tinyLlama = path.join(dir, 'tiny-llama.gguf');
      writeTinyLlama(tinyLlama);
    }
    const idx = loupe('index', root, '--model', bert, '--cpu');
    assert.equal(idx.code, 0, idx.err);
  });
  after(() => cleanup());

  test('prints the retrieved passages and how to get answers, exit 0', () => {
    const r = loupe('ask', root, 'how is the config file parsed?', '--model', bert, '--llm', 'llama', '--cpu');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^No answer model is available \(No GGUF chat model/);
    // The best passage first, with its lines quoted under the heading.
    assert.match(r.out, /\n\[1\] src\/config\.ts:\d+-\d+ {2}parseConfigFile {2}\(score \d\.\d{3}\)\n {6}\S/);
    assert.match(r.out, /How to get answers:/);
    for (const needle of [
      'Ollama',
      'LM Studio',
      'llama-server',
      '--llm openai --llm-url',
      'loupe models install qwen2.5-coder-1.5b-instruct --from <file.gguf>',
    ]) {
      assert.ok(r.out.includes(needle), `missing ${needle}:\n${r.out}`);
    }
    const j = loupe('ask', root, 'how is the config file parsed?', '--json', '--model', bert, '--llm', 'llama', '--cpu');
    assert.equal(j.code, 0, j.err);
    const o = JSON.parse(j.out) as { answer: unknown; noAnswerModel: string; passages: { path: string; text: string }[] };
    assert.equal(o.answer, null);
    assert.match(o.noAnswerModel, /No GGUF chat model/);
    assert.equal(o.passages[0]!.path, 'src/config.ts');
    assert.match(o.passages[0]!.text, /parseConfigFile/);
  });

  test('--llm-model names the right kind of model when the file is missing or is an embedding model', () => {
    const missing = loupe('ask', root, 'q', '--model', bert, '--llm-model', path.join(root, 'missing.gguf'), '--cpu');
    assert.equal(missing.code, 1);
    assert.match(missing.err, /^loupe ask: answer model not found: .*missing\.gguf \(--llm-model takes a chat\/instruct GGUF/);
    assert.doesNotMatch(missing.err, /needs a GGUF embedding model|\n\s+at /);
    const embed = loupe('ask', root, 'q', '--model', bert, '--llm-model', bert, '--cpu');
    assert.equal(embed.code, 1);
    assert.match(embed.err, /is an embedding model \(bert\); answers need a chat \(instruct\) model/);
    const notGguf = path.join(root, 'notes.gguf');
    writeFileSync(notGguf, 'not a model');
    const bad = loupe('ask', root, 'q', '--model', bert, '--llm-model', notGguf, '--cpu');
    assert.equal(bad.code, 1);
    assert.match(bad.err, /Not a GGUF model file: .*notes\.gguf .*needs an answer \(chat\/instruct\) model/);
    assert.doesNotMatch(bad.err, /needs an embedding model/);
  });

  test('models list has an answer-model section; a chat model installs from a file and then answers', () => {
    const list = loupe('models', 'list');
    assert.equal(list.code, 0, list.err);
    assert.match(list.out, /Answer models \(chat/);
    assert.match(list.out, /qwen2\.5-coder-1\.5b-instruct +~\s*\d+ MB {2}Q4_K_M GGUF {2}Apache-2\.0/);
    assert.match(list.out, /qwen2\.5-coder-3b-instruct +~\s*\d+ MB .*Qwen Research License/);
    assert.match(list.out, /https:\/\/huggingface\.co\/Qwen\/Qwen2\.5-Coder-1\.5B-Instruct-GGUF/);
    // Answer models are never downloaded by Loupe: install without --from says where to get the file.
    const noFrom = loupe('models', 'install', 'qwen2.5-coder-1.5b-instruct');
    assert.equal(noFrom.code, 1);
    assert.match(
      noFrom.err,
      /is an answer model: download qwen2\.5-coder-1\.5b-instruct-q4_k_m\.gguf from https:\/\/huggingface\.co\/.*--from <file\.gguf>/,
    );
    // Installing a GGUF from a file (here the generated tiny LLaMA standing in for the real one).
    const inst = loupe('models', 'install', 'qwen2.5-coder-1.5b-instruct', '--from', tinyLlama);
    assert.equal(inst.code, 0, inst.err);
    assert.match(inst.out, /Qwen2\.5-Coder-1\.5B-Instruct installed: /);
    const json = JSON.parse(loupe('models', 'list', '--json').out) as { id: string; kind: string; installed: unknown }[];
    assert.ok(json.find((m) => m.id === 'qwen2.5-coder-1.5b-instruct' && m.kind === 'chat')!.installed);
    assert.ok(
      json.filter((m) => m.kind === 'embedding').every((m) => !m.installed),
      'an answer model is not listed as an embedding model',
    );
    // `ask` now answers with it by default, and by id.
    for (const extra of [[], ['--llm-model', 'qwen2.5-coder-1.5b-instruct']]) {
      const a = loupe(
        'ask',
        root,
        'how is the config file parsed?',
        '--json',
        '--model',
        bert,
        '--llm',
        'llama',
        '--cpu',
        '--max-tokens',
        '32',
        ...extra,
      );
      assert.equal(a.code, 0, a.err);
      const o = JSON.parse(a.out) as { answer: string; model: { kind: string } };
      assert.equal(o.model.kind, 'llama');
      assert.equal(o.answer, TINY_LLAMA_SENTENCE);
    }
    assert.equal(loupe('models', 'remove', 'qwen2.5-coder-1.5b-instruct').code, 0);
    assert.equal(loupe('ask', root, 'q', '--model', bert, '--llm-model', 'qwen2.5-coder-1.5b-instruct', '--cpu').code, 1);
  });
});
