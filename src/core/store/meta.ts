/**
 * meta-<g>.json: the files → chunks snapshot of generation g, checksummed in the manifest.
 */
import { isObj, isUint, MAX_LABEL, StoreDamaged, type FileRecord, type MetaSnapshot } from './format.js';

/**
 * The snapshot in `buf` (already checksum-verified), or null when there is none (it failed its
 * checksum). Throws StoreDamaged for bytes that passed the checksum but are not a snapshot. The
 * file records are checked one by one by the caller.
 */
export function parseMeta(buf: Buffer | null): MetaSnapshot | null {
  let snap: unknown = null;
  if (buf) {
    try {
      snap = JSON.parse(buf.toString('utf8'));
    } catch {
      snap = null;
    }
  }
  if (!isObj(snap) || !isObj(snap.files) || !isUint(snap.nextLabel, MAX_LABEL + 1)) {
    if (buf) throw new StoreDamaged('its metadata is malformed');
    return null;
  }
  return snap as unknown as MetaSnapshot;
}

/** The snapshot file's bytes. */
export function encodeMeta(files: Map<string, FileRecord>, nextLabel: number): Buffer {
  const snap: MetaSnapshot = { files: Object.fromEntries(files), nextLabel };
  return Buffer.from(JSON.stringify(snap));
}
