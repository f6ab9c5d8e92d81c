// Bundles the runnable entry points into dist/ and copies the wasm they load beside them.
// Native and ESM-only packages stay external: hnswlib-node finds its addon through `bindings`
// at run time, node-llama-cpp picks its per-platform binary package, and vscode is the host's.
import * as esbuild from 'esbuild';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

const require = createRequire(import.meta.url);
const external = ['vscode', 'hnswlib-node', 'node-llama-cpp', 'onnxruntime-node'];
const entries = [
  { in: 'src/engine-process/server.ts', out: 'engine-server' },
  { in: 'src/cli/run.ts', out: 'cli' },
  // `loupe search` through a running engine without loading the full CLI (bin/loupe.js tries it first).
  { in: 'src/cli/quick.ts', out: 'quick' },
  // loupe bench in its own process, forked by the extension's "Loupe: Run Benchmark" (bench-client.ts).
  { in: 'src/adapters/bench/bench-worker.ts', out: 'bench-worker' },
  // One ONNX Runtime session per worker thread, started by the engine's OnnxEmbedder (found beside the bundle).
  { in: 'src/adapters/onnx-worker.ts', out: 'onnx-worker' },
];

mkdirSync('dist/grammars', { recursive: true });
await esbuild.build({
  entryPoints: entries,
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  external,
  sourcemap: true,
  logLevel: 'warning',
  // Bundled CJS dependencies call require(); give the ESM bundle one.
  banner: {
    js: "import { createRequire as __loupeCreateRequire } from 'node:module'; const require = __loupeCreateRequire(import.meta.url);",
  },
});

// The VS Code extension: CommonJS, the format every VS Code (desktop, code-server) loads for `main`.
// It holds only the thin layer and the engine client; everything native runs in the engine process
// (dist/engine-server.mjs). `import.meta.url` has no CJS meaning: define it from __filename.
if (existsSync('src/extension/extension.ts')) {
  await esbuild.build({
    entryPoints: ['src/extension/extension.ts'],
    outfile: 'dist/extension.cjs',
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external,
    sourcemap: true,
    logLevel: 'warning',
    define: { 'import.meta.url': '__loupeImportMetaUrl' },
    banner: { js: "const __loupeImportMetaUrl = require('url').pathToFileURL(__filename).href;" },
  });
}

// The Ask panel's script with its Markdown renderer (markdown-it, highlight.js common languages):
// one file loaded by the webview under its CSP (nonce'd script, no CDN).
await esbuild.build({
  entryPoints: ['src/webview/qa-panel.js'],
  outfile: 'dist/webview/qa.js',
  bundle: true,
  platform: 'browser',
  target: 'es2022',
  format: 'iife',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
});
// Their licences travel with the bundle.
cpSync(path.join(path.dirname(require.resolve('markdown-it/package.json')), 'LICENSE'), 'dist/webview/markdown-it-LICENSE.txt');
cpSync(path.join(path.dirname(require.resolve('highlight.js/package.json')), 'LICENSE'), 'dist/webview/highlight.js-LICENSE.txt');

// The extension host loads no native module: onnxruntime-node (like node-llama-cpp) belongs to the engine process.
if (existsSync('dist/extension.cjs') && readFileSync('dist/extension.cjs', 'utf8').includes('onnxruntime-node')) {
  throw new Error('dist/extension.cjs refers to onnxruntime-node: the extension host must not load it (only the engine process does)');
}

// Grammars and web-tree-sitter's runtime, found at run time through the chunker's grammarDir.
const vscodeWasm = path.join(path.dirname(require.resolve('@vscode/tree-sitter-wasm/package.json')), 'wasm');
for (const f of readdirSync(vscodeWasm)) if (f.endsWith('.wasm')) cpSync(path.join(vscodeWasm, f), path.join('dist/grammars', f));
for (const f of readdirSync('native/grammars')) cpSync(path.join('native/grammars', f), path.join('dist/grammars', f));
const wts = path.join(path.dirname(require.resolve('web-tree-sitter')), 'tree-sitter.wasm');
if (existsSync(wts)) cpSync(wts, 'dist/tree-sitter.wasm');

// `loupe bench`'s report inlines Chart.js (with its licence) and measures cohesion on the labelled
// set; bundles find both beside them (src/adapters/bench/assets.ts).
mkdirSync('dist/report', { recursive: true });
const chartDist = path.dirname(require.resolve('chart.js'));
cpSync(path.join(chartDist, 'chart.umd.min.js'), 'dist/report/chart.umd.min.js');
cpSync(path.join(chartDist, '..', 'LICENSE.md'), 'dist/report/chart.js-LICENSE.md');
cpSync('data/cohesion', 'dist/cohesion', { recursive: true });
