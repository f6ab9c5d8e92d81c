/**
 * `npm run bench:watch-latency`: how long after a write the live watcher knows about it, and
 * whether a search right after the write sees it (what the engine's `sync` promises an agent).
 *
 * A writer child process (standing in for an agent or an editor) makes one change at a time in
 * a watched tree, then tells this process over IPC, as an agent's request reaches the engine
 * after its write. This process runs the real ChokidarWatcher (adapters/chokidar-watcher.ts)
 * and, on each message, records whether the OS event for the change had already arrived, and
 * after one and two turns of the event loop; then it waits as a sync would, by one of three
 * rules taken in turn round by round (`catchUp`: `watcher.catchUp()`, what the engine does now;
 * `grace25`: the former 25 ms sleep, then `idle()`; `none`: `idle()` at once, no yield), and
 * checks that every path the change touched reached `onBatch`.
 *
 * Kinds of change (one each per round): change (rewrite), append, add, unlink, rename (file),
 * atomic save (temp file renamed over), new folder with files (two levels), folder rename, and
 * noop (nothing written: the cost of a sync when nothing changed).
 *
 * Latencies use process.hrtime (CLOCK_MONOTONIC on Linux, shared by both processes): from the
 * writer's return from its last system call to the watcher's raw event (`raw`), to the
 * adapter's classified event (`queued`), and to this process receiving the message (`message`);
 * negative: the event of an earlier system call of the change (a write before its close, a temp
 * file before the rename) came before the last call returned.
 * Env: ROUNDS per rule (default 25 → 200 writes + 25 noops each), RULES (default
 * catchUp,grace25,none), DEBOUNCE_MS (default 50; the engine
 * uses 300, which only lengthens the wait for a batch, not the event delivery measured here),
 * BENCH_OUT (default test/bench/results/watch-latency-<date>.json).
 */
import { fork } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChokidarWatcher } from '../../src/adapters/chokidar-watcher.js';
import { summarize } from '../../src/core/bench/stats.js';

const SELF = fileURLToPath(import.meta.url);
const REPO = path.resolve(path.dirname(SELF), '../../..');
const ROUNDS = Number(process.env.ROUNDS ?? 25);
type Rule = 'catchUp' | 'grace25' | 'none';
const RULES = (process.env.RULES ?? 'catchUp,grace25,none').split(',') as Rule[];
const DEBOUNCE_MS = Number(process.env.DEBOUNCE_MS ?? 50);
const KINDS = ['change', 'append', 'add', 'unlink', 'rename', 'atomic', 'newdir', 'dirrename', 'noop'] as const;
type Kind = (typeof KINDS)[number];

/** What one change must produce: each path reported changed or deleted. */
interface Expect {
  path: string;
  state: 'changed' | 'deleted';
}
interface Done {
  i: number;
  kind: Kind;
  /** hrtime (ns) when the writer's last system call for this change returned. */
  doneNs: string;
  /** The entry whose event the watched folder reports first (for the raw latency). */
  probe: string | null;
  expect: Expect[];
}

const nowNs = (): bigint => process.hrtime.bigint();
const ms = (ns: bigint): number => Number(ns) / 1e6;

/** The writer: one change per `do` message, then `done`. */
function writer(root: string): void {
  const abs = (rel: string): string => path.join(root, rel);
  process.on('message', (m: { i: number; kind: Kind; round: number } | 'exit') => {
    if (m === 'exit') process.exit(0);
    const { i, kind, round: r } = m;
    let probe: string | null = null;
    let expect: Expect[] = [];
    const text = `export const v${i} = ${i}; // ${kind} ${Date.now()}\n`;
    switch (kind) {
      case 'change':
        writeFileSync(abs((probe = `src/f${r % 10}.ts`)), text);
        expect = [{ path: probe, state: 'changed' }];
        break;
      case 'append':
        appendFileSync(abs((probe = 'src/log.ts')), text);
        expect = [{ path: probe, state: 'changed' }];
        break;
      case 'add':
        writeFileSync(abs((probe = `src/new${r}.ts`)), text);
        expect = [{ path: probe, state: 'changed' }];
        break;
      case 'unlink':
        unlinkSync(abs((probe = `src/new${r}.ts`)));
        expect = [{ path: probe, state: 'deleted' }];
        break;
      case 'rename':
        renameSync(abs((probe = `src/ren${r}.ts`)), abs(`src/ren${r + 1}.ts`));
        expect = [
          { path: probe, state: 'deleted' },
          { path: `src/ren${r + 1}.ts`, state: 'changed' },
        ];
        break;
      case 'atomic':
        // An editor's safe save: a temporary file renamed over the original.
        writeFileSync(abs('src/.saved.ts.tmp'), text);
        renameSync(abs('src/.saved.ts.tmp'), abs((probe = 'src/saved.ts')));
        expect = [{ path: probe, state: 'changed' }];
        break;
      case 'newdir':
        mkdirSync(abs(`d${r}/sub`), { recursive: true });
        writeFileSync(abs(`d${r}/top.ts`), text);
        writeFileSync(abs(`d${r}/sub/deep.ts`), text);
        probe = `d${r}`;
        expect = [
          { path: `d${r}/top.ts`, state: 'changed' },
          { path: `d${r}/sub/deep.ts`, state: 'changed' },
        ];
        break;
      case 'dirrename':
        renameSync(abs((probe = `d${r}`)), abs(`e${r}`));
        expect = ['top.ts', 'sub/deep.ts'].flatMap((f): Expect[] => [
          { path: `d${r}/${f}`, state: 'deleted' },
          { path: `e${r}/${f}`, state: 'changed' },
        ]);
        break;
      case 'noop':
        break;
    }
    const done: Done = { i, kind, doneNs: String(nowNs()), probe, expect };
    process.send!(done);
  });
  process.send!('ready');
}

async function main(): Promise<void> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'loupe-watch-latency-'));
  mkdirSync(path.join(root, 'src'));
  for (let f = 0; f < 10; f++) writeFileSync(path.join(root, 'src', `f${f}.ts`), '', { flag: 'w' });
  for (const f of ['log.ts', 'saved.ts', 'ren0.ts']) writeFileSync(path.join(root, 'src', f), `// ${f}\n`);
  mkdirSync(path.join(root, 'node_modules'), { recursive: true });

  const reported = new Map<string, { changed: number; deleted: number }>();
  const count = (p: string) => reported.get(p) ?? { changed: 0, deleted: 0 };
  const w = new ChokidarWatcher({
    root,
    isIgnored: (rel) => rel.split('/')[0] === 'node_modules',
    debounceMs: DEBOUNCE_MS,
    maxWaitMs: 2000,
  });
  await w.start(async (batch) => {
    for (const p of batch.changed) reported.set(p, { ...count(p), changed: count(p).changed + 1 });
    for (const p of batch.deleted) reported.set(p, { ...count(p), deleted: count(p).deleted + 1 });
  });
  // Instruments the adapter from outside: chokidar's raw events and the adapter's classified ones
  // (the first of each path since the current change was asked for).
  let sentNs = 0n;
  const first = (m: Map<string, bigint>, p: string): void => {
    if (!((m.get(p) ?? 0n) > sentNs)) m.set(p, nowNs());
  };
  const rawAt = new Map<string, bigint>();
  const queuedAt = new Map<string, bigint>();
  const inner = w as unknown as {
    root: string;
    fsw: { on(e: 'raw', f: (ev: string, name: string | null, d?: { watchedPath?: string }) => void): void };
    queue: { push(p: string, k: string): void };
  };
  inner.fsw.on('raw', (_ev, name, d) => {
    if (!name || !d?.watchedPath) return;
    const dir = path.relative(inner.root, d.watchedPath).split(path.sep).join('/');
    first(rawAt, dir ? `${dir}/${name}` : name);
  });
  const push = inner.queue.push.bind(inner.queue);
  inner.queue.push = (p, k) => {
    first(queuedAt, p);
    push(p, k);
  };

  const child = fork(SELF, ['writer', root], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const messages: ((m: Done | 'ready') => void)[] = [];
  child.on('message', (m) => messages.shift()?.(m as Done | 'ready'));
  const next = () => new Promise<Done | 'ready'>((r) => messages.push(r));
  await next();

  const turn = () => new Promise<void>((r) => setImmediate(r));
  const rows: {
    rule: Rule;
    kind: Kind;
    messageMs: number;
    rawMs: number | null;
    queuedMs: number | null;
    seen: 'atMessage' | 'after1Turn' | 'after2Turns' | 'later' | 'never';
    waitMs: number;
    fresh: boolean;
    missing: string[];
  }[] = [];
  const t0 = performance.now();
  const loadavgAtStart = os.loadavg();
  let i = 0;
  for (let round = 0; round < ROUNDS * RULES.length; round++) {
    const rule = RULES[round % RULES.length];
    for (const kind of KINDS) {
      // Reports counted from before the write: one that came before the message counts too.
      const before = new Map([...reported].map(([p, c]) => [p, { ...c }]));
      sentNs = nowNs();
      const got = next();
      child.send({ i, kind, round });
      const done = (await got) as Done;
      const atMsg = nowNs();
      const doneNs = BigInt(done.doneNs);
      const arrived = (): boolean => done.probe !== null && (rawAt.get(done.probe) ?? 0n) > sentNs;
      let seen: (typeof rows)[number]['seen'] = arrived() ? 'atMessage' : 'never';
      const s = performance.now();
      if (seen === 'never') {
        await turn();
        if (arrived()) seen = 'after1Turn';
        else {
          await turn();
          if (arrived()) seen = 'after2Turns';
        }
      }
      // The wait a sync does (the turns above are part of catchUp's own two turns).
      if (rule === 'catchUp') await w.catchUp();
      else if (rule === 'grace25') await new Promise((r) => setTimeout(r, 25)).then(() => w.idle());
      else await w.idle();
      const waitMs = performance.now() - s;
      if (seen === 'never' && arrived()) seen = 'later';
      const missing = done.expect
        .filter((e) => count(e.path)[e.state] <= (before.get(e.path)?.[e.state] ?? 0))
        .map((e) => `${e.path} ${e.state}`);
      const rel = (t: bigint | undefined): number | null => (t !== undefined && t > sentNs ? ms(t - doneNs) : null);
      rows.push({
        rule,
        kind,
        messageMs: ms(atMsg - doneNs),
        rawMs: done.probe ? rel(rawAt.get(done.probe)) : null,
        queuedMs: done.expect.length ? Math.max(...done.expect.map((e) => rel(queuedAt.get(e.path)) ?? NaN)) : null,
        seen: done.probe ? seen : 'never',
        waitMs,
        fresh: missing.length === 0,
        missing,
      });
      i++;
    }
  }
  child.send('exit');
  await w.close();
  rmSync(root, { recursive: true, force: true });

  const writes = rows.filter((r) => r.kind !== 'noop');
  const by = (f: (r: (typeof rows)[number]) => number | null, set = writes) =>
    summarize(set.map(f).filter((x): x is number => x !== null && Number.isFinite(x)));
  const seenCounts = (set: typeof rows) =>
    Object.fromEntries(
      ['atMessage', 'after1Turn', 'after2Turns', 'later', 'never'].map((k) => [k, set.filter((r) => r.seen === k).length]),
    );
  const out = {
    date: new Date().toISOString(),
    platform: `${process.platform} ${os.release()}`,
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavgAtStart },
    debounceMs: DEBOUNCE_MS,
    roundsPerRule: ROUNDS,
    writes: writes.length,
    // Event delivery does not depend on the rule: all writes together.
    latencyFromWriteMs: {
      message: by((r) => r.messageMs),
      raw: by((r) => r.rawMs),
      queued: by((r) => r.queuedMs),
    },
    rawEventSeen: seenCounts(writes),
    perKind: Object.fromEntries(
      KINDS.filter((k) => k !== 'noop').map((k) => {
        const set = writes.filter((r) => r.kind === k);
        return [k, { rawMs: by((r) => r.rawMs, set), queuedMs: by((r) => r.queuedMs, set), seen: seenCounts(set) }];
      }),
    ),
    rules: Object.fromEntries(
      RULES.map((rule) => {
        const set = writes.filter((r) => r.rule === rule);
        return [
          rule,
          {
            writes: set.length,
            fresh: set.filter((r) => r.fresh).length,
            stale: set.filter((r) => !r.fresh).map((r) => ({ kind: r.kind, seen: r.seen, missing: r.missing })),
            syncWaitMs: {
              withChange: by((r) => r.waitMs, set),
              nothingChanged: by(
                (r) => r.waitMs,
                rows.filter((r) => r.kind === 'noop' && r.rule === rule),
              ),
            },
          },
        ];
      }),
    ),
    loadavgAtEnd: os.loadavg(),
    seconds: Math.round((performance.now() - t0) / 1000),
  };
  const file =
    process.env.BENCH_OUT ?? path.join(REPO, 'test/bench/results', `watch-latency-${new Date().toISOString().slice(0, 10)}.json`);
  writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
  console.log(JSON.stringify(out, null, 2));
  console.error(`wrote ${path.relative(REPO, file)}`);
  const ours = out.rules.catchUp;
  if (ours && ours.fresh !== ours.writes) process.exitCode = 1;
}

if (process.argv[2] === 'writer') writer(process.argv[3]);
else
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
