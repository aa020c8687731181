// One level of a cache: where entries are kept, bounded, expired and found again by key or
// by object key. The memory tier is the only one today; a disk or shared tier implements the
// same contract (asynchronously) and sits below it in a TieredCache.
import type { CacheOp, TierStats } from './types.js';

/** Why an entry left a tier on its own. */
export type DropReason = 'evict' | 'expire';

export interface CacheTier {
  readonly name: string;
  /** The fresh value under `cacheKey`, refreshing its recency. */
  get(cacheKey: string): object | undefined;
  has(cacheKey: string): boolean;
  /**
   * How long the fresh value under `cacheKey` has left (ms), so that a value edited in place
   * keeps the expiry of what it was learned from. A tier that cannot tell leaves it out, and
   * an edited value then gets a whole TTL.
   */
  remainingTtl?(cacheKey: string): number | undefined;
  /**
   * Keeps `value` for `ttlMs`; `size` counts against a byte bound (ignored by an entry bound).
   * `indexKey` (bucket + object key) is what invalidations find it by. False when not kept
   * (larger than the whole bound).
   */
  set(cacheKey: string, indexKey: string, op: CacheOp, value: object, ttlMs: number, size: number): boolean;
  /** Drops the entries of one index key; returns how many. */
  dropIndexKey(indexKey: string): number;
  /** Drops the entries of every index key starting with `indexPrefix`; returns how many. */
  dropUnder(indexPrefix: string): number;
  clear(): void;
  /** A new bound (entries or bytes, whichever the tier counts); shrinking evicts at once. */
  resize(bound: number): void;
  stats(): TierStats;
}
