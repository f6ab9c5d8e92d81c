// `loupe mcp` driven by the MCP SDK's own Client over StdioClientTransport (a real agent's side),
// on a small fixture repository with the tiny model: tool list and schemas, search that finds the
// expected function, a file edited on disk becoming findable, find_related, index_status, bad
// arguments answered with MCP errors, and two agents on one engine process.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { REPO, SAMPLE_PROJECT, tempDir, tinyBertPath, writeTree } from './support/helpers.js';
import { stopSharedEngine } from './support/shared-engine.js';

const BIN = path.join(REPO, 'bin/loupe.js');

interface Hit {
  path: string;
  startLine: number;
  endLine: number;
  symbol: string | null;
  language: string;
  score: number;
  snippet: string;
}

type ToolResult = {
  content: { type: string; text: string }[];
  structuredContent?: { results?: Hit[]; tokens?: number; engine?: string; index?: { note: string; fresh: boolean } };
  isError?: boolean;
};

describe('loupe mcp (MCP SDK client over stdio)', { skip: process.platform === 'win32' && 'Unix sockets' }, () => {
  let root: string;
  let env: Record<string, string>;
  const cleanups: (() => void)[] = [];
  const clients: Client[] = [];

  before(() => {
    const t = tempDir('loupe-mcp-');
    cleanups.push(t.cleanup);
    root = path.join(t.dir, 'repo');
    writeTree(root, SAMPLE_PROJECT);
    chmodSync(t.dir, 0o755);
    env = { ...(process.env as Record<string, string>), LOUPE_RUN_DIR: path.join(t.dir, 'run'), LOUPE_BACKOFF: '0' };
    // Index first (in process), so the first search does not wait on a cold index build.
    const r = spawnSync(process.execPath, [BIN, 'index', root, '--model', tinyBertPath(), '--cpu'], { encoding: 'utf8', env });
    assert.equal(r.status, 0, r.stderr);
  });

  after(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    // Stop the shared engine the server started (it would otherwise wait out its idle period).
    await stopSharedEngine(root, env.LOUPE_RUN_DIR);
    for (const f of cleanups) f();
  });

  async function connect(name: string): Promise<Client> {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN, 'mcp', root, '--model', tinyBertPath(), '--cpu'],
      env,
      stderr: 'pipe',
    });
    const client = new Client({ name, version: '1.0.0' });
    await client.connect(transport);
    clients.push(client);
    return client;
  }

  async function call(c: Client, name: string, args: Record<string, unknown>): Promise<ToolResult> {
    return (await c.callTool({ name, arguments: args })) as ToolResult;
  }

  test('lists search, find_related and index_status with schemas an agent can fill', async () => {
    const c = await connect('claude-code');
    const { tools } = await c.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), ['find_related', 'index_status', 'search']);
    const search = tools.find((t) => t.name === 'search')!;
    assert.deepEqual(search.inputSchema.required, ['query']);
    const props = search.inputSchema.properties as Record<string, { type?: string }>;
    for (const p of ['query', 'k', 'path', 'language', 'max_tokens']) assert.ok(props[p], `search has ${p}`);
    assert.equal(props.k.type, 'integer');
    assert.match(search.description ?? '', /grep/);
    assert.equal(search.annotations?.readOnlyHint, true);
    const related = tools.find((t) => t.name === 'find_related')!;
    assert.deepEqual(related.inputSchema.required, ['path']);
  });

  test('search finds the expected function, with its snippet, within the token budget', async () => {
    const c = await connect('claude-code');
    const r = await call(c, 'search', { query: 'parse the config file', k: 3 });
    assert.ok(!r.isError, r.content[0].text);
    const hits = r.structuredContent!.results!;
    assert.equal(hits[0].path, 'src/config.ts');
    assert.equal(hits[0].symbol, 'parseConfigFile');
    assert.match(hits[0].snippet, /export function parseConfigFile/);
    assert.match(r.content[0].text, /^src\/config\.ts:\d+-\d+ {2}parseConfigFile {2}\(typescript, score [\d.]+\)$/m);
    assert.match(r.content[0].text, /up to date with the files on disk/);

    // A small budget keeps fewer results and says so.
    const small = await call(c, 'search', { query: 'parse the config file', k: 5, max_tokens: 60 });
    assert.ok(small.structuredContent!.tokens! <= 60, `tokens ${small.structuredContent!.tokens}`);
    assert.ok(small.structuredContent!.results!.length < 5);

    // Filters: a language and a path glob.
    const py = await call(c, 'search', { query: 'parse the config file', k: 3, language: 'python' });
    assert.ok(py.structuredContent!.results!.length >= 1);
    assert.ok(py.structuredContent!.results!.every((h) => h.language === 'python'));
    const go = await call(c, 'search', { query: 'sort', k: 3, path: '*.go' });
    assert.ok(go.structuredContent!.results!.every((h) => h.path.endsWith('.go')));
  });

  test('a file edited on disk is findable at the next search', async () => {
    const c = await connect('codex');
    const before = await call(c, 'search', { query: 'reticulate the spline matrix', k: 3, mode: 'lexical' });
    assert.ok(!before.structuredContent!.results!.some((h) => h.path === 'src/spline.ts'));
    writeFileSync(
      path.join(root, 'src/spline.ts'),
      'export function reticulateSplineMatrix(m: number[][]): number[][] {\n  // reticulate the spline matrix row by row\n  return m.map((r) => r.slice().reverse());\n}\n',
    );
    // Lexical mode: the generated test model's vectors carry little meaning; BM25 shows the new text is indexed.
    const after = await call(c, 'search', { query: 'reticulate the spline matrix', k: 3, mode: 'lexical' });
    assert.equal(after.structuredContent!.results![0].path, 'src/spline.ts');
    assert.equal(after.structuredContent!.results![0].symbol, 'reticulateSplineMatrix');
  });

  test('with the live watcher, every edit searched at once is found (10 edits in a row, no full re-check)', async () => {
    const c = await connect('codex');
    const words = ['quaternion', 'bezier', 'voronoi', 'delaunay', 'fresnel', 'mandelbrot', 'sierpinski', 'lorenz', 'hilbert', 'peano'];
    for (const [i, w] of words.entries()) {
      // Each edit rewrites the same file: the previous word must be gone, the new one found.
      writeFileSync(
        path.join(root, 'src/edited.ts'),
        `export function ${w}Step${i}(x: number): number {\n  // ${w} step ${i}\n  return x + ${i};\n}\n`,
      );
      const r = await call(c, 'search', { query: `${w} step`, k: 3, mode: 'lexical' });
      assert.equal(r.structuredContent!.results![0]?.symbol, `${w}Step${i}`, `edit ${i} (${w}) not found at once`);
      assert.match(r.structuredContent!.index!.note, /up to date/);
      if (i > 0) {
        const old = await call(c, 'search', { query: `${words[i - 1]} step`, k: 3, mode: 'lexical' });
        assert.ok(
          !old.structuredContent!.results!.some((h) => h.symbol === `${words[i - 1]}Step${i - 1}`),
          `edit ${i}: the old text is still indexed`,
        );
      }
    }
    // A deleted file is gone at the next search too (and the fixture is as the later tests expect).
    unlinkSync(path.join(root, 'src/edited.ts'));
    const gone = await call(c, 'search', { query: `${words.at(-1)} step`, k: 3, mode: 'lexical' });
    assert.ok(!gone.structuredContent!.results!.some((h) => h.path === 'src/edited.ts'), 'the deleted file is still indexed');
  });

  test('with the live watcher, a new folder, its rename and its removal are searched at once', async () => {
    const c = await connect('claude-code');
    const found = async (query: string) =>
      (await call(c, 'search', { query, k: 3, mode: 'lexical' })).structuredContent!.results!.map((h) => `${h.path} ${h.symbol}`);
    mkdirSync(path.join(root, 'geo/sphere'), { recursive: true });
    writeFileSync(
      path.join(root, 'geo/sphere/haversine.ts'),
      'export function haversineDistance(a: number, b: number): number {\n  // haversine great circle distance\n  return a - b;\n}\n',
    );
    assert.ok(
      (await found('haversine great circle')).includes('geo/sphere/haversine.ts haversineDistance'),
      'the new folder is not indexed',
    );
    renameSync(path.join(root, 'geo'), path.join(root, 'geodesy'));
    const moved = await found('haversine great circle');
    assert.ok(moved.includes('geodesy/sphere/haversine.ts haversineDistance'), `the renamed folder is not indexed: ${moved}`);
    assert.ok(!moved.some((h) => h.startsWith('geo/')), `the old folder is still indexed: ${moved}`);
    rmSync(path.join(root, 'geodesy'), { recursive: true });
    assert.deepEqual(
      (await found('haversine great circle')).filter((h) => h.includes('haversine')),
      [],
      'the removed folder is still indexed',
    );
  });

  test('find_related returns other code, not the starting function', async () => {
    const c = await connect('cursor');
    const r = await call(c, 'find_related', { path: 'src/config.ts', line: 3, k: 3 });
    assert.ok(!r.isError, r.content[0].text);
    const hits = r.structuredContent!.results!;
    assert.ok(hits.length >= 1);
    assert.ok(!hits.some((h) => h.path === 'src/config.ts' && h.symbol === 'parseConfigFile'));
    const missing = await call(c, 'find_related', { path: 'src/nope.ts', line: 1 });
    assert.equal(missing.isError, true);
    assert.match(missing.content[0].text, /not in the index/);
  });

  test('bad arguments get MCP errors and the server keeps answering', async () => {
    const c = await connect('gemini-cli');
    const bad = async (args: Record<string, unknown>): Promise<string> => {
      try {
        const r = await call(c, 'search', args);
        assert.equal(r.isError, true, `expected an error for ${JSON.stringify(args)}`);
        return r.content[0].text;
      } catch (e) {
        return (e as Error).message;
      }
    };
    assert.match(await bad({}), /query/);
    assert.match(await bad({ query: 'x', k: 'many' }), /k/);
    assert.match(await bad({ query: 'x', k: 0 }), /k/);
    assert.match(await bad({ query: 'x', path: '!src' }), /path filter/i);
    assert.match(
      await c.callTool({ name: 'no_such_tool', arguments: {} }).then(
        (r) => ((r as ToolResult).isError ? (r as ToolResult).content[0].text : 'no error'),
        (e: Error) => e.message,
      ),
      /no_such_tool/,
    );
    // A cancelled call ends for the client; the server goes on answering.
    const ac = new AbortController();
    const pending = c.callTool({ name: 'search', arguments: { query: 'sort integers in place', k: 3 } }, undefined, { signal: ac.signal });
    ac.abort();
    await assert.rejects(pending, /abort/i);
    const ok = await call(c, 'search', { query: 'download a web page', k: 1 });
    assert.equal(ok.structuredContent!.results![0].path, 'src/http/client.py');
  });

  test('two agents share one engine process; index_status reports model, freshness and compute', async () => {
    const a = await connect('agent-a');
    const b = await connect('agent-b');
    const [sa, sb] = await Promise.all([call(a, 'index_status', {}), call(b, 'index_status', {})]);
    const pidOf = (r: ToolResult): number => Number(/PID (\d+)/.exec(r.content[0].text)?.[1]);
    assert.ok(pidOf(sa) > 0);
    assert.equal(pidOf(sa), pidOf(sb));
    assert.match(sa.content[0].text, /model: loupe-tiny-bert/);
    assert.match(sa.content[0].text, /files: [56]\n/, 'the fixture (and the file the edit test adds)');
    assert.match(sa.content[0].text, /compute: /);
    const ps = spawnSync('ps', ['-eo', 'args='], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter((l) => l.includes('--shared') && l.includes(root));
    assert.equal(ps.length, 1, ps.join('\n'));

    // A one-shot `loupe search` uses the same engine (and says so with --verbose); so does `status`.
    const s = spawnSync(process.execPath, [BIN, 'search', root, 'parse the config file', '-k', '2', '--json', '--verbose'], {
      encoding: 'utf8',
      env,
    });
    assert.equal(s.status, 0, s.stderr);
    assert.match(s.stderr, new RegExp(`searching in the running engine \\(PID ${pidOf(sa)}`));
    assert.equal((JSON.parse(s.stdout) as Hit[])[0].path, 'src/config.ts');
    const st = spawnSync(process.execPath, [BIN, 'status', root, '--json'], { encoding: 'utf8', env });
    assert.equal(st.status, 0, st.stderr);
    assert.equal((JSON.parse(st.stdout) as { engine: { pid: number } }).engine.pid, pidOf(sa));
  });
});
