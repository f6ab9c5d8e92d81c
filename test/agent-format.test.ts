// What agents receive (src/core/agent-format.ts), the search filters agents pass (src/core/engine.ts filterTest),
// and agents' queries as a contention signal (ComputeController.noteAgentQuery → the scheduler's
// explanation), on plain inputs.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { estimateTokens, fitHits, freshnessLine, hitsText } from '../src/core/agent-format.js';
import { filterTest } from '../src/core/engine.js';
import { decide, initialMemory, reasonsFor } from '../src/core/compute/scheduler.js';
import { agentName, gpuBackendOf } from '../src/adapters/compute/compute.js';
import type { ContentionSample } from '../src/core/compute/signals.js';
import type { EngineStatus } from '../src/core/engine.js';
import type { SearchResult } from '../src/core/types.js';

const FILE = Array.from({ length: 200 }, (_, i) => `    line ${i + 1} of the file with some words`);
const hit = (
  path: string,
  startLine: number,
  endLine: number,
  score: number,
  symbol: string | null = null,
  language = 'typescript',
): SearchResult => ({ path, startLine, endLine, symbol, language, score });

describe('agent results', () => {
  test('hits keep rank order, carry their lines dedented, and stay within the token budget', () => {
    const results = [hit('a.ts', 10, 14, 0.9, 'alpha'), hit('b.ts', 1, 150, 0.8, 'beta'), hit('c.py', 3, 4, 0.7, null, 'python')];
    const big = fitHits(results, () => FILE, 100_000);
    assert.deepEqual(
      big.hits.map((h) => h.path),
      ['a.ts', 'b.ts', 'c.py'],
    );
    assert.equal(big.hits[0].snippet.split('\n')[0], 'line 10 of the file with some words');
    assert.equal(big.hits[0].snippet.split('\n').length, 5);
    // A 150-line hit is cut to the per-snippet cap.
    assert.equal(big.hits[1].truncated, true);
    assert.equal(big.dropped, 0);

    for (const budget of [40, 120, 400, 900]) {
      const fit = fitHits(results, () => FILE, budget);
      assert.ok(fit.tokens <= budget, `budget ${budget}: used ${fit.tokens}`);
      const text = hitsText(fit.hits);
      // The estimate the budget is kept in is the text's own (headers and fences included, within slack).
      assert.ok(estimateTokens(text) <= budget + 10 * fit.hits.length, `budget ${budget}: text ${estimateTokens(text)}`);
      if (fit.hits.length) assert.equal(fit.hits[0].path, 'a.ts');
      assert.equal(fit.hits.length + fit.dropped, 3);
    }
    assert.ok(fitHits(results, () => FILE, 40).hits.length < 3);
  });

  test('a file that cannot be read gives a header without a snippet; snippets can be turned off', () => {
    const fit = fitHits([hit('gone.ts', 1, 3, 0.5, 'f')], () => null, 1000);
    assert.equal(fit.hits[0].snippet, '');
    assert.equal(hitsText(fit.hits), 'gone.ts:1-3  f  (typescript, score 0.500)');
    assert.equal(fitHits([hit('a.ts', 1, 3, 0.5)], () => FILE, 1000, false).hits[0].snippet, '');
  });

  test('freshness says up to date, or why not', () => {
    const st = { files: 3, chunks: 9 } as EngineStatus;
    assert.match(freshnessLine(st, { fresh: true, scannedAgoMs: 5 }), /3 files, 9 chunks; up to date/);
    assert.match(
      freshnessLine(st, { fresh: false, reason: 'indexing: 2 of 10 changed files done', scannedAgoMs: 61_000 }),
      /may be stale: indexing: 2 of 10.*61 s ago/,
    );
  });
});

describe('search filters', () => {
  test('path globs and languages, as `loupe mcp` passes them', () => {
    const keep = (f: Parameters<typeof filterTest>[0], p: string, language: string) => filterTest(f)!(p, { language });
    assert.equal(filterTest({}), null);
    assert.equal(keep({ language: ['Python'] }, 'x/a.py', 'python'), true);
    assert.equal(keep({ language: ['Python'] }, 'x/a.ts', 'typescript'), false);
    assert.equal(keep({ path: 'src/**' }, 'src/a/b.ts', 'typescript'), true);
    assert.equal(keep({ path: 'src/**' }, 'test/a.ts', 'typescript'), false);
    assert.equal(keep({ path: '*.go', language: ['go'] }, 'deep/down/x.go', 'go'), true);
    assert.equal(keep({ path: '*.go', language: ['go'] }, 'deep/down/x.go.txt', 'text'), false);
    assert.equal(keep({ content: ['tests'] }, 'pkg/foo_test.go', 'go'), true);
    assert.equal(keep({ content: ['tests'] }, 'pkg/foo.go', 'go'), false);
  });
});

describe('agents as a contention signal', () => {
  const sample = (agents: ContentionSample['agents'], cpuOthers: number): ContentionSample => ({
    at: 0,
    cpuOthers,
    gpu: null,
    gpuHeldByOther: null,
    agents,
    llmServers: [],
    onBattery: null,
  });

  test('an agent querying Loupe reads "searching"; one only found running reads "active"', () => {
    const querying = sample(
      [
        { agent: 'claude', pid: 0, via: 'query', detail: 'searched Loupe 1 s ago' },
        { agent: 'codex', pid: 9, via: 'process', detail: 'process codex' },
      ],
      0.85,
    );
    assert.deepEqual(reasonsFor('cpu', querying).slice(0, 2), ['claude searching', 'codex active']);
    // The scheduler backs off on it like any agent signal, and says why.
    let mem = initialMemory(0);
    let d = decide(mem, 'cpu', { ...querying, at: 0 });
    mem = d.memory;
    d = decide(mem, 'cpu', { ...querying, at: 2000 });
    assert.match(d.explanation, /^backing off( hard)?: claude searching, codex active, CPU 85%$/);
  });

  test('MCP client names map to agent names', () => {
    assert.equal(agentName('mcp:claude-code'), 'claude');
    assert.equal(agentName('mcp:codex-mcp-client'), 'codex');
    assert.equal(agentName('mcp:gemini-cli-mcp-client'), 'gemini');
    assert.equal(agentName('vscode-chat'), 'copilot');
    assert.equal(agentName('mcp:Some Agent!'), 'some-agent');
    assert.equal(agentName('mcp:agent'), 'agent');
  });
});

describe('compute unit names', () => {
  test('the GPU backend is read from the unit the embedder reports, and CPU / Neural Engine have none', () => {
    assert.equal(gpuBackendOf('GPU: Metal'), 'metal');
    assert.equal(gpuBackendOf('GPU: CUDA'), 'cuda');
    assert.equal(gpuBackendOf('GPU: Vulkan'), 'vulkan');
    assert.equal(gpuBackendOf('GPU: rocm'), 'rocm');
    assert.equal(gpuBackendOf('CPU'), false);
    assert.equal(gpuBackendOf('Neural Engine (Core ML)'), false);
  });
});
