/**
 * The heavy fault suite (`npm run bench:faults`): SIGKILL at random points during `loupe index` and
 * during `loupe index --watch` while a script edits, renames and deletes files, then every store
 * file kind damaged every way plus the crafted stores of test/faults-store.test.ts. Writes
 * test/bench/results/faults-<date>.json with the counts.
 *
 * After each kill the store is opened read-only in this process: it must load without damage, and
 * every file record must be some version of that file that really existed (a wrong record is one
 * whose hash matches no version written). After each phase the index is finished with `loupe index`
 * and compared with a clean index of the same tree: same chunk count, same top-10.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SAMPLE_PROJECT, REPO } from '../support/helpers.js';
import {
  BIN,
  buildClean,
  craftedCases,
  damage,
  DAMAGES,
  FILE_KINDS,
  locations,
  modelArgs,
  prng,
  QUERY,
  runCase,
  runCli,
  seedJournal,
  type CaseOutcome,
} from '../support/store-faults.js';
import { readManifest, Store } from '../../src/core/store.js';

const KILLS_INDEX = Number(process.env.KILLS_INDEX ?? 30);
const KILLS_WATCH = Number(process.env.KILLS_WATCH ?? 20);
const rand = prng(20261203);
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
/** Every content each path ever had. */
const versions = new Map<string, Set<string>>();

function write(root: string, rel: string, text: string): void {
  mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  writeFileSync(path.join(root, rel), text);
  let v = versions.get(rel);
  if (!v) versions.set(rel, (v = new Set()));
  v.add(sha(text));
}

const genText = (i: number, v: number) =>
  Array.from({ length: 5 }, (_, j) => `export function step${i}_${j}(x: number): number {\n  return x * ${i + j + v} - ${j};\n}\n`).join(
    '\n',
  );

/** Opens the store read-only and checks it: loads without damage, every record is a version that existed. */
function checkStore(root: string): { consistent: boolean; wrong: number; why: string } {
  const dir = path.join(root, '.loupe');
  const m = readManifest(dir);
  if (!m) return { consistent: true, wrong: 0, why: 'no manifest yet' };
  const s = Store.open(dir, { modelId: m.modelId, modelName: m.modelName, dimensions: m.dimensions }, { readOnly: true });
  try {
    const damaged = s.report.warnings.filter((w) => /damaged|failed its checksum|lost their cached vectors/.test(w));
    let wrong = 0;
    for (const [rel, rec] of s.files) if (!versions.get(rel)?.has(rec.fileHash)) wrong++;
    return { consistent: damaged.length === 0, wrong, why: damaged.join('; ') };
  } finally {
    s.close();
  }
}

function startIndex(root: string, watch: boolean) {
  return spawn(process.execPath, [BIN, 'index', root, ...(watch ? ['--watch', '--no-backoff'] : []), ...modelArgs()], {
    stdio: 'ignore',
    env: { ...process.env, LOUPE_BACKOFF: '0' },
  });
}

async function finishAndCompare(root: string, work: string, tag: string): Promise<{ equal: boolean; detail: string }> {
  const ix = await runCli(['index', root, ...modelArgs()]);
  const s = await runCli(['search', root, QUERY, '--json', '-k', '10', ...modelArgs()]);
  const st = await runCli(['status', root, '--json']);
  const cleanRoot = path.join(work, `clean-${tag}`);
  rmSync(cleanRoot, { recursive: true, force: true });
  cpSync(root, cleanRoot, { recursive: true, filter: (src) => !src.includes(`${path.sep}.loupe`) });
  const ci = await runCli(['index', cleanRoot, ...modelArgs()]);
  const cs = await runCli(['search', cleanRoot, QUERY, '--json', '-k', '10', ...modelArgs()]);
  const cst = await runCli(['status', cleanRoot, '--json']);
  const a = locations(s.out);
  const b = locations(cs.out);
  const chunks = [JSON.parse(st.out).chunks, JSON.parse(cst.out).chunks];
  rmSync(cleanRoot, { recursive: true, force: true });
  const equal = ix.code === 0 && ci.code === 0 && JSON.stringify(a) === JSON.stringify(b) && chunks[0] === chunks[1];
  return {
    equal,
    detail: `chunks ${chunks.join(' vs ')}; top-10 ${equal ? 'equal' : `${JSON.stringify(a.slice(0, 3))} vs ${JSON.stringify(b.slice(0, 3))}`}`,
  };
}

async function main(): Promise<void> {
  const work = path.join(os.tmpdir(), `loupe-faults-bench-${process.pid}`);
  mkdirSync(work, { recursive: true });
  const t0 = Date.now();
  const root = path.join(work, 'proj');
  for (const [rel, text] of Object.entries(SAMPLE_PROJECT)) write(root, rel, text);
  for (let i = 0; i < 60; i++) write(root, `gen/g${i}.ts`, genText(i, 0));
  const first = await runCli(['index', root, ...modelArgs()]);
  if (first.code !== 0) throw new Error(first.err);

  const kill = {
    index: { rounds: 0, consistent: 0, wrong: 0, notes: [] as string[] },
    watch: { rounds: 0, consistent: 0, wrong: 0, notes: [] as string[] },
  };
  let version = 1;
  for (let r = 0; r < KILLS_INDEX; r++) {
    // Work for this run: a handful of files get new contents.
    for (let k = 0; k < 12; k++) write(root, `gen/g${Math.floor(rand() * 60)}.ts`, genText(Math.floor(rand() * 1000), version++));
    const c = startIndex(root, false);
    await new Promise((res) => setTimeout(res, 300 + rand() * 5000));
    c.kill('SIGKILL');
    await new Promise((res) => c.on('close', res));
    const chk = checkStore(root);
    kill.index.rounds++;
    if (chk.consistent) kill.index.consistent++;
    else kill.index.notes.push(`index round ${r}: ${chk.why}`);
    kill.index.wrong += chk.wrong;
    process.stdout.write(`kill -9 during index ${r + 1}/${KILLS_INDEX}: ${chk.consistent ? 'consistent' : chk.why}, ${chk.wrong} wrong\n`);
  }
  const afterIndex = await finishAndCompare(root, work, 'index');
  process.stdout.write(`after the index kills: ${afterIndex.detail}\n`);

  for (let r = 0; r < KILLS_WATCH; r++) {
    const c = startIndex(root, true);
    let stop = false;
    const editor = (async () => {
      await new Promise((res) => setTimeout(res, 1500));
      let n = 0;
      while (!stop) {
        const i = Math.floor(rand() * 60);
        const rel = `gen/g${i}.ts`;
        const what = rand();
        if (what < 0.6 || !existsSync(path.join(root, rel))) write(root, rel, genText(i * 7 + n, version++));
        else if (what < 0.8) {
          const to = `gen/g${(i + 1 + Math.floor(rand() * 59)) % 60}.ts`;
          if (!existsSync(path.join(root, to))) {
            renameSync(path.join(root, rel), path.join(root, to));
            const text = readFileSync(path.join(root, to), 'utf8');
            write(root, to, text);
          }
        } else rmSync(path.join(root, rel), { force: true });
        n++;
        await new Promise((res) => setTimeout(res, 50 + rand() * 150));
      }
    })();
    await new Promise((res) => setTimeout(res, 2000 + rand() * 5000));
    c.kill('SIGKILL');
    await new Promise((res) => c.on('close', res));
    stop = true;
    await editor;
    const chk = checkStore(root);
    kill.watch.rounds++;
    if (chk.consistent) kill.watch.consistent++;
    else kill.watch.notes.push(`watch round ${r}: ${chk.why}`);
    kill.watch.wrong += chk.wrong;
    process.stdout.write(
      `kill -9 during --watch ${r + 1}/${KILLS_WATCH}: ${chk.consistent ? 'consistent' : chk.why}, ${chk.wrong} wrong\n`,
    );
  }
  const afterWatch = await finishAndCompare(root, work, 'watch');
  process.stdout.write(`after the watch kills: ${afterWatch.detail}\n`);

  // Corruption: every file kind × every damage, and the crafted stores.
  const cleanWork = path.join(work, 'corrupt');
  mkdirSync(cleanWork, { recursive: true });
  const clean = await buildClean(cleanWork, SAMPLE_PROJECT);
  // Cases run a few at a time (each is three CLI runs, mostly model loading).
  const jobs: [string, (store: string, root: string) => void][] = [];
  for (const kind of FILE_KINDS) {
    for (const how of DAMAGES) {
      const rnd = prng(kind.length * 131 + how.length);
      jobs.push([
        `${kind}-${how}`,
        (store) => {
          if (kind === 'journal') seedJournal(store);
          damage(store, kind, how, rnd);
        },
      ]);
    }
  }
  jobs.push(...Object.entries(craftedCases()));
  const outcomes: CaseOutcome[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Number(process.env.FAULT_JOBS ?? 3) }, async () => {
      while (next < jobs.length) {
        const [name, mutate] = jobs[next++];
        const o = await runCase(name, clean, cleanWork, mutate, 180_000);
        outcomes.push(o);
        process.stdout.write(
          `${o.name}: ${o.rebuilt ? 'rebuilt' : 'NOT rebuilt'}${o.noCrash ? '' : ', CRASH'}${o.noHang ? '' : ', HANG'} ${o.detail.slice(0, 200)}\n`,
        );
      }
    }),
  );
  rmSync(work, { recursive: true, force: true });

  const n = (k: keyof CaseOutcome) => outcomes.filter((o) => o[k] === true).length;
  const kills = kill.index.rounds + kill.watch.rounds;
  const consistent = kill.index.consistent + kill.watch.consistent;
  const wrong = kill.index.wrong + kill.watch.wrong;
  const M = outcomes.length;
  const summary = `kill -9 ×${kills}: ${consistent} consistent, ${wrong} wrong; corruption ×${M}: ${n('rebuilt')} rebuilt, ${M - n('noCrash')} crashes, ${M - n('noHang')} hangs`;
  const result = {
    date: new Date().toISOString(),
    machine: `${os.cpus()[0]?.model ?? '?'} ×${os.cpus().length}, ${process.platform}-${process.arch}, node ${process.version}`,
    model: 'loupe-tiny-bert (generated test model, llama.cpp, CPU)',
    summary,
    killDuringIndex: { ...kill.index, finishedIndexEqualsClean: afterIndex.equal, finish: afterIndex.detail },
    killDuringWatch: { ...kill.watch, finishedIndexEqualsClean: afterWatch.equal, finish: afterWatch.detail },
    corruption: {
      cases: M,
      rebuilt: n('rebuilt'),
      crashes: M - n('noCrash'),
      hangs: M - n('noHang'),
      warned: n('warned'),
      touchedOutsideStore: M - n('outsideUntouched'),
      resultsOutsideRoot: M - n('confined'),
      failures: outcomes
        .filter((o) => !(o.rebuilt && o.noCrash && o.noHang && o.outsideUntouched && o.confined))
        .map((o) => ({ name: o.name, detail: o.detail })),
    },
    seconds: Math.round((Date.now() - t0) / 1000),
  };
  const outDir = path.join(REPO, 'test/bench/results');
  mkdirSync(outDir, { recursive: true });
  const out = path.join(outDir, `faults-${result.date.slice(0, 10)}.json`);
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  process.stdout.write(`${summary}\nwrote ${path.relative(REPO, out)}\n`);
}

await main();
