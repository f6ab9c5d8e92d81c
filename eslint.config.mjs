// Layering is enforced here (ARCHITECTURE.md lists the invariants; test/lint-rules.test.ts shows
// each rule firing):
// - src/core is the headless engine: no VS Code API, no native/wasm package, no outer layer;
// - src/adapters hold the native pieces and run in the engine process or the CLI: no front end;
// - src/extension (the VS Code host) loads no native module: it talks to the engine process
//   through src/adapters/engine-client.ts and reads only pure modules;
// - product code (src/**) never imports or reads anything under test/;
// - the webview scripts (media/) are checked by tsc against the shared webview protocol
//   (media/tsconfig.json) and linted here as browser scripts;
// - the build and packaging scripts (scripts/, native/*/*.mjs, esbuild.mjs, bin/) are Node scripts.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const nativePackages = ['node-llama-cpp', 'onnxruntime-node', 'hnswlib-node', 'web-tree-sitter', 'chokidar', '@vscode/tree-sitter-wasm'];

/** Product code never imports test code (test helpers live in test/support). */
const noTestImports = { group: ['**/test/**'], message: 'Product code (src/) never imports from test/.' };

/** no-restricted-imports for one layer; every layer also gets `noTestImports` (a later config block replaces the rule's options, it does not merge them). */
const restrictImports = ({ paths = [], patterns = [] }) => ['error', { paths, patterns: [...patterns, noTestImports] }];

/** Product code reads no file under test/ (fixtures, benchmark results): what it needs at run time lives in data/, media/ or models/. */
const noTestReads = [
  'error',
  {
    selector: "CallExpression[callee.property.name=/^(join|resolve)$/] > Literal[value='test']",
    message: 'Product code (src/) never reads from test/: ship the file in data/ (or take its path as an option).',
  },
  {
    selector: 'Literal[value=/(^|\\/)test\\/(fixtures|bench|support)(\\/|$)/]',
    message: 'Product code (src/) never reads from test/: ship the file in data/ (or take its path as an option).',
  },
  {
    selector: 'TemplateElement[value.raw=/(^|\\/)test\\/(fixtures|bench|support)(\\/|$)/]',
    message: 'Product code (src/) never reads from test/: ship the file in data/ (or take its path as an option).',
  },
];

export default tseslint.config(
  {
    ignores: [
      'out/**',
      'dist/**',
      'node_modules/**',
      'test/fixtures/**',
      'models/**',
      'native/**/*',
      '!native/**/',
      '!native/**/*.mjs',
      'data/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-imports': restrictImports({}),
      'no-restricted-syntax': noTestReads,
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': restrictImports({
        paths: [
          { name: 'vscode', message: 'src/core must run headless: no VS Code API here.' },
          ...nativePackages.map((name) => ({ name, message: 'src/core takes native pieces through ports; import them in src/adapters.' })),
        ],
        patterns: [
          {
            group: ['**/adapters/**', '**/extension/**', '**/cli/**', '**/engine-process/**'],
            message: 'src/core must not depend on outer layers.',
          },
        ],
      }),
    },
  },
  {
    // Adapters run in the engine process and the CLI; front ends sit on top of them.
    files: ['src/adapters/**/*.ts'],
    rules: {
      'no-restricted-imports': restrictImports({
        paths: [{ name: 'vscode', message: 'src/adapters run outside VS Code (engine process, CLI): no VS Code API here.' }],
        patterns: [
          {
            group: ['**/extension/**', '**/cli/**', '**/engine-process/**'],
            message: 'src/adapters must not depend on a front end (src/extension, src/cli) or the engine process entry.',
          },
        ],
      }),
    },
  },
  {
    // The extension host loads no native module: everything native runs in the engine process.
    files: ['src/extension/**/*.ts'],
    rules: {
      'no-restricted-imports': restrictImports({
        paths: nativePackages.map((name) => ({
          name,
          message: 'The extension host loads no native module; the engine process does (talk to it through src/adapters/engine-client.ts).',
        })),
        patterns: [
          {
            group: ['**/cli/**', '**/engine-process/**'],
            message: 'src/extension is a front end beside the CLI: share code through src/core, and reach the engine through its client.',
          },
          {
            group: ['**/core/store.js', '**/core/store/*.js', '**/core/engine.js'],
            importNamePattern: '^(?!EngineStatus$|SearchMode$)',
            message: 'The engine process is the one writer (and opener) of an index: ask it through src/adapters/engine-client.ts.',
          },
          {
            // The two process clients are the only adapters the host may load (both fork a process and import nothing native).
            regex: '(^|/)adapters/(?!engine-client\\.js$|bench/bench-client\\.js$)',
            message:
              'src/extension reaches native pieces only through the engine process (src/adapters/engine-client.ts) or the bench worker (src/adapters/bench/bench-client.ts).',
          },
        ],
      }),
    },
  },
  {
    files: ['src/cli/**/*.ts', 'src/engine-process/**/*.ts'],
    rules: {
      'no-restricted-imports': restrictImports({
        paths: [{ name: 'vscode', message: 'Only src/extension uses the VS Code API.' }],
        patterns: [{ group: ['**/extension/**'], message: 'Only the VS Code host uses src/extension.' }],
      }),
    },
  },
  {
    // Build, packaging and test-runner scripts run on Node: its globals, nothing else (an undefined
    // name there used to surface only when the script ran, e.g. `URL` in scripts/package.mjs).
    files: ['scripts/**/*.mjs', 'native/**/*.mjs', 'test/**/*.mjs', '*.mjs', 'bin/**/*.js'],
    languageOptions: { globals: globals.node },
  },
  {
    // Webview and report scripts: plain browser scripts (types: media/tsconfig.json, run by `npm run lint`).
    files: ['media/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: { window: 'readonly', document: 'readonly', getComputedStyle: 'readonly', acquireVsCodeApi: 'readonly', Chart: 'readonly' },
    },
    rules: {
      // ES5 report script: `var` and plain functions are on purpose.
      'no-var': 'off',
    },
  },
);
