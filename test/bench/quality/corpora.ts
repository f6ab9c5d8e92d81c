/**
 * The code the retrieval-quality benchmark searches: open-source packages this project did not
 * write, at pinned versions, fetched from package registries with their ordinary clients
 * (`npm pack`, `pip download`, `go mod download`; crates and Maven sources jars over HTTPS) into a cache outside the repository
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

export interface CorpusSpec {
  /** Short name used in query files and results. */
  name: string;
  language: string;
  registry: 'npm' | 'pypi' | 'go' | 'crates' | 'maven';
  /**
   * `tuning`: the questions the fusion and ranking choices were made on. `heldout`: questions
   * written afterwards, before any retriever was run on their corpus, and never used to choose
   * anything; the benchmark reports them apart, as the honest estimate.
   */
  set: 'tuning' | 'heldout';
  /** Package or module name and pinned version. */
  pkg: string;
  version: string;
  /** sha256 of the archive as the registry serves it. */
  sha256: string;
  licence: string;
  /** Folder inside the unpacked archive that becomes the corpus root. */
  base: string;
  /** Files kept (relative to `base`): a file is indexed when it matches. */
  include: RegExp;
}

export const CORPORA: CorpusSpec[] = [
  {
    name: 'express', language: 'javascript', registry: 'npm', pkg: 'express', version: '4.21.2',
    sha256: 'fc43a91e7dc7affb53c6ad7123a4f35485ed3c45226ae7a3847b7738e783e008', licence: 'MIT',
    set: 'tuning', base: 'package', include: /^(index\.js|lib\/.*\.js)$/,
  },
  {
    name: 'requests', language: 'python', registry: 'pypi', pkg: 'requests', version: '2.32.3',
    sha256: '55365417734eb18255590a9ff9eb97e9e1da868d4ccd6402399eaf68af20a760', licence: 'Apache-2.0',
    set: 'tuning', base: 'requests-2.32.3/src', include: /^requests\/[^/]+\.py$/,
  },
  {
    name: 'mux', language: 'go', registry: 'go', pkg: 'github.com/gorilla/mux', version: 'v1.8.1',
    sha256: '728243623caa67f64e4a0b6c59dde3f762918d9e729266167ba46d8df56c193a', licence: 'BSD-3-Clause',
    set: 'tuning', base: 'github.com/gorilla/mux@v1.8.1', include: /^[^/]+\.go$/,
  },
  {
    name: 'semver', language: 'rust', registry: 'crates', pkg: 'semver', version: '1.0.23',
    sha256: '61697e0a1c7e512e84a621326239844a24d8207b4669b41bc18b32ea5cbf988b', licence: 'MIT OR Apache-2.0',
    set: 'heldout', base: 'semver-1.0.23', include: /^src\/[^/]+\.rs$/,
  },
  {
    name: 'commons-csv', language: 'java', registry: 'maven', pkg: 'org.apache.commons:commons-csv', version: '1.12.0',
    sha256: 'f6c3bdc5c21e31ea1009f6da051386978a91c860679f44ad705bbec9643c8f6f', licence: 'Apache-2.0',
    set: 'heldout', base: '.', include: /^org\/apache\/commons\/csv\/[^/]+\.java$/,
  },
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
function download(spec: CorpusSpec, dl: string): string {
  mkdirSync(dl, { recursive: true });
  let file: string;
  if (spec.registry === 'npm') {
    file = path.join(dl, `${spec.pkg}-${spec.version}.tgz`);
    if (!existsSync(file)) run('npm', ['pack', `${spec.pkg}@${spec.version}`, '--silent'], dl);
  } else if (spec.registry === 'pypi') {
    file = path.join(dl, `${spec.pkg}-${spec.version}.tar.gz`);
    if (!existsSync(file)) {
      const py = process.env.PYTHON ?? 'python3';
      run(py, ['-m', 'pip', 'download', '--no-deps', '--no-binary', ':all:', '-d', dl, `${spec.pkg}==${spec.version}`], dl);
    }
  } else if (spec.registry === 'crates') {
    file = path.join(dl, `${spec.pkg}-${spec.version}.crate`);
    if (!existsSync(file)) run('curl', ['-fsSL', '--retry', '3', '-o', file, `https://static.crates.io/crates/${spec.pkg}/${spec.pkg}-${spec.version}.crate`], dl);
  } else if (spec.registry === 'maven') {
    const [group, artifact] = spec.pkg.split(':');
    file = path.join(dl, `${artifact}-${spec.version}-sources.jar`);
    const url = `https://repo1.maven.org/maven2/${group.replace(/\./g, '/')}/${artifact}/${spec.version}/${artifact}-${spec.version}-sources.jar`;
    if (!existsSync(file)) run('curl', ['-fsSL', '--retry', '3', '-o', file, url], dl);
  } else {
    file = path.join(dl, `${spec.pkg.replace(/\//g, '_')}@${spec.version}.zip`);
    if (!existsSync(file)) {
      const gopath = path.join(dl, 'gopath');
      const out = run('go', ['mod', 'download', '-json', `${spec.pkg}@${spec.version}`], dl, { ...process.env, GOPATH: gopath, GOFLAGS: '-mod=mod', GO111MODULE: 'on' });
      cpSync((JSON.parse(out) as { Zip: string }).Zip, file);
      rmSync(gopath, { recursive: true, force: true, maxRetries: 3 });
    }
  }
  const got = sha256(file);
  if (got !== spec.sha256) throw new Error(`${file}: sha256 ${got}, expected ${spec.sha256} (pinned ${spec.pkg}@${spec.version})`);
  return file;
}

function listFiles(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listFiles(dir, r));
    else if (e.isFile()) out.push(r);
  }
  return out;
}

/** Fetches and unpacks a corpus; returns the folder holding exactly its indexed files. */
export function prepareCorpus(spec: CorpusSpec): string {
  const root = cacheDir();
  const dest = path.join(root, 'src', `${spec.name}-${spec.version}`);
  const stamp = path.join(dest, '.loupe-bench-ok');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === spec.sha256) return dest;
  const archive = download(spec, path.join(root, 'downloads'));
  const tmp = path.join(root, 'tmp', spec.name);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  if (archive.endsWith('.zip') || archive.endsWith('.jar')) run('unzip', ['-q', archive, '-d', tmp], tmp);
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
  for (const spec of CORPORA) console.log(`${spec.name}\t${prepareCorpus(spec)}`);
}
