/**
 * Generates `loupe-tiny-bert.gguf`: a deterministic BERT-architecture embedding model whose
 * mean-pooled output is a bag-of-tokens vector. It is Loupe's default model until a real one
 * ships, so its WordPiece vocabulary is built for code search: `parseConfigFile` lowercases and
 * splits into parse + config + file, sharing vectors with the query "parse config file".
 *
 * How the network becomes a bag of tokens ("identity layers"): attention output and FFN down
 * projections are zero, so each layer adds nothing to its residual input; position and
 * token-type embeddings are zero; every LayerNorm has weight 1, bias 0 and a large epsilon
 * (1.0). Token vectors are zero-mean with norm ≤ 1, so their variance (≤ 1/dims) is tiny next to
 * epsilon and each LayerNorm is almost exactly a no-op: a token's output is its own vector, and
 * small-norm vectors (stop words, keywords) stay small. With the usual 1e-12 epsilon every
 * token would be rescaled to the same norm.
 */
import { writeFileSync } from 'node:fs';
import { seededRandom } from '../core/bench/stats.js';
import { GgufWriter } from './gguf-writer.js';
import { HAND_WORDS, KEYWORDS, MINED_WORDS, STOP_WORDS, SYNONYM_GROUPS } from './vocab-words.js';

/** Embedding dimensions of the generated model. */
export const TINY_BERT_DIMENSIONS = 256;
/** Maximum input length in tokens (specials included). */
export const TINY_BERT_CONTEXT_LENGTH = 512;
/** The marker llama.cpp's WordPiece tokenizer expects on word-initial pieces. */
export const WORD_START = '\u2581';

const SEED = 'loupe-tiny-bert-v1';
const FEED_FORWARD_LENGTH = TINY_BERT_DIMENSIONS;
const HEAD_COUNT = 4;
/** Norm of stop-word, keyword and single-character vectors relative to content words. */
const MINOR_NORM = 0.15;
/** Noise added to a group's shared vector: cosine within a group ≈ 1 / (1 + NOISE²) = 0.8. */
const GROUP_NOISE = 0.5;
/** Noise added to a stem's vector for its inflections (parsed, parsing → parse): cosine ≈ 0.9. */
const INFLECTION_NOISE = 0.5;

const SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;
const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';
const CHARACTERS = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** llama.cpp token type ids (`llama_token_type`). */
const TOKEN_TYPE_NORMAL = 1;
const TOKEN_TYPE_CONTROL = 3;

/** How a token's vector is derived; exported for tests and diagnostics. */
export type TokenKind = 'special' | 'punctuation' | 'character' | 'minor' | 'group' | 'inflection' | 'word';

/** The generated vocabulary. */
export interface TinyBertVocab {
  /** Token strings by id. */
  tokens: string[];
  /** Token id by string. */
  ids: Map<string, number>;
  /** The whole words (each present as `▁word` and `word`). */
  words: string[];
  padId: number;
  unkId: number;
  clsId: number;
  sepId: number;
  maskId: number;
}

function splitWords(text: string): string[] {
  return text.split(/\s+/).filter((w) => w.length > 0);
}

/** 32-bit FNV-1a hash of a string, used to seed one PRNG per word. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * A unit vector, zero-mean across dimensions (LayerNorm subtracts the mean, so only such
 * vectors pass through unchanged), seeded by `label` alone so a word keeps its vector when
 * the vocabulary around it changes.
 */
export function seededUnitVector(label: string, dims = TINY_BERT_DIMENSIONS): Float64Array {
  const rand = seededRandom(fnv1a(`${SEED}:${label}`));
  const v = new Float64Array(dims);
  for (let i = 0; i < dims; i += 2) {
    // Box–Muller: two independent standard normals per pair of uniforms.
    const u = 1 - rand();
    const r = Math.sqrt(-2 * Math.log(u));
    const theta = 2 * Math.PI * rand();
    v[i] = r * Math.cos(theta);
    if (i + 1 < dims) v[i + 1] = r * Math.sin(theta);
  }
  return normalizeZeroMean(v);
}

function normalizeZeroMean(v: Float64Array, norm = 1): Float64Array {
  let mean = 0;
  for (const x of v) mean += x;
  mean /= v.length;
  let sq = 0;
  for (let i = 0; i < v.length; i++) {
    v[i] = v[i]! - mean;
    sq += v[i]! * v[i]!;
  }
  const scale = norm / Math.sqrt(sq);
  for (let i = 0; i < v.length; i++) v[i] = v[i]! * scale;
  return v;
}

function mix(base: Float64Array, noiseLabel: string, noise: number): Float64Array {
  const n = seededUnitVector(noiseLabel, base.length);
  const out = new Float64Array(base.length);
  for (let i = 0; i < base.length; i++) out[i] = base[i]! + noise * n[i]!;
  return normalizeZeroMean(out);
}

/** Word lists after validation: the sets that decide each word's vector. */
interface WordPlan {
  words: string[];
  minor: Set<string>;
  groupOf: Map<string, number>;
}

function planWords(): WordPlan {
  const minor = new Set([...splitWords(STOP_WORDS), ...splitWords(KEYWORDS)]);
  const groupOf = new Map<string, number>();
  SYNONYM_GROUPS.forEach((group, index) => {
    for (const word of group) {
      const previous = groupOf.get(word);
      if (previous !== undefined) {
        throw new Error(`tiny-bert vocab: "${word}" is in synonym groups ${previous} and ${index}`);
      }
      if (minor.has(word)) throw new Error(`tiny-bert vocab: "${word}" is both a synonym and a stop word/keyword`);
      groupOf.set(word, index);
    }
  });
  const all = [...splitWords(HAND_WORDS), ...SYNONYM_GROUPS.flat(), ...minor, ...splitWords(MINED_WORDS)];
  const seen = new Set<string>();
  const candidates: string[] = [];
  for (const word of all) {
    if (!/^[a-z]+$/.test(word)) throw new Error(`tiny-bert vocab: "${word}" is not a lowercase ASCII word`);
    // Single letters exist already as character pieces.
    if (word.length < 2 || seen.has(word)) continue;
    seen.add(word);
    candidates.push(word);
  }
  // Plain plurals are left out on purpose: greedy WordPiece then reads `users` as user + s,
  // so singular and plural match. Listed words (groups, stop words) are kept as they are.
  const words = candidates.filter(
    (w) => !(w.endsWith('s') && w.length >= 4 && seen.has(w.slice(0, -1)) && !groupOf.has(w) && !minor.has(w)),
  );
  return { words, minor, groupOf };
}

/** The stem a word inflects, if the vocabulary has it (parsed → parse, mapping → map). */
function stemOf(word: string, known: Set<string>): string | null {
  const suffixes = ['ing', 'ed', 'ers', 'er', 'es', 's'];
  for (const suffix of suffixes) {
    if (!word.endsWith(suffix)) continue;
    const stem = word.slice(0, -suffix.length);
    if (stem.length < 3) continue;
    const doubled = stem.length >= 4 && stem[stem.length - 1] === stem[stem.length - 2] ? stem.slice(0, -1) : null;
    for (const candidate of [stem, `${stem}e`, doubled]) {
      if (candidate && candidate !== word && known.has(candidate)) return candidate;
    }
  }
  return null;
}

/** Builds the WordPiece vocabulary (deterministic; throws on any duplicate token). */
export function buildTinyBertVocab(): TinyBertVocab {
  const { words } = planWords();
  const tokens: string[] = [...SPECIAL_TOKENS];
  // WPM splits punctuation into one-character words, then looks them up with the marker.
  for (const p of PUNCTUATION) tokens.push(WORD_START + p);
  for (const c of CHARACTERS) tokens.push(WORD_START + c);
  for (const c of CHARACTERS) tokens.push(c);
  for (const w of words) tokens.push(WORD_START + w, w);
  const ids = new Map<string, number>();
  tokens.forEach((t, id) => {
    // llama.cpp aborts the process on duplicate token strings, so refuse them here.
    if (ids.has(t)) throw new Error(`tiny-bert vocab: duplicate token "${t}"`);
    ids.set(t, id);
  });
  return { tokens, ids, words, padId: 0, unkId: 1, clsId: 2, sepId: 3, maskId: 4 };
}

/** The vectors (rows of `token_embd.weight`) and each token's kind. */
export function buildTinyBertEmbeddings(vocab: TinyBertVocab): { vectors: Float32Array; kinds: TokenKind[] } {
  const dims = TINY_BERT_DIMENSIONS;
  const { minor, groupOf } = planWords();
  const known = new Set(vocab.words);
  const groupBases = SYNONYM_GROUPS.map((g) => seededUnitVector(`group:${g[0]}`));
  const cache = new Map<string, { kind: TokenKind; v: Float64Array | null }>();

  const wordVector = (word: string): { kind: TokenKind; v: Float64Array | null } => {
    const hit = cache.get(word);
    if (hit) return hit;
    let result: { kind: TokenKind; v: Float64Array | null };
    const group = groupOf.get(word);
    const stem = stemOf(word, known);
    if (minor.has(word)) {
      result = { kind: 'minor', v: normalizeZeroMean(seededUnitVector(`word:${word}`), MINOR_NORM) };
    } else if (group !== undefined) {
      result = { kind: 'group', v: mix(groupBases[group]!, `word:${word}`, GROUP_NOISE) };
    } else if (stem !== null && !minor.has(stem)) {
      const base = wordVector(stem).v!;
      result = { kind: 'inflection', v: mix(base, `word:${word}`, INFLECTION_NOISE) };
    } else {
      result = { kind: 'word', v: seededUnitVector(`word:${word}`) };
    }
    cache.set(word, result);
    return result;
  };

  const vectors = new Float32Array(vocab.tokens.length * dims);
  const kinds: TokenKind[] = [];
  vocab.tokens.forEach((token, id) => {
    const bare = token.startsWith(WORD_START) ? token.slice(WORD_START.length) : token;
    let kind: TokenKind;
    let v: Float64Array | null;
    if (id < SPECIAL_TOKENS.length) {
      kind = 'special';
      v = null;
    } else if (bare.length === 1 && PUNCTUATION.includes(bare)) {
      kind = 'punctuation';
      v = null;
    } else if (bare.length === 1) {
      // Single letters and digits are glue inside identifiers (`x`, `i`, `v2`): present, quiet.
      kind = 'character';
      v = normalizeZeroMean(seededUnitVector(`char:${bare}`), MINOR_NORM);
    } else {
      ({ kind, v } = wordVector(bare));
    }
    kinds.push(kind);
    if (v) vectors.set(v, id * dims);
  });
  return { vectors, kinds };
}

/** Serialises the whole model to GGUF bytes. */
export function buildTinyBertGguf(): Buffer {
  const dims = TINY_BERT_DIMENSIONS;
  const ff = FEED_FORWARD_LENGTH;
  const vocab = buildTinyBertVocab();
  const { vectors } = buildTinyBertEmbeddings(vocab);
  const w = new GgufWriter();

  w.addString('general.architecture', 'bert');
  w.addString('general.name', 'loupe-tiny-bert');
  w.addString('general.description', 'Generated bag-of-tokens embedding model for Loupe tests and fallback; not a trained model.');
  w.addU32('general.file_type', 1); // mostly F16
  w.addU32('bert.context_length', TINY_BERT_CONTEXT_LENGTH);
  w.addU32('bert.embedding_length', dims);
  w.addU32('bert.feed_forward_length', ff);
  w.addU32('bert.block_count', 1);
  w.addU32('bert.attention.head_count', HEAD_COUNT);
  // Large on purpose: keeps LayerNorm linear (see the file comment).
  w.addF32('bert.attention.layer_norm_epsilon', 1.0);
  w.addBool('bert.attention.causal', false);
  w.addU32('bert.pooling_type', 1); // mean

  w.addString('tokenizer.ggml.model', 'bert');
  w.addString('tokenizer.ggml.pre', 'default');
  w.addStringArray('tokenizer.ggml.tokens', vocab.tokens);
  w.addI32Array(
    'tokenizer.ggml.token_type',
    vocab.tokens.map((_, id) => (id < SPECIAL_TOKENS.length ? TOKEN_TYPE_CONTROL : TOKEN_TYPE_NORMAL)),
  );
  w.addU32('tokenizer.ggml.token_type_count', 1);
  w.addU32('tokenizer.ggml.padding_token_id', vocab.padId);
  w.addU32('tokenizer.ggml.unknown_token_id', vocab.unkId);
  w.addU32('tokenizer.ggml.bos_token_id', vocab.clsId);
  w.addU32('tokenizer.ggml.cls_token_id', vocab.clsId);
  w.addU32('tokenizer.ggml.seperator_token_id', vocab.sepId); // llama.cpp's spelling
  w.addU32('tokenizer.ggml.mask_token_id', vocab.maskId);
  w.addBool('tokenizer.ggml.add_bos_token', true);
  w.addBool('tokenizer.ggml.add_eos_token', false);
  w.addBool('tokenizer.ggml.add_space_prefix', true);
  // Lowercasing is what lets camelCase identifiers split into vocabulary words.
  w.addBool('tokenizer.ggml.normalizer.lowercase', true);

  const zeros = (n: number): Float32Array => new Float32Array(n);
  const ones = (n: number): Float32Array => new Float32Array(n).fill(1);

  w.addTensor('token_embd.weight', [dims, vocab.tokens.length], vectors, 'F16');
  w.addTensor('token_types.weight', [dims, 1], zeros(dims), 'F32'); // llama.cpp needs F32 here
  w.addTensor('position_embd.weight', [dims, TINY_BERT_CONTEXT_LENGTH], zeros(dims * TINY_BERT_CONTEXT_LENGTH), 'F16');
  w.addTensor('token_embd_norm.weight', [dims], ones(dims));
  w.addTensor('token_embd_norm.bias', [dims], zeros(dims));
  const b = 'blk.0';
  for (const proj of ['attn_q', 'attn_k', 'attn_v', 'attn_output']) {
    w.addTensor(`${b}.${proj}.weight`, [dims, dims], zeros(dims * dims), 'F16');
    w.addTensor(`${b}.${proj}.bias`, [dims], zeros(dims));
  }
  w.addTensor(`${b}.attn_output_norm.weight`, [dims], ones(dims));
  w.addTensor(`${b}.attn_output_norm.bias`, [dims], zeros(dims));
  w.addTensor(`${b}.ffn_up.weight`, [dims, ff], zeros(dims * ff), 'F16');
  w.addTensor(`${b}.ffn_up.bias`, [ff], zeros(ff));
  w.addTensor(`${b}.ffn_down.weight`, [ff, dims], zeros(ff * dims), 'F16');
  w.addTensor(`${b}.ffn_down.bias`, [dims], zeros(dims));
  w.addTensor(`${b}.layer_output_norm.weight`, [dims], ones(dims));
  w.addTensor(`${b}.layer_output_norm.bias`, [dims], zeros(dims));
  return w.toBuffer();
}

/** Writes the tiny BERT model to `file`. */
export function writeTinyBert(file: string): void {
  writeFileSync(file, buildTinyBertGguf());
}
