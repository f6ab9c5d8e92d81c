/**
 * The code the retrieval-quality benchmark searches: open-source packages this project did not
 * write, at pinned versions, fetched from package registries with their ordinary clients
 * (`npm pack`, `pip download`, `go mod download`, `apt-get download`; crates and Maven sources jars over HTTPS) into a cache outside the repository
 * (`$LOUPE_BENCH_CACHE`, default `~/.cache/loupe-bench`), checked against pinned sha256 sums and
 * unpacked. Only library sources are indexed (no tests, docs or examples).
 *
 *   node out/test/bench/quality/corpora.js        # fetch and unpack everything, print the folders
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export type Registry = 'npm' | 'pypi' | 'go' | 'crates' | 'maven' | 'debian';

/** What is needed to fetch and unpack a pinned package. */
export interface PackageSpec {
  /** Short name used in query files and results. */
  name: string;
  registry: Registry;
  /** Package or module name and pinned version (Debian: the package version, e.g. `1.2.1-2`). */
  pkg: string;
  version: string;
  /** sha256 of the archive as the registry serves it. */
  sha256: string;
  /** PyPI: the wheel instead of the sdist. */
  wheel?: boolean;
  /** Folder inside the unpacked archive that becomes the corpus root. */
  base: string;
  /** Files kept (relative to `base`): a file is indexed when it matches. */
  include: RegExp;
}

export interface CorpusSpec extends PackageSpec {
  language: string;
  /**
   * `tuning`: the questions the fusion and ranking choices were made on. `heldout`: questions
   * written afterwards, before any retriever was run on their corpus, and never used to choose
   * anything; the benchmark reports them apart, as the honest estimate. `heldout-2`: written
   * after the first held-out set's figures had been seen (and its questions studied), so it
   * checks changes made after that. `train`: code the
   * fine-tuned embedding model learns from (native/train), never evaluated on; see TRAIN_CORPORA.
   */
  set: 'tuning' | 'heldout' | 'heldout-2' | 'train';
  licence: string;
}

export const CORPORA: CorpusSpec[] = [
  {
    name: 'express',
    language: 'javascript',
    registry: 'npm',
    pkg: 'express',
    version: '4.21.2',
    sha256: 'fc43a91e7dc7affb53c6ad7123a4f35485ed3c45226ae7a3847b7738e783e008',
    licence: 'MIT',
    set: 'tuning',
    base: 'package',
    include: /^(index\.js|lib\/.*\.js)$/,
  },
  {
    name: 'requests',
    language: 'python',
    registry: 'pypi',
    pkg: 'requests',
    version: '2.32.3',
    sha256: '55365417734eb18255590a9ff9eb97e9e1da868d4ccd6402399eaf68af20a760',
    licence: 'Apache-2.0',
    set: 'tuning',
    base: 'requests-2.32.3/src',
    include: /^requests\/[^/]+\.py$/,
  },
  {
    name: 'mux',
    language: 'go',
    registry: 'go',
    pkg: 'github.com/gorilla/mux',
    version: 'v1.8.1',
    sha256: '728243623caa67f64e4a0b6c59dde3f762918d9e729266167ba46d8df56c193a',
    licence: 'BSD-3-Clause',
    set: 'tuning',
    base: 'github.com/gorilla/mux@v1.8.1',
    include: /^[^/]+\.go$/,
  },
  {
    name: 'semver',
    language: 'rust',
    registry: 'crates',
    pkg: 'semver',
    version: '1.0.23',
    sha256: '61697e0a1c7e512e84a621326239844a24d8207b4669b41bc18b32ea5cbf988b',
    licence: 'MIT OR Apache-2.0',
    set: 'heldout',
    base: 'semver-1.0.23',
    include: /^src\/[^/]+\.rs$/,
  },
  {
    name: 'commons-csv',
    language: 'java',
    registry: 'maven',
    pkg: 'org.apache.commons:commons-csv',
    version: '1.12.0',
    sha256: 'f6c3bdc5c21e31ea1009f6da051386978a91c860679f44ad705bbec9643c8f6f',
    licence: 'Apache-2.0',
    set: 'heldout',
    base: '.',
    include: /^org\/apache\/commons\/csv\/[^/]+\.java$/,
  },
  {
    name: 'cron',
    language: 'go',
    registry: 'go',
    pkg: 'github.com/robfig/cron/v3',
    version: 'v3.0.1',
    sha256: 'ebe6454642220832a451b8cc50eae5f9150fd8d36b90b242a5de27676be86c70',
    licence: 'MIT',
    set: 'heldout-2',
    base: 'github.com/robfig/cron/v3@v3.0.1',
    include: /^[^/]+\.go$/,
  },
  {
    name: 'cachetools',
    language: 'python',
    registry: 'pypi',
    pkg: 'cachetools',
    version: '5.5.0',
    sha256: '2cc24fb4cbe39633fb7badd9db9ca6295d766d9c2995f245725a46715d050f2a',
    licence: 'MIT',
    set: 'heldout-2',
    base: 'cachetools-5.5.0/src',
    include: /^cachetools\/[^/]+\.py$/,
  },
];

/**
 * Code the fine-tuned embedding model (native/train) learns from: well-documented libraries in
 * the same five languages, none of them a benchmark corpus, none about HTTP routing or clients,
 * version strings or CSV (the benchmark's subjects), and no other package by the authors of a
 * benchmark corpus. Each (doc comment, code) pair in them is a training example.
 */
export const TRAIN_CORPORA: CorpusSpec[] = [
  ...(
    [
      ['rich', '13.9.4', '439594978a49a09530cff7ebc4b5c7103ef57baf48d5ea3184f21d9a2befa098', 'MIT', 'rich-13.9.4', /^rich\/[^/]+\.py$/],
      [
        'click',
        '8.1.7',
        'ca9853ad459e787e2192211578cc907e7594e294c7ccc834310722b41b9ca6de',
        'BSD-3-Clause',
        'click-8.1.7/src',
        /^click\/[^/]+\.py$/,
      ],
      [
        'attrs',
        '24.2.0',
        '5cfb1b9148b5b086569baec03f20d7b6bf3bcacc9a42bebf87ffaaca362f6346',
        'MIT',
        'attrs-24.2.0/src',
        /^attrs?\/[^/]+\.py$/,
      ],
      [
        'jinja2',
        '3.1.4',
        '4a3aee7acbbe7303aede8e9648d13b8bf88a429282aa6122a993f0ac800cb369',
        'BSD-3-Clause',
        'jinja2-3.1.4/src',
        /^jinja2\/[^/]+\.py$/,
      ],
      [
        'pyparsing',
        '3.2.0',
        'cbf74e27246d595d9a74b186b810f6fbb86726dbf3b9532efb343f6d7294fe9c',
        'MIT',
        'pyparsing-3.2.0',
        /^pyparsing\/.*\.py$/,
      ],
      [
        'more-itertools',
        '10.5.0',
        '5482bfef7849c25dc3c6dd53a6173ae4795da2a41a80faea6700d9f5846c5da6',
        'MIT',
        'more-itertools-10.5.0',
        /^more_itertools\/[^/]+\.py$/,
      ],
      [
        'networkx',
        '3.4.2',
        '307c3669428c5362aab27c8a1260aa8f47c4e91d3891f48be0141738d8d053e1',
        'BSD-3-Clause',
        'networkx-3.4.2',
        /^networkx\/(?!.*tests?\/).*\.py$/,
      ],
      [
        'boltons',
        '24.1.0',
        '4a49b7d57ee055b83a458c8682a2a6f199d263a8aa517098bda9bab813554b87',
        'BSD-3-Clause',
        'boltons-24.1.0',
        /^boltons\/[^/]+\.py$/,
      ],
      [
        'toolz',
        '1.0.0',
        '2c86e3d9a04798ac556793bced838816296a2f085017664e4995cb40a1047a02',
        'BSD-3-Clause',
        'toolz-1.0.0',
        /^toolz\/[^/]+\.py$/,
      ],
    ] as const
  ).map(
    ([pkg, version, sha256, licence, base, include]): CorpusSpec => ({
      name: pkg,
      language: 'python',
      registry: 'pypi',
      pkg,
      version,
      sha256,
      licence,
      set: 'train',
      base,
      include,
    }),
  ),
  ...(
    [
      ['lodash', '4.17.21', '6a087ac9e5702a0c9d60fbcd48696012646ec8df1491dea472b150e79fcaf804', /^[^/]+\.js$/],
      ['async', '3.2.6', '6bb45cfba08cd2eea39eb3ce6eaa94113070fe137ec0bd4a9f122be9a0250e6f', /^internal\/[^/]+\.js$|^[^/]+\.js$/],
      ['moment', '2.30.1', '52219a9fee5e1faade4c72536c173c54cedd5e2619272dd0c251a30aeafcde8c', /^src\/lib\/.*\.js$/],
      ['commander', '12.1.0', '56affc6ddafe486f94b428ae2823d059cf60d4dae2f33eaaf1b1ec4306f73173', /^lib\/[^/]+\.js$/],
    ] as const
  ).map(
    ([pkg, version, sha256, include]): CorpusSpec => ({
      name: pkg,
      language: 'javascript',
      registry: 'npm',
      pkg,
      version,
      sha256,
      licence: 'MIT',
      set: 'train',
      base: 'package',
      include,
    }),
  ),
  ...(
    [
      ['github.com/spf13/cobra', 'v1.8.1', 'bf27a276f87257c93bc057309df30265a19beefc3d5fc887cbd8fc99ad35466a', 'Apache-2.0'],
      ['github.com/spf13/pflag', 'v1.0.5', 'fc6e704f2f6a84ddcdce6de0404e5340fa20c8676181bf5d381b17888107ba84', 'BSD-3-Clause'],
      ['github.com/pkg/errors', 'v0.9.1', 'd4c36b8bcd0616290a3913215e0f53b931bd6e00670596f2960df1b44af2bd07', 'BSD-2-Clause'],
      ['github.com/google/go-cmp', 'v0.6.0', '4b4e9bf6c48211080651b491dfb48d68b736c66a305bcf94605606e1ba2eaa4a', 'BSD-3-Clause'],
    ] as const
  ).map(
    ([pkg, version, sha256, licence]): CorpusSpec => ({
      name: pkg.split('/').pop()!,
      language: 'go',
      registry: 'go',
      pkg,
      version,
      sha256,
      licence,
      set: 'train',
      base: `${pkg}@${version}`,
      include: /^(?!.*testdata\/).*\.go$/,
    }),
  ),
  ...(
    [
      ['itertools', '0.13.0', '413ee7dfc52ee1a4949ceeb7dbc8a33f2d6c088194d9f922fb8318faf1f01186'],
      ['bytes', '1.8.0', '9ac0150caa2ae65ca5bd83f25c7de183dea78d4d366469f148435e2acfbad0da'],
      ['indexmap', '2.6.0', '707907fe3c25f5424cce2cb7e1cbcafee6bdbe735ca90ef77c29e84591e5b9da'],
      ['smallvec', '1.13.2', '3c5e1a9a646d36c3599cd173a41282daf47c44583ad367b8e6837255952e5c67'],
    ] as const
  ).map(
    ([pkg, version, sha256]): CorpusSpec => ({
      name: pkg,
      language: 'rust',
      registry: 'crates',
      pkg,
      version,
      sha256,
      licence: 'MIT OR Apache-2.0',
      set: 'train',
      base: `${pkg}-${version}`,
      include: /^src\/.*\.rs$/,
    }),
  ),
  ...(
    [
      ['com.google.code.gson:gson', '2.11.0', '49a853f71bc874ee1898a4ad5009b57d0c536e5a998b3890253ffbf4b7276ad3'],
      ['org.jsoup:jsoup', '1.18.1', 'e145c1a259fe76a3570ea2d2e8e779367f4e5eb1ca86295990a5dfabe87e4d0e'],
      ['joda-time:joda-time', '2.13.0', '01b8181284ec774ac34ae3b831c6c9c1750c6e9760df8a9560d58e3849dafb1c'],
    ] as const
  ).map(
    ([pkg, version, sha256]): CorpusSpec => ({
      name: pkg.split(':')[1],
      language: 'java',
      registry: 'maven',
      pkg,
      version,
      sha256,
      licence: pkg.startsWith('org.jsoup') ? 'MIT' : 'Apache-2.0',
      set: 'train',
      base: '.',
      include: /\.java$/,
    }),
  ),
];

export function cacheDir(): string {
  return process.env.LOUPE_BENCH_CACHE ?? path.join(os.homedir(), '.cache', 'loupe-bench');
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  return execFileSync(cmd, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Downloads the archive of a corpus (once) and returns its path, checked against the pinned sum. */
export function download(spec: PackageSpec, dl: string): string {
  mkdirSync(dl, { recursive: true });
  let file: string;
  if (spec.registry === 'npm') {
    file = path.join(dl, `${spec.pkg}-${spec.version}.tgz`);
    if (!existsSync(file)) run('npm', ['pack', `${spec.pkg}@${spec.version}`, '--silent'], dl);
  } else if (spec.registry === 'pypi' && spec.wheel) {
    file = path.join(dl, `${spec.pkg.replace(/-/g, '_')}-${spec.version}-py3-none-any.whl`);
    if (!existsSync(file))
      run(
        process.env.PYTHON ?? 'python3',
        ['-m', 'pip', 'download', '--no-deps', '--only-binary', ':all:', '-d', dl, `${spec.pkg}==${spec.version}`],
        dl,
      );
  } else if (spec.registry === 'debian') {
    // `apt-get download` needs the package lists (`apt-get update` once); the pool path is not needed.
    file = path.join(dl, `${spec.pkg}_${spec.version.replace(/^\d+:/, '')}_all.deb`);
    if (!existsSync(file)) {
      const tmp = path.join(dl, `apt-${spec.pkg}`);
      mkdirSync(tmp, { recursive: true });
      run('apt-get', ['download', `${spec.pkg}=${spec.version}`], tmp);
      const got = readdirSync(tmp).find((f) => f.endsWith('.deb'));
      if (!got) throw new Error(`apt-get download ${spec.pkg}=${spec.version} wrote no .deb`);
      cpSync(path.join(tmp, got), file);
      rmSync(tmp, { recursive: true, force: true });
    }
  } else if (spec.registry === 'pypi') {
    file = path.join(dl, `${spec.pkg}-${spec.version}.tar.gz`);
    if (!existsSync(file)) {
      const py = process.env.PYTHON ?? 'python3';
      run(py, ['-m', 'pip', 'download', '--no-deps', '--no-binary', ':all:', '-d', dl, `${spec.pkg}==${spec.version}`], dl);
    }
  } else if (spec.registry === 'crates') {
    file = path.join(dl, `${spec.pkg}-${spec.version}.crate`);
    if (!existsSync(file))
      run(
        'curl',
        ['-fsSL', '--retry', '3', '-o', file, `https://static.crates.io/crates/${spec.pkg}/${spec.pkg}-${spec.version}.crate`],
        dl,
      );
  } else if (spec.registry === 'maven') {
    const [group, artifact] = spec.pkg.split(':');
    file = path.join(dl, `${artifact}-${spec.version}-sources.jar`);
    const url = `https://repo1.maven.org/maven2/${group.replace(/\./g, '/')}/${artifact}/${spec.version}/${artifact}-${spec.version}-sources.jar`;
    if (!existsSync(file)) run('curl', ['-fsSL', '--retry', '3', '-o', file, url], dl);
  } else {
    file = path.join(dl, `${spec.pkg.replace(/\//g, '_')}@${spec.version}.zip`);
    if (!existsSync(file)) {
      const gopath = path.join(dl, 'gopath');
      const out = run('go', ['mod', 'download', '-json', `${spec.pkg}@${spec.version}`], dl, {
        ...process.env,
        GOPATH: gopath,
        GOFLAGS: '-mod=mod',
        GO111MODULE: 'on',
      });
      cpSync((JSON.parse(out) as { Zip: string }).Zip, file);
      rmSync(gopath, { recursive: true, force: true, maxRetries: 3 });
    }
  }
  const got = sha256(file);
  if (got !== spec.sha256) throw new Error(`${file}: sha256 ${got}, expected ${spec.sha256} (pinned ${spec.pkg}@${spec.version})`);
  return file;
}

/**
 * Files below `dir` as relative paths, in directory-listing order (callers that need an order sort).
 * `skipHidden`: leave out names starting with a dot (the corpus stamp file, `.github/`, …).
 */
export function listFiles(dir: string, opts: { skipHidden?: boolean } = {}, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    if (opts.skipHidden && e.name.startsWith('.')) continue;
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listFiles(dir, opts, r));
    else if (e.isFile()) out.push(r);
  }
  return out;
}

/** Fetches and unpacks a corpus; returns the folder holding exactly its indexed files. */
export function prepareCorpus(spec: PackageSpec): string {
  const root = cacheDir();
  const dest = path.join(root, 'src', `${spec.name}-${spec.version}`);
  const stamp = path.join(dest, '.loupe-bench-ok');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === spec.sha256) return dest;
  const archive = download(spec, path.join(root, 'downloads'));
  const tmp = path.join(root, 'tmp', spec.name);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  if (archive.endsWith('.zip') || archive.endsWith('.jar') || archive.endsWith('.whl')) run('unzip', ['-q', archive, '-d', tmp], tmp);
  else if (archive.endsWith('.deb')) run('dpkg-deb', ['-x', archive, tmp], tmp);
  else run('tar', ['xzf', archive, '-C', tmp], tmp);
  const base = path.join(tmp, spec.base);
  rmSync(dest, { recursive: true, force: true });
  let n = 0;
  for (const rel of listFiles(base)) {
    if (!spec.include.test(rel) || /(^|\/)[^/]*_test\.go$/.test(rel)) continue;
    mkdirSync(path.dirname(path.join(dest, rel)), { recursive: true });
    cpSync(path.join(base, rel), path.join(dest, rel));
    n++;
  }
  if (!n) throw new Error(`${spec.name}: no files matched in ${base}`);
  rmSync(tmp, { recursive: true, force: true });
  writeFileSync(stamp, spec.sha256);
  return dest;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const all = process.argv.includes('--train') ? TRAIN_CORPORA : CORPORA;
  for (const spec of all) console.log(`${spec.name}\t${prepareCorpus(spec)}`);
}
