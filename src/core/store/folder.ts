/**
 * Which folders may become a store: never `/`, the home folder or the indexed folder; a folder
 * is claimed only when new, empty, or an older Loupe's store, and is then marked STORE_MARKER.
 */
import { lstatSync, mkdirSync, readdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeFileAtomic } from '../fsutil.js';
import { LoupeError } from '../types.js';
import { lstatExists, OTHER_OWNED, OWNED_FILE, STORE_MARKER } from './format.js';
import { readManifest } from './manifest.js';

/**
 * Refuses store folders that would put user files at risk: `/`, the home folder and the indexed
 * folder itself (Loupe deletes the files of its naming pattern in its store folder).
 */
export function checkStoreDir(storeDir: string, root?: string): void {
  const dir = path.resolve(storeDir);
  const refuse = (why: string) => {
    throw new LoupeError(`Refusing to use ${dir} as the index folder: ${why}. Choose a new or empty folder for --store.`, 'bad-store');
  };
  if (dir === path.parse(dir).root) refuse('it is the root of the file system');
  if (dir === path.resolve(os.homedir())) refuse('it is the home folder');
  if (root && dir === path.resolve(root)) refuse('it is the folder being indexed');
}

/**
 * Makes sure `dir` is a Loupe store folder a writer may use: creates it (marked) when missing,
 * marks it when empty or when it is a store of an older Loupe (a valid manifest and only files of
 * the store's own names); refuses any other folder, so its files are never deleted or overwritten.
 */
export function claimStoreDir(dir: string): void {
  checkStoreDir(dir);
  let st;
  try {
    st = lstatSync(dir);
  } catch {
    mkdirSync(dir, { recursive: true });
    writeFileAtomic(path.join(dir, STORE_MARKER), 'This folder is a Loupe index. Loupe may delete the files it wrote here.\n');
    return;
  }
  if (st.isSymbolicLink()) {
    // A link (e.g. `.loupe` in a cloned repository) is followed only to a folder Loupe marked.
    try {
      st = lstatSync(path.join(dir, STORE_MARKER));
      if (st.isFile()) return;
    } catch {
      // not marked
    }
    throw new LoupeError(`Refusing to use ${dir} as the index folder: it is a link to a folder Loupe did not create.`, 'bad-store');
  }
  if (!st.isDirectory()) throw new LoupeError(`Refusing to use ${dir} as the index folder: it is not a folder.`, 'bad-store');
  const names = readdirSync(dir);
  if (names.includes(STORE_MARKER)) return;
  const legacy =
    names.includes('manifest.json') && readManifest(dir) !== null && names.every((n) => OWNED_FILE.test(n) || OTHER_OWNED.test(n));
  if (names.length && !legacy) {
    throw new LoupeError(
      `Refusing to use ${dir} as the index folder: it holds files Loupe did not write (${names.slice(0, 3).join(', ')}${names.length > 3 ? ', …' : ''}). ` +
        'Choose a new or empty folder for --store.',
      'bad-store',
    );
  }
  writeFileAtomic(path.join(dir, STORE_MARKER), 'This folder is a Loupe index. Loupe may delete the files it wrote here.\n');
}

/**
 * Keeps the index out of the user's `git status` when it lives inside their tree (only ever
 * inside the store's own folder, and only when absent).
 */
export function writeStoreGitignore(dir: string): void {
  try {
    const gi = path.join(dir, '.gitignore');
    if (!lstatExists(gi)) writeFileAtomic(gi, "# Loupe's index: not for version control\n*\n");
  } catch {
    // not essential
  }
}
