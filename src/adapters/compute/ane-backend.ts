/**
 * Brings up the Neural Engine backend on Apple Silicon when the helper and the Core ML model are
 * installed: starts the helper, loads the model, runs the parity gate against the GGUF (once per
 * model and Core ML build; the verdict is kept in the index folder), and returns a routing backend
 * whose vectors may join the index only if the gate passed. Anything missing or failing: null,
 * with the reason logged; Loupe then stays on the GGUF backends.
 *
 * Verified only on a Mac (native/ane/README.md); on Linux this returns null at the first check.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { EmbedderPort, Logger } from '../../core/types.js';
import { AneClient, AneEmbedder, aneUnavailableReason, defaultAnePaths, runAneParityGate } from './ane-client.js';
import type { Backend } from './routing-embedder.js';

/** A [CLS] … [SEP] tokenizer from the GGUF's own vocabulary (node-llama-cpp, vocab only). */
export async function ggufTokenizer(modelPath: string): Promise<{ tokenize: (t: string) => number[]; dispose: () => Promise<void> }> {
  const mod = await import('node-llama-cpp');
  const llama = await mod.getLlama({ gpu: false, build: 'never', logLevel: mod.LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath, vocabOnly: true });
  const bos = model.tokens.bos;
  const sep = model.tokens.sep;
  return {
    tokenize: (t) => [...(bos !== null ? [bos] : []), ...model.tokenize(t, false), ...(sep !== null ? [sep] : [])].map(Number),
    dispose: () => model.dispose(),
  };
}

export async function tryAneBackend(opts: {
  gguf: EmbedderPort;
  modelPath: string;
  storeDir: string;
  packageRoot: string;
  logger?: Logger;
}): Promise<{ backend: Backend; close: () => Promise<void> } | null> {
  const { helper, models } = defaultAnePaths(opts.packageRoot);
  const why = aneUnavailableReason(helper, models);
  if (why) {
    opts.logger?.info(`compute: ${why}`);
    return null;
  }
  let client: AneClient | undefined;
  let tok: Awaited<ReturnType<typeof ggufTokenizer>> | undefined;
  try {
    const started = await AneClient.start(helper);
    client = started.client;
    const loaded = await client.load(models);
    if (loaded.dims !== opts.gguf.dimensions) throw new Error(`Core ML model has ${loaded.dims} dims, the GGUF ${opts.gguf.dimensions}`);
    tok = await ggufTokenizer(opts.modelPath);
    const ane = new AneEmbedder(client, loaded, tok.tokenize, opts.gguf.modelId, opts.gguf.modelName, opts.gguf.profile);
    const manifest = readFileSync(path.join(models, 'manifest.json'), 'utf8');
    const gate = await runAneParityGate(opts.gguf, ane, path.join(opts.storeDir, 'ane-parity.json'), manifest);
    opts.logger?.info(
      `compute: Neural Engine parity ${gate.passed ? 'passed' : 'FAILED'} (mean cosine ${gate.meanCosine.toFixed(5)}, min ${gate.minCosine.toFixed(5)}${gate.cached ? ', cached' : ''})${gate.passed ? '' : '; staying on the GGUF backend for this index'}`,
    );
    const t = tok;
    const c = client;
    return {
      backend: { unit: 'ane', embedder: ane, sharesIndex: gate.passed },
      close: async () => {
        c.close();
        await t.dispose();
      },
    };
  } catch (e) {
    opts.logger?.warn(`compute: Neural Engine backend not used: ${(e as Error).message}`);
    client?.close();
    await tok?.dispose();
    return null;
  }
}
