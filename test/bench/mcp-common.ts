/**
 * What bench:mcp and bench:mcp-scale share: the agent-style queries, a CLI run timed from outside,
 * and an MCP SDK client on `loupe mcp`.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { REPO } from '../support/helpers.js';

/** The Loupe under test: this checkout, or BENCH_LOUPE (another checkout's bin/loupe.js, for before/after runs). */
const BIN = process.env.BENCH_LOUPE ? path.resolve(process.env.BENCH_LOUPE) : path.join(REPO, 'bin/loupe.js');

/** Natural-language queries like an agent's, over any code corpus. */
export const QUERIES = [
  'parse command line options',
  'load the model file from disk',
  'validate a JSON schema keyword',
  'watch a folder for file changes',
  'compile a regular expression for ignore patterns',
  'format an error message for the user',
  'tokenize the input text',
  'add a point to the nearest neighbour index',
  'resolve a relative path against the root',
  'report a lint problem with its location',
  'free native memory when disposing',
  'retry after a failure with a delay',
  'read environment variables for configuration',
  'serialize an object to a string',
  'compare two version numbers',
  'walk a directory tree recursively',
];

/** Runs `loupe <args>` in a fresh process, timed end to end. */
export function runCli(args: string[], env: NodeJS.ProcessEnv): { ms: number; code: number | null; out: string; err: string } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env, maxBuffer: 64 << 20 });
  return { ms: performance.now() - t0, code: r.status, out: r.stdout, err: r.stderr };
}

/** An MCP SDK client connected to `loupe mcp <root> [...extra]` over stdio. */
export async function mcpClient(root: string, env: NodeJS.ProcessEnv, name: string, extra: string[] = []): Promise<Client> {
  const c = new Client({ name, version: '1' });
  await c.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: [BIN, 'mcp', root, ...extra],
      env: env as Record<string, string>,
      stderr: 'ignore',
    }),
  );
  return c;
}
