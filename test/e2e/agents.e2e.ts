// Loupe for agents in a real VS Code host (code-server with the packaged VSIX): the language-model
// tool (`loupe_search`) and the MCP server definition provider (`loupe.mcpServers`) are registered.
//
// What is observable here, and checked: the VSIX's manifest contributes both; the extension, once
// active in a trusted workspace, logs the one line "offered to agents: …" naming what it registered
// through `vscode.lm.registerTool` and `vscode.lm.registerMcpServerDefinitionProvider` (read from
// the extension host's log files under the user-data folder), which it writes after both calls
// returned.
//
// What cannot be exercised without a chat model: a chat participant (Copilot agent mode) choosing
// and invoking the tool, the tool-confirmation UI, and VS Code starting the listed MCP server on a
// chat request. code-server ships no chat model, and the suite turns AI features off
// (`chat.disableAIFeatures`). The tool's code path (search → snippets within a token budget) and
// the MCP server itself are covered by test/mcp.test.ts and test/agent-format.test.ts instead.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { REPO, tempDir, writeTree } from '../support/helpers.js';
import { closeWorkbench, hostVsix, missingSetup, openWorkbench, startCodeServer, waitForStatus, type CodeServer } from './harness.js';

const VSIX = hostVsix(REPO);

/** Every log file under `dir` (the extension host's output channels are files there). */
function logFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.log')) out.push(p);
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

/** The "offered to agents" line from Loupe's log, once it is written. */
async function offeredLine(server: CodeServer, timeoutMs: number): Promise<{ line: string; log: string }> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    for (const f of logFiles(path.join(server.userDataDir, 'logs'))) {
      const text = readFileSync(f, 'utf8');
      const line = text.split('\n').find((l) => l.includes('offered to agents:'));
      if (line) return { line, log: text };
    }
    if (Date.now() > end)
      throw new Error(`no "offered to agents" line in ${logFiles(path.join(server.userDataDir, 'logs')).join(', ') || 'any log file'}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('Loupe for agents in a real VS Code (code-server)', { skip: missingSetup(VSIX) }, () => {
  let server: CodeServer;
  let browser: Browser;
  let page: Page;
  const cleanups: (() => void)[] = [];

  before(async () => {
    const { dir, cleanup } = tempDir('loupe-e2e-agents-');
    cleanups.push(cleanup);
    writeTree(dir, {
      'src/retry.ts':
        'export async function retry<T>(fn: () => Promise<T>, attempts = 3): Promise<T> {\n  let last: unknown;\n  for (let i = 0; i < attempts; i++) {\n    try {\n      return await fn();\n    } catch (e) {\n      last = e;\n    }\n  }\n  throw last;\n}\n',
      '.vscode/settings.json': JSON.stringify({ 'loupe.compute.backoff': false }),
    });
    server = await startCodeServer({ vsix: VSIX, workspace: dir });
    ({ browser, page } = await openWorkbench(server, dir));
  });

  after(() => closeWorkbench(browser, server, cleanups));

  test('the VSIX manifest contributes the language-model tool and the MCP server definition provider', () => {
    const manifest = JSON.parse(execFileSync('unzip', ['-p', VSIX, 'extension/package.json'], { encoding: 'utf8' })) as {
      contributes: {
        languageModelTools?: {
          name: string;
          toolReferenceName?: string;
          modelDescription?: string;
          inputSchema?: { required?: string[] };
        }[];
        mcpServerDefinitionProviders?: { id: string; label: string }[];
      };
    };
    const tool = manifest.contributes.languageModelTools?.find((t) => t.name === 'loupe_search');
    assert.ok(tool, 'loupe_search is contributed');
    assert.equal(tool.toolReferenceName, 'loupeSearch');
    assert.match(tool.modelDescription ?? '', /grep/, 'the description tells a model when to use grep instead');
    assert.deepEqual(tool.inputSchema?.required, ['query']);
    assert.deepEqual(manifest.contributes.mcpServerDefinitionProviders, [{ id: 'loupe.mcpServers', label: 'Loupe' }]);
  });

  test('in a trusted workspace the extension registers both with vscode.lm (its log says what it offered)', async () => {
    // The extension is active once its status bar item shows.
    await waitForStatus(page, (t) => /Loupe/.test(t), 120_000);
    const { line, log } = await offeredLine(server, 60_000);
    assert.match(line, /language-model tool loupe_search/, `the tool is registered: ${line}`);
    assert.match(line, /MCP server definitions \(loupe\.mcpServers\)/, `the MCP provider is registered: ${line}`);
    assert.doesNotMatch(log, /no language-model tool API|no MCP server definition API/);
  });
});
