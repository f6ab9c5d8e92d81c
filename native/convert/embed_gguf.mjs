#!/usr/bin/env node
// Embeds texts with a GGUF through node-llama-cpp, for parity.py.
// Usage: node embed_gguf.mjs MODEL.gguf TEXTS.json OUT.json [threads]
// TEXTS.json is a JSON array of strings. OUT.json receives, per text, the token ids the
// embedding context feeds the model ([CLS] ... [SEP]) and the L2-normalised vector.
import { readFileSync, writeFileSync } from 'node:fs';

const [modelPath, textsPath, outPath, threadsArg] = process.argv.slice(2);
if (!modelPath || !textsPath || !outPath) {
  console.error('usage: node embed_gguf.mjs MODEL.gguf TEXTS.json OUT.json [threads]');
  process.exit(2);
}
const threads = Number(threadsArg ?? 2);
const texts = JSON.parse(readFileSync(textsPath, 'utf8'));
if (!Array.isArray(texts) || texts.some((t) => typeof t !== 'string')) {
  console.error(`${textsPath}: expected a JSON array of strings`);
  process.exit(2);
}

const { getLlama } = await import('node-llama-cpp');
// Threads set explicitly: node-llama-cpp's default oversubscribes small machines badly.
const llama = await getLlama({ gpu: false, maxThreads: threads });
const started = performance.now();
const model = await llama.loadModel({ modelPath });
const loadMs = performance.now() - started;
const ctx = await model.createEmbeddingContext({ threads, contextSize: model.trainContextSize });

const tk = model.fileInfo.metadata?.tokenizer?.ggml ?? {};
const addBos = tk.add_bos_token !== false;
const closing = tk.model === 'bert' ? model.tokens.sep : tk.add_eos_token ? model.tokens.eos : null;
const results = [];
const embedStarted = performance.now();
for (const text of texts) {
  // The sequence getEmbeddingFor builds: bos ([CLS] for WordPiece, <bos> for Gemma) + text +
  // the closing token the vocabulary adds (WordPiece's [SEP]; <eos> where add_eos_token is set).
  const ids = [...(addBos ? [model.tokens.bos] : []), ...model.tokenize(text, false), ...(closing != null ? [closing] : [])];
  const { vector } = await ctx.getEmbeddingFor(text);
  let norm = 0;
  for (const x of vector) norm += x * x;
  norm = Math.sqrt(norm) || 1;
  results.push({ ids, vector: Array.from(vector, (x) => x / norm) });
}
const embedMs = performance.now() - embedStarted;

writeFileSync(outPath, JSON.stringify({
  modelPath,
  threads,
  loadMs,
  embedMs,
  trainContextSize: model.trainContextSize,
  embeddingSize: model.embeddingVectorSize,
  poolingType: model.fileInfo.metadata?.[model.fileInfo.metadata?.general?.architecture]?.pooling_type ?? null,
  results,
}));
await ctx.dispose();
await model.dispose();
await llama.dispose();
