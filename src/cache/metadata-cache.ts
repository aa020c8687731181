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
   * Store a value directly (e.g. listings learned on the way, metadata learned from an upload).
   * A load of the same entry in flight is cancelled: its answer would be older.
   */
  set<T extends object>(key: MetadataKey, value: T, options?: Omit<CacheFetchOptions<T>, 'ttlFor'>): void;
  /**
   * Replaces the cached value of `key` by `change(value)`, keeping its expiry: an answer from S3
   * edited with a change this mount made itself still expires when the answer would have, so
   * other writers' changes show as late as before, no later. Cancels a load of `key` in flight
   * (its answer may predate the change) and counts in `invalidations`. Returns the new value, or
   * undefined when memory held nothing fresh: nothing is stored then, and tiers below memory
   * drop what they hold for the key.
   */
  update<T extends object>(key: MetadataKey, change: (current: T) => T): T | undefined;
  /** How long the cached value of `key` stays fresh (ms), or undefined when not cached or not known. */
  remainingTtl(key: MetadataKey): number | undefined;
  /**
   * How many invalidations (of any scope, clear included) and updates in place there have been. A caller that
   * stores values derived from an answer checks it did not change while the answer was on
   * its way, as fetch does for the value it loads.
   */
  readonly invalidations: number;
}
