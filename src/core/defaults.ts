/**
 * One home for the defaults that several layers share (issue 15): where an index lives, how many
 * chunks go into one embedding unit, and how a compute-device setting becomes a GPU choice. The
 * CLI, the extension, the engine process and the benchmarks read them from here.
 */
import * as path from 'node:path';

/** The store folder's name inside the indexed folder, unless `--store` / `loupe.storage.location` says otherwise. */
export const STORE_DIR_NAME = '.loupe';

/** The store folder an index of `root` uses: `storeDir` when given (resolved), else `<root>/.loupe`. */
export function storeDirFor(root: string, storeDir?: string | null): string {
  return storeDir ? path.resolve(storeDir) : path.join(path.resolve(root), STORE_DIR_NAME);
}

/** Chunks per embedding unit at full speed (the scheduler's back-off levels use smaller units). */
export const DEFAULT_BATCH_SIZE = 32;

/** A compute-device setting as node-llama-cpp's GPU choice: `cpu` forces the CPU, anything else lets it pick. */
export function gpuChoice(device: string | undefined): false | 'auto' {
  return device === 'cpu' ? false : 'auto';
}
