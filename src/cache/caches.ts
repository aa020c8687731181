// A mount's caches as one unit: the metadata cache and the block cache, each a TieredCache
// over its own tiers, with the settings, statistics and invalidations that span both.
import type { Logger } from '../log.js';
import { blockParams, type BlockCache, type BlockId } from './block-cache.js';
import { MemoryTier } from './memory-tier.js';
import type { MetadataCache } from './metadata-cache.js';
import { OpCounters } from './op-stats.js';
import { TieredCache } from './tiered-cache.js';
import type { CacheConfig, CacheStats } from './types.js';

export interface Caches {
  readonly metadata: MetadataCache;
  readonly blocks: BlockCache;
  /** Drops every entry of one object key, in both caches; returns how many. */
  invalidateKey(bucket: string, key: string): number;
  /** Drops every entry under a key prefix, in both caches; returns how many. */
  invalidatePrefix(bucket: string, prefix: string): number;
  clear(): void;
  /** Loads in flight in either cache (background prefetches included). */
  readonly loading: number;
  stats(): CacheStats;
  /** Change TTLs or bounds at run time; shrinking a bound evicts at once; new TTLs apply to new entries. */
  configure(changes: Partial<Omit<CacheConfig, 'now'>>): void;
  readonly config: Readonly<CacheConfig>;
}

/** Both caches in memory, on lru-cache. */
export function createMemoryCaches(config: CacheConfig, log: Logger): Caches {
  return new MountCaches(config, log);
}

class MountCaches implements Caches {
  readonly metadata: TieredCache;
  readonly blocks: BlockCache;
  private readonly blockLoads: TieredCache;
  private readonly counters = new OpCounters();
  private readonly metadataTier: MemoryTier;
  private readonly blockTier: MemoryTier;
  private currentConfig: CacheConfig;

  constructor(config: CacheConfig, log: Logger) {
    this.currentConfig = { ...config, opTtlMs: { ...config.opTtlMs } };
    const onDrop = (op: keyof OpCounters['byOp'], reason: 'evict' | 'expire') => {
      if (reason === 'evict') this.counters.byOp[op].evictions++;
      else this.counters.byOp[op].expired++;
    };
    this.metadataTier = new MemoryTier({ name: 'metadata/memory', boundBy: 'entries', bound: config.maxMetadataEntries, now: config.now, onDrop });
    this.blockTier = new MemoryTier({ name: 'blocks/memory', boundBy: 'bytes', bound: config.maxContentBytes, now: config.now, onDrop });
    // Both read the TTL rules from here, so configure() reaches them.
    this.metadata = new TieredCache([this.metadataTier], this.currentConfig, this.counters, log);
    this.blockLoads = new TieredCache([this.blockTier], this.currentConfig, this.counters, log);
    this.blocks = blockCacheOver(this.blockLoads);
  }

  get config(): Readonly<CacheConfig> {
    return this.currentConfig;
  }

  get loading(): number {
    return this.metadata.loading + this.blockLoads.loading;
  }

  invalidateKey(bucket: string, key: string): number {
    return this.metadata.invalidateKey(bucket, key) + this.blockLoads.invalidateKey(bucket, key);
  }

  invalidatePrefix(bucket: string, prefix: string): number {
    return this.metadata.invalidatePrefix(bucket, prefix) + this.blockLoads.invalidatePrefix(bucket, prefix);
  }

  clear(): void {
    this.metadata.clear();
    this.blockLoads.clear();
  }

  stats(): CacheStats {
    const { byOp, totals } = this.counters.snapshot();
    const metadata = this.metadataTier.stats();
    const content = this.blockTier.stats();
    return {
      metadata: { entries: metadata.entries, maxEntries: this.currentConfig.maxMetadataEntries },
      content: { entries: content.entries, bytes: content.bytes, maxBytes: this.currentConfig.maxContentBytes },
      byOp,
      totals,
      bypassed: this.counters.bypassed,
      tiers: [...this.metadata.tierStats(), ...this.blockLoads.tierStats()],
    };
  }

  configure(changes: Partial<Omit<CacheConfig, 'now'>>): void {
    // Mutated in place: the TieredCaches hold this object as their TTL rules.
    const config = this.currentConfig;
    if (changes.ttlMs !== undefined) config.ttlMs = changes.ttlMs;
    if (changes.opTtlMs) config.opTtlMs = Object.assign(config.opTtlMs, changes.opTtlMs);
    if (changes.maxMetadataEntries !== undefined) {
      config.maxMetadataEntries = changes.maxMetadataEntries;
      this.metadataTier.resize(changes.maxMetadataEntries);
    }
    if (changes.maxContentBytes !== undefined) {
      config.maxContentBytes = changes.maxContentBytes;
      this.blockTier.resize(changes.maxContentBytes);
    }
  }
}

function blockCacheOver(loads: TieredCache): BlockCache {
  const keyOf = (id: BlockId) => ({ op: 'block' as const, bucket: id.bucket, key: id.key, params: blockParams(id) });
  return {
    fetch: (id, load) => loads.fetch<Buffer>(keyOf(id), load, { sizeOf: (bytes) => bytes.length }),
    has: (id) => loads.has(keyOf(id)),
  };
}
