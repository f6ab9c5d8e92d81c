/**
 * Generates `tiny-llama.gguf`: a LLaMA-architecture chat model (SentencePiece vocabulary with
 * byte tokens, ChatML template) that answers every chat prompt with TINY_LLAMA_SENTENCE and then
 * `<|im_end|>`. It exists so streaming, `maxTokens` and abort handling can be tested through the
 * real llama.cpp runtime in well under a second. The `markdown` variant
 * (`tiny-llama-markdown.gguf`) answers TINY_LLAMA_MARKDOWN instead: bold, a list, inline code, a
 * fenced Python block and a citation, as a real model's answer is shaped, for the Ask panel's
 * rendering tests.
 *
 * How the chain is forced: block outputs (attention output, FFN down) are zero, so the final
 * hidden state is the last token's embedding. Each token of the sentence has a one-hot
 * embedding on its own "slot" dimension; every other token shares slot 0. `output.weight` maps
 * slot 0 to the sentence's first token, slot k to token k+1, and the last slot to `<|im_end|>`,
 * with a logit margin large enough that any sampler settings pick it. The next token depends only
 * on the current one, so every piece of a scripted answer is a distinct vocabulary entry: the
 * Markdown answer's pieces carry their own spaces, newlines and backticks (see scriptPieces).
 */
import { writeFileSync } from 'node:fs';
import { GgufWriter } from './gguf-writer.js';

/** What the model says to any chat prompt. */
export const TINY_LLAMA_SENTENCE = 'Hello from the tiny Loupe model.';

/** The sentence's tokens, in order. Each must be unique, because the next token depends only on the current one. */
export const TINY_LLAMA_SENTENCE_TOKENS: readonly string[] = ['Hello', '▁from', '▁the', '▁tiny', '▁Loupe', '▁model', '.'];

/** A scripted answer: its exact text, and the distinct vocabulary pieces it is generated as. */
export interface TinyLlamaScript {
  text: string;
  pieces: readonly string[];
}

/**
 * What the `markdown` variant says to any chat prompt: shaped like a real model's answer about the
 * e2e fixture's password.py, with a code line long enough to scroll in a narrow panel.
 */
export const TINY_LLAMA_MARKDOWN = [
  '**Passwords are salted and hashed with PBKDF2** before they are stored [1].',
  '',
  '- `hash_password` draws a random 16-byte salt and derives the digest.',
  '- `verify_password` recomputes it and compares in constant time.',
  '',
  '```python',
  'def verify_password(password: str, stored: str) -> bool:',
  '    salt_hex, digest_hex = stored.split(":")',
  '    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt_hex), 200_000)',
  '    return hmac.compare_digest(digest.hex(), digest_hex)',
  '```',
  '',
  'Both sides use 200,000 iterations, so a stored hash stays valid.',
].join('\n');

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

/**
 * Splits `text` into SentencePiece-style pieces, each a word with the whitespace before it
 * (spaces written as `▁`, newlines kept), merging a piece with the ones after it until it is
 * neither in `reserved` nor used before: the chain needs every piece to be a distinct token.
 */
export function scriptPieces(text: string, reserved: ReadonlySet<string>): string[] {
  const words = (text.match(/\s*\S+|\s+$/g) ?? []).map((w) => w.replaceAll(' ', '▁'));
  const pieces: string[] = [];
  const used = new Set(reserved);
  let current = '';
  for (const w of words) {
    current += w;
    if (used.has(current)) continue;
    used.add(current);
    pieces.push(current);
    current = '';
  }
  // A repeated tail joins the last piece (still distinct: nothing else used that longer text).
  if (current) {
    const last = `${pieces.pop() ?? ''}${current}`;
    if (used.has(last)) throw new Error(`tiny-llama: cannot make a distinct last piece for "${last}"`);
    pieces.push(last);
  }
  if (pieces.join('').replaceAll('▁', ' ') !== text) throw new Error('tiny-llama: the pieces do not spell the script');
  return pieces;
}

/** The Markdown answer as distinct pieces (none equal to a fixed vocabulary entry). */
export function markdownScript(): TinyLlamaScript {
  const fixed = buildTinyLlamaVocab({ text: '', pieces: [] }).tokens;
  return { text: TINY_LLAMA_MARKDOWN, pieces: scriptPieces(TINY_LLAMA_MARKDOWN, new Set(fixed)) };
}

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
  /** Ids of the script's pieces (TINY_LLAMA_SENTENCE_TOKENS by default), in order. */
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

/**
 * Builds the SentencePiece vocabulary with `script`'s pieces (the sentence by default); throws on
 * duplicate pieces, which would abort llama.cpp.
 */
export function buildTinyLlamaVocab(
  script: TinyLlamaScript = { text: TINY_LLAMA_SENTENCE, pieces: TINY_LLAMA_SENTENCE_TOKENS },
): TinyLlamaVocab {
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
  const sentenceIds = script.pieces.map((piece, i) => add(piece, TOKEN_TYPE.normal, -1 - i));
  EXTRA_PIECES.forEach((piece, i) => add(piece, TOKEN_TYPE.normal, -100 - i));
  const seen = new Set<string>();
  for (const t of tokens) {
    if (seen.has(t)) throw new Error(`tiny-llama vocab: duplicate token "${t}"`);
    seen.add(t);
  }
  const decoded = script.pieces.join('').replaceAll('▁', ' ');
  if (decoded !== script.text) throw new Error(`tiny-llama: sentence tokens decode to "${decoded}"`);
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
 * (a model that never stops, for throughput benchmarks). `markdown`: the model answers
 * TINY_LLAMA_MARKDOWN instead of the sentence.
 */
export function buildTinyLlamaGguf(opts: { loop?: boolean; markdown?: boolean } = {}): Buffer {
  const script = opts.markdown ? markdownScript() : undefined;
  const vocab = buildTinyLlamaVocab(script);
  // One slot per script piece plus slot 0, rounded up to a multiple of 64 (the sentence model keeps its 64).
  const d = Math.max(EMBEDDING_LENGTH, Math.ceil((vocab.sentenceIds.length + 1) / 64) * 64);
  const ff = FEED_FORWARD_LENGTH;
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
    name: opts.markdown ? 'loupe-tiny-llama-markdown' : opts.loop ? 'loupe-tiny-llama-loop' : 'loupe-tiny-llama',
    description: opts.markdown
      ? 'Generated chat model that always answers with the same Markdown (bold, a list, a Python block, a citation); for tests only.'
      : opts.loop
        ? undefined
        : `Generated chat model that always answers "${TINY_LLAMA_SENTENCE}"; for tests only.`,
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

/** Writes the tiny LLaMA model to `file` (`markdown`: the variant that answers TINY_LLAMA_MARKDOWN). */
export function writeTinyLlama(file: string, opts: { markdown?: boolean } = {}): void {
  writeFileSync(file, buildTinyLlamaGguf(opts));
}
