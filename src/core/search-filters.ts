/**
 * Filters on ranked search results (path glob, languages), applied by the engine host to a
 * deeper ranking so `k` results survive a narrow filter more often.
 */
import ignore from 'ignore';
import type { SearchFilters } from './protocol.js';
import { LoupeError, type SearchResult } from './types.js';

/** True when no filter is set. */
export function noFilters(f: SearchFilters | undefined): boolean {
  return !f || (!f.path && !(f.languages && f.languages.length));
}

/** A predicate for results; throws `bad-args` on a malformed filter. */
export function filterPredicate(f: SearchFilters | undefined): (r: Pick<SearchResult, 'path' | 'language'>) => boolean {
  if (noFilters(f)) return () => true;
  const langs = f!.languages?.length ? new Set(f!.languages.map((l) => l.toLowerCase())) : null;
  let glob: ((p: string) => boolean) | null = null;
  if (f!.path) {
    const pattern = f!.path.trim();
    if (!pattern || pattern.startsWith('!')) throw new LoupeError(`Bad path filter "${f!.path}": give a glob such as src/** or *.py`, 'bad-args');
    // gitignore semantics: `*.py` matches at any depth, `src/**` under src/.
    const ig = ignore().add(pattern);
    glob = (p) => ig.ignores(p);
  }
  return (r) => (!langs || langs.has(r.language.toLowerCase())) && (!glob || glob(r.path));
}
