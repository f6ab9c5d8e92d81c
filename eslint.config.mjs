// Layering is enforced here: src/core is the headless engine and may import neither
// the VS Code API nor native/wasm packages; those live behind ports in src/adapters.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nativePackages = ['node-llama-cpp', 'onnxruntime-node', 'hnswlib-node', 'web-tree-sitter', 'chokidar', '@vscode/tree-sitter-wasm'];

export default tseslint.config(
  { ignores: ['out/**', 'dist/**', 'node_modules/**', 'test/fixtures/**', 'models/**', 'native/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [
          { name: 'vscode', message: 'src/core must run headless: no VS Code API here.' },
          ...nativePackages.map((name) => ({ name, message: 'src/core takes native pieces through ports; import them in src/adapters.' })),
        ],
        patterns: [
          { group: ['**/adapters/**', '**/extension/**', '**/cli/**'], message: 'src/core must not depend on outer layers.' },
        ],
      }],
    },
  },
  {
    // The extension host loads no native module; the embedding runtimes run in the engine process.
    files: ['src/extension/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: ['node-llama-cpp', 'onnxruntime-node'].map((name) => ({ name, message: 'Only the engine process loads embedding runtimes; the extension talks to it (src/adapters/engine-client.ts).' })),
        patterns: [{ group: ['**/onnx-embedder*', '**/onnx-worker*', '**/llama-embedder*', '**/open-engine*'], message: 'Only the engine process loads embedding runtimes.' }],
      }],
    },
  },
);
