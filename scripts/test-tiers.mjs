#!/usr/bin/env node
/**
 * The test tiers (docs/testing.md), chosen by what each compiled test file imports:
 *
 *   unit         its import graph (static and dynamic imports, require) reaches no native module,
 *                no real component (tree-sitter, the watcher, the MCP SDK, a browser, VS Code) and
 *                no child process or worker: pure core and extension logic.
 *   integration  every other out/test/*.test.js file.
 *
 *   node scripts/test-tiers.mjs list [unit|integration]   the files, with why each is integration
 *   node scripts/test-tiers.mjs run unit|integration [node --test options]
 *
 * `run unit` also loads scripts/unit-guard.mjs into every test process, which fails any native
 * module load, so a file misfiled by the graph fails loudly instead of quietly widening the tier.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TEST_DIR = path.join(REPO, 'out/test');

/** Bare specifiers that put a test in the integration tier, with the reason. */
const HEAVY = [
  [/^(node-llama-cpp|hnswlib-node|onnxruntime-node)(\/|$)/, 'native module'],
  [/\.node$/, 'native module'],
  [/^(web-tree-sitter|@vscode\/tree-sitter-wasm)(\/|$)/, 'tree-sitter'],
  [/^chokidar(\/|$)/, 'file watcher'],
  [/^@modelcontextprotocol\/sdk(\/|$)/, 'MCP SDK'],
  [/^playwright-core(\/|$)/, 'browser'],
  [/^vscode$/, 'VS Code host'],
  [/^(node:)?(child_process|worker_threads|cluster)$/, 'child process or worker'],
];

const IMPORT =
  /(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]|require\s*\(\s*['"]([^'"]+)['"]\s*\)/g;

const memo = new Map();

/** The first heavy import reachable from `file`, as a chain of files, or null. */
function heavyChain(file, visiting = new Set()) {
  if (memo.has(file)) return memo.get(file);
  if (visiting.has(file)) return null;
  visiting.add(file);
  let found = null;
  for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
    const spec = m[1] ?? m[2] ?? m[3] ?? m[4];
    if (spec.startsWith('.')) {
      const target = path.resolve(path.dirname(file), spec);
      if (!existsSync(target) || !target.endsWith('.js')) continue;
      const chain = heavyChain(target, visiting);
      if (chain) {
        found = [path.relative(REPO, target), ...chain];
        break;
      }
    } else {
      const hit = HEAVY.find(([rx]) => rx.test(spec));
      if (hit) {
        found = [`${spec} (${hit[1]})`];
        break;
      }
    }
  }
  visiting.delete(file);
  memo.set(file, found);
  return found;
}

/** Every compiled test file with its tier. */
export function classify() {
  if (!existsSync(TEST_DIR)) throw new Error(`${path.relative(REPO, TEST_DIR)} not found: build first (npm run build)`);
  return readdirSync(TEST_DIR)
    .filter((f) => f.endsWith('.test.js'))
    .sort()
    .map((f) => {
      const file = path.join(TEST_DIR, f);
      const chain = heavyChain(file);
      return { file: path.relative(REPO, file), tier: chain ? 'integration' : 'unit', why: chain ? chain.join(' → ') : '' };
    });
}

function main(argv) {
  const [cmd, tier, ...rest] = argv;
  if (cmd === 'list') {
    for (const t of classify()) if (!tier || t.tier === tier) console.log(`${t.tier.padEnd(12)} ${t.file}${t.why ? `  (${t.why})` : ''}`);
    return 0;
  }
  if (cmd === 'run' && (tier === 'unit' || tier === 'integration')) {
    const files = classify()
      .filter((t) => t.tier === tier)
      .map((t) => t.file);
    if (!files.length) {
      console.error(`test-tiers: no ${tier} test files`);
      return 1;
    }
    const guard = tier === 'unit' ? ['--import', pathToFileURL(path.join(REPO, 'scripts/unit-guard.mjs')).href] : [];
    const r = spawnSync(process.execPath, [...guard, '--test', ...rest, ...files], { cwd: REPO, stdio: 'inherit' });
    return r.status ?? 1;
  }
  console.error('usage: node scripts/test-tiers.mjs list [unit|integration] | run unit|integration [node --test options]');
  return 2;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exitCode = main(process.argv.slice(2));
