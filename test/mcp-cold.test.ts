// `loupe mcp` on a folder it has never indexed, and on an index whose files changed while no engine
// ran: the MCP SDK's own Client over stdio, the tiny model. Before the fix, the engine's live
// watcher answered every sync as "up to date" (it reports changes from its start on only), so a
// folder with no index stayed empty for good, and an edit made while no engine ran was never seen.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { REPO, SAMPLE_PROJECT, tempDir, tinyBertPath, writeTree } from './support/helpers.js';
import { stopSharedEngine } from './support/shared-engine.js';

const BIN = path.join(REPO, 'bin/loupe.js');

type ToolResult = {
  content: { type: string; text: string }[];
  structuredContent?: { results?: { path: string; symbol: string | null }[]; index?: { fresh: boolean; note: string } };
  isError?: boolean;
};

describe('loupe mcp on a cold folder (MCP SDK client over stdio)', { skip: process.platform === 'win32' && 'Unix sockets' }, () => {
  const t = tempDir('loupe-mcp-cold-');
  const root = path.join(t.dir, 'repo');
  const runDir = path.join(t.dir, 'run');
  const env = { ...(process.env as Record<string, string>), LOUPE_RUN_DIR: runDir, LOUPE_BACKOFF: '0' };
  chmodSync(t.dir, 0o755);
  writeTree(root, SAMPLE_PROJECT);

  const stopEngine = (): Promise<void> => stopSharedEngine(root, runDir);

  after(async () => {
    await stopEngine();
    t.cleanup();
  });

  async function withServer<T>(work: (c: Client) => Promise<T>): Promise<T> {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN, 'mcp', root, '--model', tinyBertPath(), '--cpu'],
      env,
      stderr: 'pipe',
    });
    const client = new Client({ name: 'claude-code', version: '1.0.0' });
    await client.connect(transport);
    try {
      return await work(client);
    } finally {
      await client.close().catch(() => undefined);
    }
  }

  /** Searches (lexical: the tiny model's vectors carry little meaning) until `symbol` is first, at most 60 s. */
  async function searchUntil(c: Client, query: string, symbol: string): Promise<ToolResult[]> {
    const seen: ToolResult[] = [];
    for (const end = Date.now() + 60_000; Date.now() < end; ) {
      const r = (await c.callTool({ name: 'search', arguments: { query, k: 3, mode: 'lexical' } })) as ToolResult;
      assert.ok(!r.isError, r.content[0]?.text);
      seen.push(r);
      if (r.structuredContent?.results?.[0]?.symbol === symbol) return seen;
      await new Promise((res) => setTimeout(res, 500));
    }
    assert.fail(`${symbol} never came first: last answer ${JSON.stringify(seen.at(-1)?.content[0]?.text)}`);
  }

  test('a folder with no index: the first calls index it, and no answer before that claims to be up to date', async () => {
    await withServer(async (c) => {
      const seen = await searchUntil(c, 'sort a slice of integers in place', 'QuickSort');
      for (const r of seen.slice(0, -1))
        assert.doesNotMatch(r.content[0].text, /0 files, 0 chunks; up to date/, 'an empty index is not up to date with a folder of files');
      const status = (await c.callTool({ name: 'index_status', arguments: {} })) as ToolResult;
      assert.match(status.content[0].text, /files: 5\b/);
    });
  });

  test('a file changed while no engine ran is found once an engine starts again', async () => {
    await stopEngine();
    writeFileSync(
      path.join(root, 'src/ledger.ts'),
      'export function reconcileLedgerEntries(rows: number[]): number[] {\n  // reconcile the ledger entries, dropping the empty ones\n  return rows.filter((r) => r !== 0);\n}\n',
    );
    await withServer(async (c) => {
      await searchUntil(c, 'reconcile the ledger entries', 'reconcileLedgerEntries');
    });
  });
});
