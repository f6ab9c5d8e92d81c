// The layer rules of eslint.config.mjs and the webview type check (media/tsconfig.json) fire:
// each snippet is linted as if it were a file of that folder (ESLint's API, the repository's
// own config), and a webview script that posts a message outside the protocol fails tsc.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ESLint } from 'eslint';
import ts from 'typescript';
import { REPO } from './support/helpers.js';

const eslint = new ESLint({ cwd: REPO });

/** Messages of the layer rules for `code` linted as the file `rel`. */
async function layerErrors(rel: string, code: string): Promise<string[]> {
  const [r] = await eslint.lintText(code, { filePath: path.join(REPO, rel) });
  return r!.messages.filter((m) => m.ruleId === 'no-restricted-imports' || m.ruleId === 'no-restricted-syntax').map((m) => m.message);
}

describe('layer lint rules', () => {
  test('src/core: no VS Code API, no native package, no outer layer', async () => {
    assert.match(
      (await layerErrors('src/core/x.ts', "import * as vscode from 'vscode';\nexport const v = vscode;\n"))[0] ?? '',
      /headless/,
    );
    assert.match(
      (await layerErrors('src/core/x.ts', "import hnsw from 'hnswlib-node';\nexport const h = hnsw;\n"))[0] ?? '',
      /through ports/,
    );
    assert.match(
      (
        await layerErrors('src/core/x.ts', "import { EngineClient } from '../adapters/engine-client.js';\nexport const c = EngineClient;\n")
      )[0] ?? '',
      /outer layers/,
    );
    assert.deepEqual(await layerErrors('src/core/x.ts', "import { LoupeError } from './types.js';\nexport const e = LoupeError;\n"), []);
  });

  test('src/extension: no native package, no CLI, only the process clients of src/adapters', async () => {
    for (const pkg of ['hnswlib-node', 'web-tree-sitter', 'chokidar', 'node-llama-cpp', 'onnxruntime-node']) {
      assert.match(
        (await layerErrors('src/extension/x.ts', `import m from '${pkg}';\nexport const x = m;\n`))[0] ?? '',
        /loads no native module/,
        pkg,
      );
    }
    assert.match(
      (
        await layerErrors('src/extension/x.ts', "import { exportProjector } from '../cli/export.js';\nexport const x = exportProjector;\n")
      )[0] ?? '',
      /front end beside the CLI/,
    );
    assert.match(
      (
        await layerErrors('src/extension/x.ts', "import { openEngine } from '../adapters/open-engine.js';\nexport const x = openEngine;\n")
      )[0] ?? '',
      /only through the engine process/,
    );
    assert.match(
      (
        await layerErrors(
          'src/extension/x.ts',
          "import { ChokidarWatcher } from '../adapters/chokidar-watcher.js';\nexport const x = ChokidarWatcher;\n",
        )
      )[0] ?? '',
      /only through the engine process/,
    );
    assert.match(
      (await layerErrors('src/extension/x.ts', "import { Store } from '../core/store.js';\nexport const x = Store;\n"))[0] ?? '',
      /one writer/,
    );
    assert.match(
      (await layerErrors('src/extension/x.ts', "import { Engine } from '../core/engine.js';\nexport const x = Engine;\n"))[0] ?? '',
      /one writer/,
    );
    assert.deepEqual(
      await layerErrors('src/extension/x.ts', "import type { EngineStatus } from '../core/engine.js';\nexport type X = EngineStatus;\n"),
      [],
    );
    assert.deepEqual(
      await layerErrors(
        'src/extension/x.ts',
        "import { EngineClient } from '../adapters/engine-client.js';\nimport { runBenchForked } from '../adapters/bench/bench-client.js';\nimport { LoupeError } from '../core/types.js';\nexport const x = [EngineClient, runBenchForked, LoupeError];\n",
      ),
      [],
    );
  });

  test('src/adapters: no front end', async () => {
    assert.match(
      (await layerErrors('src/adapters/x.ts', "import { Loupe } from '../extension/loupe.js';\nexport const x = Loupe;\n"))[0] ?? '',
      /must not depend on a front end/,
    );
    assert.match(
      (await layerErrors('src/adapters/llm/x.ts', "import { runAsk } from '../../cli/ask.js';\nexport const x = runAsk;\n"))[0] ?? '',
      /must not depend on a front end/,
    );
    assert.match(
      (await layerErrors('src/adapters/x.ts', "import * as vscode from 'vscode';\nexport const x = vscode;\n"))[0] ?? '',
      /outside VS Code/,
    );
  });

  test('product code never imports or reads test/', async () => {
    for (const rel of ['src/cli/x.ts', 'src/core/x.ts', 'src/adapters/bench/x.ts', 'src/extension/x.ts', 'src/tools/x.ts']) {
      assert.match(
        (await layerErrors(rel, "import { REPO } from '../../test/support/helpers.js';\nexport const x = REPO;\n")).join('\n'),
        /never imports from test/,
        rel,
      );
    }
    assert.match(
      (
        await layerErrors(
          'src/adapters/bench/x.ts',
          "import * as path from 'node:path';\nexport const d = path.join('/pkg', 'test', 'fixtures', 'cohesion');\n",
        )
      )[0] ?? '',
      /never reads from test/,
    );
    assert.match((await layerErrors('src/adapters/x.ts', "export const d = 'test/bench/results';\n"))[0] ?? '', /never reads from test/);
    assert.match(
      (await layerErrors('src/adapters/x.ts', 'export const d = (root: string) => `${root}/test/fixtures/x.json`;\n'))[0] ?? '',
      /never reads from test/,
    );
    // A word list may still hold the word "test".
    assert.deepEqual(await layerErrors('src/tools/x.ts', "export const words = ['test', 'spec'];\n"), []);
    // Tests may of course read their fixtures.
    assert.deepEqual(
      await layerErrors('test/x.test.ts', "import * as path from 'node:path';\nexport const d = path.join('/repo', 'test', 'fixtures');\n"),
      [],
    );
  });
});

describe('Node scripts (scripts/, native/*/*.mjs, esbuild.mjs, bin/)', () => {
  test("are linted with Node's globals: URL, process and fetch pass, an undefined name does not", async () => {
    const code =
      "const u = new URL('file:///x');\nprocess.stdout.write(String(u) + typeof fetch + typeof Buffer);\nconsole.log(notDefined);\n";
    for (const rel of ['scripts/x.mjs', 'native/hnswlib/x.mjs', 'esbuild.mjs', 'bin/x.js']) {
      const [r] = await eslint.lintText(code, { filePath: path.join(REPO, rel) });
      assert.deepEqual(
        r!.messages.map((m) => `${m.ruleId}: ${m.message}`),
        ["no-undef: 'notDefined' is not defined."],
        rel,
      );
    }
  });
});

describe('webview type check (media/tsconfig.json)', () => {
  /** tsc diagnostics of `script` checked like src/webview/qa-panel.js (same options, same globals). */
  function diagnostics(script: string): string[] {
    const cfgPath = path.join(REPO, 'media', 'tsconfig.json');
    const cfg = ts.getParsedCommandLineOfConfigFile(
      cfgPath,
      {},
      { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => assert.fail(ts.flattenDiagnosticMessageText(d.messageText, '\n')) },
    )!;
    // Beside qa.js, so relative JSDoc imports resolve the same way.
    const dir = mkdtempSync(path.join(REPO, 'media', '.lint-test-'));
    try {
      const file = path.join(dir, 'probe.js');
      writeFileSync(file, script);
      const program = ts.createProgram([file, path.join(REPO, 'media', 'webview.d.ts')], cfg.options);
      return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  test('the Ask panel script (src/webview/qa-panel.js) passes; a message outside the protocol, or a wrong field, does not', () => {
    const ok =
      "// @ts-check\nconst vscode = acquireVsCodeApi();\nvscode.postMessage({ type: 'ask', question: 'where?' });\nvscode.postMessage({ type: 'open', turnId: 't', n: 1 });\n";
    assert.deepEqual(diagnostics(ok), []);
    const unknown = diagnostics("// @ts-check\nconst vscode = acquireVsCodeApi();\nvscode.postMessage({ type: 'eval', code: '1' });\n");
    assert.ok(
      unknown.some((m) => /not assignable/.test(m)),
      unknown.join('\n'),
    );
    const wrongField = diagnostics(
      "// @ts-check\nconst vscode = acquireVsCodeApi();\nvscode.postMessage({ type: 'open', turnId: 't', n: '1' });\n",
    );
    assert.ok(
      wrongField.some((m) => /not assignable/.test(m)),
      wrongField.join('\n'),
    );
    const badTurn = diagnostics(
      "// @ts-check\n/** @typedef {import('../../src/extension/qa-protocol.js').Turn} Turn */\n/** @param {Turn} t */\nfunction f(t) { return t.passages[0].txt; }\nf;\n",
    );
    assert.ok(
      badTurn.some((m) => /Property 'txt' does not exist/.test(m)),
      badTurn.join('\n'),
    );
  });
});
