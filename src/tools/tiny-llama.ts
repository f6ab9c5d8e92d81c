/**
 * Generates `tiny-llama.gguf`: a LLaMA-architecture chat model (SentencePiece vocabulary with
 * byte tokens, ChatML template) that answers every chat prompt with TINY_LLAMA_SENTENCE and then
 * `<|im_end|>`. It exists so streaming, `maxTokens` and abort handling can be tested through the
 * real llama.cpp runtime in well under a second.
 *
 * How the chain is forced: block outputs (attention output, FFN down) are zero, so the final
 * hidden state is the last token's embedding. Each token of the sentence has a one-hot
 * embedding on its own "slot" dimension; every other token shares slot 0. `output.weight` maps
 * slot 0 to the sentence's first token, slot k to token k+1, and the last slot to `<|im_end|>`,
 * with a logit margin large enough that any sampler settings pick it.
 */
import { writeFileSync } from 'node:fs';
import { GgufWriter } from './gguf-writer.js';

/** What the model says to any chat prompt. */
export const TINY_LLAMA_SENTENCE = 'Hello from the tiny Loupe model.';

/** The sentence's tokens, in order. Each must be unique, because the next token depends only on the current one. */
export const TINY_LLAMA_SENTENCE_TOKENS: readonly string[] = ['Hello', '▁from', '▁the', '▁tiny', '▁Loupe', '▁model', '.'];

const EMBEDDING_LENGTH = 64;
const HEAD_COUNT = 4;
const FEED_FORWARD_LENGTH = 64;
const CONTEXT_LENGTH = 2048;
/** Logit of the forced token is LOGIT_WEIGHT × sqrt(EMBEDDING_LENGTH) (RMSNorm of a one-hot); others get 0. */
const LOGIT_WEIGHT = 10;

const CHATML_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}" +
  "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** llama.cpp token type ids (`llama_token_type`). */
const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, byte: 6 } as const;

/** Extra whole-word pieces so prompts tokenize into fewer byte tokens (cosmetic). */
const EXTRA_PIECES = ['▁', '▁system', '▁user', '▁assistant', 'system', 'user', 'assistant', '▁a', '▁is', '▁you'];

/** The generated vocabulary with the ids the chain needs. */
export interface TinyLlamaVocab {
  tokens: string[];
  types: number[];
  scores: number[];
  unkId: number;
  bosId: number;
  eosId: number;
  imStartId: number;
  imEndId: number;
  /** Ids of TINY_LLAMA_SENTENCE_TOKENS. */
  sentenceIds: number[];
}

/**
 * Writes the tokenizer metadata of the tiny vocabulary. `chat`: a ChatML chat model whose turns
 * end at <|im_end|> (EOS and EOT, BOS added, the template); otherwise the plain </s> EOS only
 * (enough for a prefill workload).
 */
export function addTinyLlamaTokenizer(w: GgufWriter, vocab: TinyLlamaVocab, chat: boolean): void {
  w.addString('tokenizer.ggml.model', 'llama');
  w.addString('tokenizer.ggml.pre', 'default');
  w.addStringArray('tokenizer.ggml.tokens', vocab.tokens);
  w.addF32Array('tokenizer.ggml.scores', vocab.scores);
  w.addI32Array('tokenizer.ggml.token_type', vocab.types);
  w.addU32('tokenizer.ggml.unknown_token_id', vocab.unkId);
  w.addU32('tokenizer.ggml.bos_token_id', vocab.bosId);
  if (!chat) {
    w.addU32('tokenizer.ggml.eos_token_id', vocab.eosId);
    return;
  }
  // ChatML ends a turn with <|im_end|>; making it EOS (and EOT) stops generation there.
  w.addU32('tokenizer.ggml.eos_token_id', vocab.imEndId);
  w.addU32('tokenizer.ggml.eot_token_id', vocab.imEndId);
  w.addBool('tokenizer.ggml.add_bos_token', true);
  w.addBool('tokenizer.ggml.add_eos_token', false);
  w.addString('tokenizer.chat_template', CHATML_TEMPLATE);
}

/** Builds the SentencePiece vocabulary (throws on duplicate pieces, which would abort llama.cpp). */
export function buildTinyLlamaVocab(): TinyLlamaVocab {
  const tokens: string[] = [];
  const types: number[] = [];
  const scores: number[] = [];
  const add = (piece: string, type: number, score = 0): number => {
    tokens.push(piece);
    types.push(type);
    scores.push(score);
    return tokens.length - 1;
  };
  const unkId = add('<unk>', TOKEN_TYPE.unknown);
  const bosId = add('<s>', TOKEN_TYPE.control);
  const eosId = add('</s>', TOKEN_TYPE.control);
  const imStartId = add('<|im_start|>', TOKEN_TYPE.control);
  const imEndId = add('<|im_end|>', TOKEN_TYPE.control);
  for (let b = 0; b < 256; b++) add(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, TOKEN_TYPE.byte);
  const sentenceIds = TINY_LLAMA_SENTENCE_TOKENS.map((piece, i) => add(piece, TOKEN_TYPE.normal, -1 - i));
  EXTRA_PIECES.forEach((piece, i) => add(piece, TOKEN_TYPE.normal, -100 - i));
  const seen = new Set<string>();
  for (const t of tokens) {
    if (seen.has(t)) throw new Error(`tiny-llama vocab: duplicate token "${t}"`);
    seen.add(t);
  }
  const decoded = TINY_LLAMA_SENTENCE_TOKENS.join('').replaceAll('▁', ' ');
  if (decoded !== TINY_LLAMA_SENTENCE) throw new Error(`tiny-llama: sentence tokens decode to "${decoded}"`);
  if (TINY_LLAMA_SENTENCE_TOKENS.length + 1 > EMBEDDING_LENGTH) throw new Error('tiny-llama: sentence longer than the slots');
  return { tokens, types, scores, unkId, bosId, eosId, imStartId, imEndId, sentenceIds };
}

/** The hyperparameters a llama.cpp LLaMA needs in its GGUF header. */
export interface LlamaShape {
  name: string;
  /** Optional `general.description`. */
  description?: string;
  /** `general.file_type`: 0 all F32, 1 mostly F16. */
  fileType: number;
  vocabSize: number;
  contextLength: number;
  /** Embedding width; every head is `width / heads` wide (and so is RoPE). */
  width: number;
  feedForward: number;
  blocks: number;
  heads: number;
}

/** Writes the LLaMA architecture header (no KV-head grouping, RMS-norm epsilon 1e-5). */
export function addLlamaHeader(w: GgufWriter, s: LlamaShape): void {
  w.addString('general.architecture', 'llama');
  w.addString('general.name', s.name);
  if (s.description) w.addString('general.description', s.description);
  w.addU32('general.file_type', s.fileType);
  w.addU32('llama.vocab_size', s.vocabSize);
  w.addU32('llama.context_length', s.contextLength);
  w.addU32('llama.embedding_length', s.width);
  w.addU32('llama.feed_forward_length', s.feedForward);
  w.addU32('llama.block_count', s.blocks);
  w.addU32('llama.attention.head_count', s.heads);
  w.addU32('llama.attention.head_count_kv', s.heads);
  w.addU32('llama.rope.dimension_count', s.width / s.heads);
  w.addF32('llama.attention.layer_norm_rms_epsilon', 1e-5);
}

/**
 * Serialises the whole model to GGUF bytes. `loop`: the sentence starts over instead of ending
 * (a model that never stops, for throughput benchmarks).
 */
export function buildTinyLlamaGguf(opts: { loop?: boolean } = {}): Buffer {
  const d = EMBEDDING_LENGTH;
  const ff = FEED_FORWARD_LENGTH;
  const vocab = buildTinyLlamaVocab();
  const n = vocab.tokens.length;

  // Slot of each token: sentence token k uses slot k + 1, everything else slot 0.
  const slotOf = new Map<number, number>(vocab.sentenceIds.map((id, k) => [id, k + 1]));
  const embd = new Float32Array(d * n);
  for (let id = 0; id < n; id++) embd[id * d + (slotOf.get(id) ?? 0)] = 1;

  // output.weight has shape [d, n]: row `id` holds the weights producing token id's logit.
  const output = new Float32Array(d * n);
  const chain = [...vocab.sentenceIds, opts.loop ? vocab.sentenceIds[0]! : vocab.imEndId];
  for (let slot = 0; slot < chain.length; slot++) output[chain[slot]! * d + slot] = LOGIT_WEIGHT;

  const w = new GgufWriter();
  addLlamaHeader(w, {
    name: opts.loop ? 'loupe-tiny-llama-loop' : 'loupe-tiny-llama',
    description: opts.loop ? undefined : `Generated chat model that always answers "${TINY_LLAMA_SENTENCE}"; for tests only.`,
    fileType: 0, // all F32
    vocabSize: n,
    contextLength: CONTEXT_LENGTH,
    width: d,
    feedForward: ff,
    blocks: 1,
    heads: HEAD_COUNT,
  });

  addTinyLlamaTokenizer(w, vocab, true);

  const zeros = (count: number): Float32Array => new Float32Array(count);
  const ones = (count: number): Float32Array => new Float32Array(count).fill(1);
  w.addTensor('token_embd.weight', [d, n], embd);
  w.addTensor('output_norm.weight', [d], ones(d));
  w.addTensor('output.weight', [d, n], output);
  w.addTensor('blk.0.attn_norm.weight', [d], ones(d));
  for (const proj of ['attn_q', 'attn_k', 'attn_v', 'attn_output']) {
    w.addTensor(`blk.0.${proj}.weight`, [d, d], zeros(d * d));
  }
  w.addTensor('blk.0.ffn_norm.weight', [d], ones(d));
  w.addTensor('blk.0.ffn_gate.weight', [d, ff], zeros(d * ff));
  w.addTensor('blk.0.ffn_up.weight', [d, ff], zeros(d * ff));
  w.addTensor('blk.0.ffn_down.weight', [ff, d], zeros(ff * d));
  return w.toBuffer();
}

/** Writes the tiny LLaMA model to `file`. */
export function writeTinyLlama(file: string): void {
  writeFileSync(file, buildTinyLlamaGguf());
}
