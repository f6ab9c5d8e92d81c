/**
 * Garbage collection in the store folder: only files of the store's own naming pattern are ever
 * deleted, and entries a hostile store put in their place are removed, never followed.
 */
import { lstatSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { fsyncDir } from '../fsutil.js';
import { OWNED_FILE, removeOwned } from './format.js';
import type { Manifest } from './manifest.js';

/** Removes leftovers of an interrupted snapshot: temp files and generations the manifest does not name. */
export function removeStale(dir: string, m: Manifest): void {
  const live = new Set(['manifest.json', m.meta.name, m.ann?.name, m.vectors.name, m.journal.name, m.bm25?.name]);
  for (const name of readdirSync(dir)) {
    if (!live.has(name) && OWNED_FILE.test(name) && name !== 'lexical.log') removeOwned(path.join(dir, name));
  }
}

/** Removes every file of the vector store's naming pattern (never anything else in the folder). */
export function wipe(dir: string): void {
  // The manifest first: a wipe cut short then leaves no manifest naming missing files.
  removeOwned(path.join(dir, 'manifest.json'));
  fsyncDir(dir);
  for (const name of readdirSync(dir)) {
    if (OWNED_FILE.test(name) && name !== 'lexical.log') removeOwned(path.join(dir, name));
  }
  // The lexical log is keyed by content and checked line by line: kept, unless it is not a file.
  const lex = path.join(dir, 'lexical.log');
  try {
    if (!lstatSync(lex).isFile()) removeOwned(lex);
  } catch {
    // none
  }
}

/** Bytes on disk of the store's files. */
export function diskBytes(dir: string): number {
  let total = 0;
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    try {
      total += lstatSync(path.join(dir, name)).size;
    } catch {
      // raced with a snapshot's cleanup
    }
  }
  return total;
}
