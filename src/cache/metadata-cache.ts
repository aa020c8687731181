// The metadata cache: HEAD answers (and "no such key" answers), listing pages and assembled
// directory listings, by bucket and key. The filesystem's names/ layer is its only reader.
import type { CacheFetchOptions, CacheKey, MetadataOp } from './types.js';

/** One metadata entry: what it came from (head, list, dir), bucket, key and parameters. */
export type MetadataKey = CacheKey & { op: MetadataOp };

export interface MetadataCache {
  /**
   * The cached value for `key`, or the loader's result, stored under the TTL rules.
   * Concurrent calls for one key share one loader call. A loader's error is rethrown
   * to every waiter and never stored. A failure of the cache itself is logged and
   * bypassed by calling the loader directly.
   */
  fetch<T extends object>(key: MetadataKey, load: () => Promise<T>, options?: CacheFetchOptions<T>): Promise<T>;
  /** The cached value if present and fresh, without loading. Counts a hit when found (a miss is counted by the fetch that follows, if any). */
  peek<T extends object>(key: MetadataKey): T | undefined;
  /**
   * The value memory holds for `key`, else the first tier below it (local disk, shared) that
   * holds it fresh, kept in memory for the time it has left; undefined when none does. Never
   * calls the loader nor joins a load. Counts a hit when found; a miss is counted by the
   * fetch that follows, if any. Concurrent recalls of one key share one lookup below.
   */
  recall<T extends object>(key: MetadataKey): Promise<T | undefined>;
  /** Whether fetch would answer without calling its loader (cached, or a load in flight to join). Counts nothing. */
  has(key: MetadataKey): boolean;
  /**
   * How long (ms) the value peek would answer for `key` stays fresh; 0 when not cached. Whatever
   * is derived from cached values holds no longer than the first of them to expire.
   */
  freshForMs(key: MetadataKey): number;
  /** Store a value directly (e.g. listings learned on the way, metadata learned from an upload). */
  set<T extends object>(key: MetadataKey, value: T, options?: Omit<CacheFetchOptions<T>, 'ttlFor'>): void;
  /**
   * How many invalidations (of any scope, clear included) there have been. A caller that
   * stores values derived from an answer checks it did not change while the answer was on
   * its way, as fetch does for the value it loads.
   */
  readonly invalidations: number;
}
