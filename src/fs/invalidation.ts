// The design's invalidation rule made exact: a change drops the key, its parent
// directory's listing and the mount root's listing, and nothing else.
import type { ObjectCache } from '../cache/types.js';

export class Invalidation {
  constructor(
    private readonly cache: ObjectCache,
    private readonly bucket: string,
    /** The mount's root prefix ("" or ending in "/"). */
    private readonly rootPrefix: string,
  ) {}

  /** A file or directory at `key` (no trailing slash) was created, changed or removed. */
  changed(key: string): void {
    this.cache.invalidateKey(this.bucket, key);
    // The same name as a directory: its probe, listing pages and assembled listing.
    this.cache.invalidateKey(this.bucket, `${key}/`);
    this.cache.invalidateKey(this.bucket, parentPrefix(key));
    this.cache.invalidateKey(this.bucket, this.rootPrefix);
  }

  /** Everything under the directory `key/` changed (a directory rename). */
  changedTree(key: string): void {
    this.cache.invalidatePrefix(this.bucket, `${key}/`);
    this.changed(key);
  }
}

/** Listing prefix of the directory holding `key`: "a/b/c" → "a/b/", "a" → "". */
export function parentPrefix(key: string): string {
  const slash = key.lastIndexOf('/');
  return slash < 0 ? '' : key.slice(0, slash + 1);
}
