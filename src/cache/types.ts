// The contract of the cache that sits between the filesystem and S3.
// Everything the filesystem keeps from S3 lives here, under one key scheme,
// so that invalidation, bounds and statistics have one home.

/**
 * What a cached value came from.
 * - head:  HeadObject of a key (or a "no such key" answer, when negative caching is on)
 * - list:  one ListObjectsV2 page of a directory prefix (params: continuation token, "" for the first)
 * - dir:   a whole directory assembled from its pages (key: the directory prefix)
 * - block: a fixed-size block of object content (params: ETag and block index)
 */
export type CacheOp = 'head' | 'list' | 'dir' | 'block';

export const CACHE_OPS: readonly CacheOp[] = ['head', 'list', 'dir', 'block'];

/** Identifies one entry: operation + bucket + key + parameters. */
export interface CacheKey {
  op: CacheOp;
  bucket: string;
  /** Object key for head/block; directory prefix ("" for the bucket root, else ending in "/") for list/dir. */
  key: string;
  /** Anything else that distinguishes the entry (page token, ETag + block index). */
  params?: string;
}

export interface CacheFetchOptions<T> {
  /** TTL of this entry in ms, overriding the per-operation and default TTLs. 0 = do not keep. */
  ttlMs?: number;
  /** TTL chosen from the loaded value (e.g. the negative TTL for a "missing" answer). Wins over ttlMs. */
  ttlFor?: (value: T) => number | undefined;
  /** Bytes the value holds; counted against the byte bound. Defaults to 1 for metadata, buffer length for blocks. */
  sizeOf?: (value: T) => number;
}

export interface CacheConfig {
  /** Default TTL in ms for every entry. */
  ttlMs: number;
  /** Per-operation TTL overrides in ms. */
  opTtlMs: Partial<Record<CacheOp, number>>;
  /** Bound on metadata entries (head, list, dir). */
  maxMetadataEntries: number;
  /** Bound on content bytes (block entries). */
  maxContentBytes: number;
  /** Injected clock in ms (tests); defaults to performance.now-based time. */
  now?: () => number;
}

export interface OpStats {
  /** Answered from the cache. */
  hits: number;
  /** Not in the cache (or expired): the loader was called. */
  misses: number;
  /** Joined a load already in flight for the same entry: no new S3 call. */
  coalesced: number;
  /** Entries found expired when asked for. */
  expired: number;
  /** Entries pushed out by the bounds. */
  evictions: number;
  /** Loader calls that failed (their errors are never cached). */
  loadErrors: number;
}

export interface CacheStats {
  /** Entries and bytes held right now, per cache. */
  metadata: { entries: number; maxEntries: number };
  content: { entries: number; bytes: number; maxBytes: number };
  byOp: Record<CacheOp, OpStats>;
  totals: OpStats;
  /** Internal cache failures that were bypassed (the filesystem call went on without the cache). */
  bypassed: number;
}

export type InvalidationScope = { kind: 'key'; bucket: string; key: string } | { kind: 'prefix'; bucket: string; prefix: string } | { kind: 'bucket'; bucket: string } | { kind: 'all' };

export interface ObjectCache {
  /**
   * The cached value for `key`, or the loader's result, stored under the TTL rules.
   * Concurrent calls for one key share one loader call. A loader's error is rethrown
   * to every waiter and never stored. A failure of the cache itself is logged and
   * bypassed by calling the loader directly.
   */
  fetch<T extends object>(key: CacheKey, load: () => Promise<T>, options?: CacheFetchOptions<T>): Promise<T>;
  /** The cached value if present and fresh, without loading. Counts a hit when found (a miss is counted by the fetch that follows, if any). */
  peek<T extends object>(key: CacheKey): T | undefined;
  /**
   * Whether fetch would answer without calling its loader: a fresh value is cached, or a load
   * is in flight to join. Counts neither a hit nor a miss.
   */
  has(key: CacheKey): boolean;
  /** Store a value directly (e.g. metadata learned from a listing or an upload). */
  set<T extends object>(key: CacheKey, value: T, options?: Omit<CacheFetchOptions<T>, 'ttlFor'>): void;
  /** Drop every entry (any op) whose key equals `key`. Returns how many were dropped. */
  invalidateKey(bucket: string, key: string): number;
  /** Drop every entry whose key starts with `prefix`. */
  invalidatePrefix(bucket: string, prefix: string): number;
  /** Drop every entry of one bucket. */
  invalidateBucket(bucket: string): number;
  clear(): void;
  /**
   * How many invalidations (of any scope, clear included) there have been. A caller that
   * stores values derived from an answer checks it did not change while the answer was on
   * its way, as fetch does for the value it loads.
   */
  readonly invalidations: number;
  stats(): CacheStats;
  /** Change TTLs or bounds at run time; shrinking a bound evicts at once. */
  configure(changes: Partial<Omit<CacheConfig, 'now'>>): void;
  readonly config: Readonly<CacheConfig>;
}
