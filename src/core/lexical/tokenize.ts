import { stemmer } from 'stemmer';

/**
 * Code-aware tokenisation for the lexical retriever. An identifier is kept whole (lowercased,
 * so `parseRequestLine` matches itself exactly) and also split into its words at camelCase,
 * PascalCase, snake_case, kebab-case, digit and path boundaries; the words are Porter-stemmed
 * so "retries" in a question meets `retry` in code. English stop words and the most common
 * keywords of the languages we chunk are dropped: they match everything and say nothing.
 */

const STOP = new Set(
  // English
  (
    'a an and are as at be been but by can could do does did for from had has have how i if in into is it its ' +
    'me my no not of on or our should so than that the their them then there these they this those to too ' +
    'up us was we were what when where which while who whom why will with would you your about also any ' +
    'each just more most only other same some such very all get gets got make makes made use used uses using ' +
    // Words that questions about code are made of, not code
    'code function functions method methods class where which find show tell implement implemented implementation ' +
    'handled handle handles logic part place happen happens happening done thing things way ' +
    // Keywords common to JS/TS, Python, Go, C-like languages
    'const let var function return returns new this self def elif else func package import export from ' +
    'public private protected static void null nil none true false undefined typeof instanceof ' +
    'break continue case switch default try catch finally throw raise pass lambda yield async await ' +
    'int string bool err'
  ).split(/\s+/),
);

/** Stop words stay meaningful inside identifiers (`getUser` → `get`, `user`); only bare words are dropped. */
const MAX_TOKEN = 40;

/** Splits an identifier into its lowercase words: `parseHTTPRequest_v2` → parse, http, request, v, 2. */
export function splitIdentifier(id: string): string[] {
  return id
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .replace(/([A-Za-z])([0-9])/g, '$1 $2')
    .replace(/([0-9])([A-Za-z])/g, '$1 $2')
    .split(/[\s_$-]+/)
    .filter(Boolean)
    .map((w) => w.toLowerCase());
}

const stemCache = new Map<string, string>();

/** Porter stem of a lowercase word (memoised: code repeats its words a lot). */
export function stem(word: string): string {
  let s = stemCache.get(word);
  if (s === undefined) {
    s = /^[a-z]+$/.test(word) && word.length > 3 ? stemmer(word) : word;
    if (stemCache.size > 200_000) stemCache.clear();
    stemCache.set(word, s);
  }
  return s;
}

/**
 * Terms of a text, with repeats (term frequency counts). Each identifier gives its whole
 * lowercase form when it has more than one word, plus each stemmed word that is not a stop
 * word and has at least two characters.
 */
export function tokenize(text: string): string[] {
  const out: string[] = [];
  const re = /[A-Za-z_$][A-Za-z0-9_$]*|[0-9]+(?:\.[0-9]+)*/g;
  for (const m of text.matchAll(re)) {
    const raw = m[0];
    if (raw.length > MAX_TOKEN) continue;
    const words = splitIdentifier(raw);
    if (words.length > 1) {
      const whole = raw.toLowerCase().replace(/^[_$]+|[_$]+$/g, '');
      if (whole.length > 1) out.push(whole);
    }
    for (const w of words) {
      if (w.length < 2 || (STOP.has(w) && words.length === 1)) continue;
      out.push(stem(w));
    }
  }
  return out;
}

/** Query terms: the same tokenisation, each term once (a question repeating a word does not weigh it twice). */
export function queryTerms(query: string): string[] {
  return [...new Set(tokenize(query))];
}

/** Terms of a file path (folders and file name, extension dropped): `lib/router/index.js` → lib, router, index. */
export function pathTerms(relPath: string): string[] {
  return tokenize(stripExtension(relPath));
}

/** A path without its file name's extension (`lib/router/index.js` → `lib/router/index`). */
export function stripExtension(relPath: string): string {
  return relPath.replace(/\.[A-Za-z0-9]+$/, '');
}
