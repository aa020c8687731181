// Types shared by the caches between the filesystem and S3: what identifies an entry, how
// long it lives, and the statistics every cache and tier reports.

/**
 * What a cached value came from.
 * - head:  HeadObject of a key (or a "no such key" answer, when negative caching is on)
 * - list:  one ListObjectsV2 page of a directory prefix (params: continuation token, "" for the first)
 * - dir:   a whole directory assembled from its pages (key: the directory prefix)
 * - block: a fixed-size block of object content (params: ETag and block index)
 */
export type CacheOp = MetadataOp | 'block';
export type MetadataOp = 'head' | 'list' | 'dir';

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
  /**
   * Kept in memory alone: the tiers below (disk, shared) are neither asked nor written. For
   * answers whose lasting twin is kept below under another key (a HEAD answer's version entry),
   * so that each load costs one entry below, not two, and a miss one question below, not two.
   */
  memoryOnly?: boolean;
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

/** What one tier holds and has done; a disk or shared tier reports its own. */
export interface TierStats {
  /** Which cache and where: "metadata/memory", "blocks/memory", later "blocks/disk". */
  tier: string;
  entries: number;
  /** Bytes held (logical, before any compression). */
  bytes: number;
  maxEntries?: number;
  maxBytes?: number;
  evictions: number;
  expired: number;
  /** A tier that stores entries compressed: the bytes it takes up (bytes above is what they hold). */
  storedBytes?: number;
  /** A tier below memory counts its own lookups: found, not found. */
  hits?: number;
  misses?: number;
  /** Entries found torn or corrupt (dropped and fetched again), and reads or writes that failed. */
  errors?: number;
  /** A memory tier that keeps cold entries compressed: how many are, and the bytes they take up so. */
  compressedEntries?: number;
  compressedBytes?: number;
  /** What those entries would take as live objects (estimated) minus what they take compressed. */
  savedBytes?: number;
  /** Cold entries decoded again on use. */
  decompressions?: number;
}

export interface CacheStats {
  /** Entries and bytes held right now, per cache. */
  metadata: { entries: number; maxEntries: number };
  content: { entries: number; bytes: number; maxBytes: number };
  byOp: Record<CacheOp, OpStats>;
  totals: OpStats;
  /** Internal cache failures that were bypassed (the filesystem call went on without the cache). */
  bypassed: number;
  /** Per tier, top first. */
  tiers: TierStats[];
}
