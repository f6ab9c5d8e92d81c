/**
 * Store fault injection (bounded form; `npm run bench:faults` is the heavy one): a small index built
 * with the real CLI, then every store file kind damaged every way (bit flip, truncation, deletion,
 * swap with a sibling, zero length, a folder, a FIFO, a link to /dev/zero) and crafted stores
 * (names and indexed paths outside the store, null fields, another model's manifest, an HNSW graph
 * that passes its checksum but would crash hnswlib). Each case runs search, index, search with
 * timeouts and must end without a crash or hang, with the index equal to a clean one, nothing
 * outside the store changed and no result outside the root.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SAMPLE_PROJECT, tempDir } from './support/helpers.js';
import {
  buildClean,
  craftedCases,
  damage,
  DAMAGES,
  FILE_KINDS,
  prng,
  runCase,
  seedJournal,
  type CaseOutcome,
} from './support/store-faults.js';

describe('store faults (real CLI)', () => {
  let work: string;
  let cleanup: () => void;
  let clean: { root: string; search: string[] };
  const outcomes: CaseOutcome[] = [];

  before(async () => {
    ({ dir: work, cleanup } = tempDir('loupe-faults-'));
    clean = await buildClean(work, SAMPLE_PROJECT);
    assert.ok(clean.search.length > 0);
  });
  after(() => {
    const n = outcomes.length;
    const count = (k: keyof CaseOutcome) => outcomes.filter((o) => o[k] === true).length;
    process.stdout.write(
      `# store faults: ${n} cases: ${count('rebuilt')} rebuilt and equal to a clean index, ${n - count('noCrash')} crashes, ` +
        `${n - count('noHang')} hangs, ${count('warned')} with a message, ${n - count('outsideUntouched')} touched files outside the store, ` +
        `${n - count('confined')} results outside the root\n`,
    );
    cleanup();
  });

  const check = (o: CaseOutcome) => {
    outcomes.push(o);
    assert.ok(o.noHang, `hang: ${o.detail}`);
    assert.ok(o.noCrash, `crash: ${o.detail}`);
    assert.ok(o.outsideUntouched, 'a file outside the store changed');
    assert.ok(o.confined, 'a result outside the root');
    assert.ok(o.rebuilt, `not rebuilt to the clean index: ${o.detail}`);
  };

  // Bounded by default: every file kind and every damage, two damages per kind in rotation (each CLI
  // run loads the model); LOUPE_FAULTS=full runs every pair, as `npm run bench:faults` does.
  const full = process.env.LOUPE_FAULTS === 'full';
  for (const [ki, kind] of FILE_KINDS.entries()) {
    for (const [di, how] of DAMAGES.entries()) {
      if (!full && (di + ki) % 4 !== 0) continue;
      test(`${kind}: ${how}`, async () => {
        const rand = prng(kind.length * 31 + how.length);
        check(
          await runCase(`${kind}-${how}`, clean, work, (store) => {
            if (kind === 'journal') seedJournal(store);
            damage(store, kind, how, rand);
          }),
        );
      });
    }
  }

  for (const [name, mutate] of Object.entries(craftedCases())) {
    test(`crafted: ${name}`, async () => {
      const o = await runCase(name, clean, work, mutate);
      check(o);
      assert.ok(o.warned, 'a crafted store is reported');
    });
  }
});
