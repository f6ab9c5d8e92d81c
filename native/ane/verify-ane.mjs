#!/usr/bin/env node
// Mac verification of the Neural Engine path (Apple Silicon, arm64 Node, after `npm run build`,
// `swift build -c release` in native/ane and convert_coreml.py into models/coreml/all-MiniLM-L6-v2):
//   node native/ane/verify-ane.mjs
// Prints the helper's hello, MLComputePlan's device usage (how many ops Core ML places on the
// Neural Engine), the parity gate against the bundled GGUF (cosine mean/min over PARITY_TEXTS),
// and a throughput comparison ANE vs GGUF on the CPU. Exits 1 if the gate fails.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const out = (p) => import(path.join(repo, 'out/src', p));
const { AneClient, AneEmbedder, aneUnavailableReason, defaultAnePaths, PARITY_TEXTS } = await out('adapters/compute/ane-client.js');
const { ggufTokenizer } = await out('adapters/compute/ane-backend.js');
const { LlamaEmbedder } = await out('adapters/llama-embedder.js');
const { parityGate } = await out('core/compute/dispatcher.js');

const { helper, models } = defaultAnePaths(repo);
const why = aneUnavailableReason(helper, models);
if (why) {
  console.error(`cannot verify: ${why}`);
  process.exit(2);
}
const gguf = path.join(repo, 'models/all-MiniLM-L6-v2.Q8_0.gguf');
const { client, hello } = await AneClient.start(helper);
console.log('hello', JSON.stringify(hello));
if (hello.standIn) throw new Error('this is a stand-in, not the Core ML helper');
const loaded = await client.load(models);
console.log('loaded', JSON.stringify(loaded));
console.log('MLComputePlan', JSON.stringify(await client.plan()));
const cpu = await LlamaEmbedder.load({ modelPath: gguf, gpu: false, contexts: 1, threadsPerContext: 4 });
const tok = await ggufTokenizer(gguf);
const ane = new AneEmbedder(client, loaded, tok.tokenize, cpu.modelId, cpu.modelName, cpu.profile);
const ref = await cpu.embedDocuments(PARITY_TEXTS);
const cand = await ane.embedDocuments(PARITY_TEXTS);
const gate = parityGate(ref, cand);
console.log('parity', JSON.stringify(gate));
const texts = Array.from({ length: 256 }, (_, i) => PARITY_TEXTS[i % PARITY_TEXTS.length] + ` // ${i}`);
for (const [name, e] of [['GGUF on CPU (4 threads)', cpu], ['Core ML, CPU + Neural Engine', ane]]) {
  const t0 = performance.now();
  await e.embedDocuments(texts);
  console.log(`${name}: ${(texts.length / ((performance.now() - t0) / 1000)).toFixed(1)} texts/s`);
}
client.close();
await tok.dispose();
await cpu.dispose();
process.exit(gate.passed ? 0 : 1);
