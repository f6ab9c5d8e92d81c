/**
 * BERT's WordPiece tokenizer as Hugging Face `tokenizers` runs it from a `tokenizer.json`
 * (BertNormalizer → BertPreTokenizer → WordPiece → [CLS] … [SEP]). Pure, for the ONNX Runtime
 * backend, which has no tokenizer of its own. Checked id for id against the Rust implementation
 * on test/fixtures/wordpiece-minilm.json (native/convert/wordpiece_fixture.py).
 *
 * Why not @huggingface/tokenizers: it builds every pipeline a tokenizer.json can name and took
 * ~235 ms to construct here; a one-shot `loupe search` pays that before its first embedding.
 * This file covers the one pipeline BERT models use and refuses any other.
 */

/** The parts of a tokenizer.json this tokenizer reads. */
export interface TokenizerJson {
  normalizer?: {
    type?: string;
    clean_text?: boolean;
    handle_chinese_chars?: boolean;
    strip_accents?: boolean | null;
    lowercase?: boolean;
  } | null;
  pre_tokenizer?: { type?: string } | null;
  added_tokens?: { id: number; content: string; normalized?: boolean; single_word?: boolean; lstrip?: boolean; rstrip?: boolean }[];
  model?: {
    type?: string;
    vocab?: Record<string, number>;
    unk_token?: string;
    continuing_subword_prefix?: string;
    max_input_chars_per_word?: number;
  };
}

const CONTROL = /\p{C}/u;
const WHITESPACE = /\p{White_Space}/u;
const PUNCT = /\p{P}/u;
const MARK_NONSPACING = /\p{Mn}/u;

function isChinese(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b920 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

function isAsciiPunct(cp: number): boolean {
  return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126);
}

export class WordPieceTokenizer {
  readonly clsId: number;
  readonly sepId: number;
  readonly unkId: number;
  /** tokenizer.json's vocabulary (token → id), read in place: copying its 30k entries into a Map cost every start ~20–30 ms. */
  private readonly vocab: { get(token: string): number | undefined };
  private readonly prefix: string;
  private readonly maxChars: number;
  private readonly lowercase: boolean;
  private readonly stripAccents: boolean;
  private readonly cleanText: boolean;
  private readonly chineseChars: boolean;
  /** Added tokens (`[CLS]`, `[SEP]`, …) found verbatim in the raw text before normalisation, as tokenizers does. */
  private readonly added: Map<string, number>;
  private readonly addedRe: RegExp | null;
  /** Recent words: code repeats identifiers, so most words are looked up, not split again. */
  private readonly wordCache = new Map<string, number[]>();

  constructor(json: TokenizerJson) {
    const m = json.model;
    if (m?.type !== 'WordPiece' || !m.vocab)
      throw new Error(`tokenizer.json: model type ${m?.type ?? 'missing'}, only WordPiece is supported`);
    const n = json.normalizer;
    if (n && n.type !== 'BertNormalizer') throw new Error(`tokenizer.json: normalizer ${n.type}, only BertNormalizer is supported`);
    if (json.pre_tokenizer && json.pre_tokenizer.type !== 'BertPreTokenizer')
      throw new Error(`tokenizer.json: pre-tokenizer ${json.pre_tokenizer.type}, only BertPreTokenizer is supported`);
    const table = m.vocab;
    this.vocab = { get: (t) => (Object.hasOwn(table, t) ? table[t] : undefined) };
    this.prefix = m.continuing_subword_prefix ?? '##';
    this.maxChars = m.max_input_chars_per_word ?? 100;
    this.lowercase = n?.lowercase ?? true;
    // tokenizers: strip_accents null means "as lowercase".
    this.stripAccents = n?.strip_accents ?? this.lowercase;
    this.cleanText = n?.clean_text ?? true;
    this.chineseChars = n?.handle_chinese_chars ?? true;
    const id = (t: string): number => {
      const v = this.vocab.get(t);
      if (v === undefined) throw new Error(`tokenizer.json: vocabulary has no ${t}`);
      return v;
    };
    this.added = new Map();
    for (const a of json.added_tokens ?? []) {
      if (a.normalized || a.single_word || a.lstrip || a.rstrip)
        throw new Error(`tokenizer.json: added token ${a.content} with options this tokenizer does not implement`);
      this.added.set(a.content, a.id);
    }
    const esc = [...this.added.keys()].sort((a, b) => b.length - a.length).map((c) => c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    this.addedRe = esc.length ? new RegExp(`(${esc.join('|')})`) : null;
    this.unkId = id(m.unk_token ?? '[UNK]');
    this.clsId = id('[CLS]');
    this.sepId = id('[SEP]');
  }

  /** BertNormalizer: drop control characters, whitespace to spaces, CJK spaced, accents stripped, lowercased. */
  normalize(text: string): string {
    let out = '';
    for (const ch of text) {
      const cp = ch.codePointAt(0)!;
      if (cp < 128) {
        // Fast path: ASCII.
        if (cp === 9 || cp === 10 || cp === 13) out += ' ';
        else if (this.cleanText && (cp === 0 || cp < 32 || cp === 127)) continue;
        else out += ch;
        continue;
      }
      if (this.cleanText && (cp === 0xfffd || CONTROL.test(ch))) continue;
      if (this.cleanText && WHITESPACE.test(ch)) out += ' ';
      else if (this.chineseChars && isChinese(cp)) out += ` ${ch} `;
      else out += ch;
    }
    if (this.stripAccents) {
      // Only non-ASCII text can carry marks.
      // eslint-disable-next-line no-control-regex
      if (/[^\x00-\x7f]/.test(out)) {
        let s = '';
        for (const ch of out.normalize('NFD')) if (!MARK_NONSPACING.test(ch)) s += ch;
        out = s;
      }
    }
    return this.lowercase ? out.toLowerCase() : out;
  }

  /** BertPreTokenizer: words split on whitespace, each punctuation character a word of its own. */
  preTokenize(normalized: string): string[] {
    const words: string[] = [];
    let cur = '';
    for (const ch of normalized) {
      const cp = ch.codePointAt(0)!;
      if (cp === 32 || (cp > 127 && WHITESPACE.test(ch)) || cp === 9 || cp === 10 || cp === 13) {
        if (cur) words.push(cur);
        cur = '';
      } else if (isAsciiPunct(cp) || (cp > 127 && PUNCT.test(ch))) {
        if (cur) words.push(cur);
        words.push(ch);
        cur = '';
      } else {
        cur += ch;
      }
    }
    if (cur) words.push(cur);
    return words;
  }

  /** Greedy longest-match-first WordPiece of one word; a word that cannot be split is [UNK]. */
  private wordPiece(word: string): number[] {
    const hit = this.wordCache.get(word);
    if (hit) return hit;
    const chars = Array.from(word);
    let ids: number[];
    if (chars.length > this.maxChars) {
      ids = [this.unkId];
    } else {
      ids = [];
      let start = 0;
      while (start < chars.length) {
        let end = chars.length;
        let found: number | undefined;
        while (start < end) {
          const piece = (start > 0 ? this.prefix : '') + chars.slice(start, end).join('');
          found = this.vocab.get(piece);
          if (found !== undefined) break;
          end--;
        }
        if (found === undefined) {
          ids = [this.unkId];
          break;
        }
        ids.push(found);
        start = end;
      }
    }
    if (this.wordCache.size >= 50_000) this.wordCache.clear();
    this.wordCache.set(word, ids);
    return ids;
  }

  /** Token ids of a text without [CLS]/[SEP]. */
  encodeNoSpecials(text: string): number[] {
    const out: number[] = [];
    const segments = this.addedRe ? text.split(this.addedRe) : [text];
    for (let i = 0; i < segments.length; i++) {
      // split() with a capture group: odd segments are the added tokens.
      if (i % 2 === 1) {
        out.push(this.added.get(segments[i])!);
        continue;
      }
      for (const w of this.preTokenize(this.normalize(segments[i]))) for (const id of this.wordPiece(w)) out.push(id);
    }
    return out;
  }

  /** Token ids as the model sees them: [CLS] text [SEP], cut to `maxTokens` in all (specials included). */
  encode(text: string, maxTokens = Infinity): number[] {
    const body = this.encodeNoSpecials(text);
    const room = Math.max(0, maxTokens - 2);
    return [this.clsId, ...(body.length > room ? body.slice(0, room) : body), this.sepId];
  }
}
