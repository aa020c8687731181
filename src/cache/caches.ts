// A mount's caches as one unit: the metadata cache and the block cache, each a TieredCache
// over its own tiers, with the settings, statistics and invalidations that span both.
import type { Logger } from '../log.js';
import { type BlockCache, type BlockId, blockParams } from './block-cache.js';
import type { BlockTier } from './block-tier.js';
import type { ColdSettings } from './cold-codec.js';
import type { LowerTier } from './lower-tier.js';
import { MemoryTier } from './memory-tier.js';
import type { MetadataCache } from './metadata-cache.js';
import { OpCounters } from './op-stats.js';
import { TieredCache } from './tiered-cache.js';
import type { CacheConfig, CacheStats } from './types.js';

export interface Caches {
  readonly metadata: MetadataCache;
  readonly blocks: BlockCache;
  /** The block tier below memory (local disk), when the mount has one. */
  readonly blockTier?: BlockTier;
  /** The metadata tiers below memory (local disk, shared), top first. */
  readonly metadataTiers: readonly LowerTier[];
  /** The bound that the disk tiers of blocks and metadata share, when the mount has them. */
  readonly disk?: DiskCacheBound;
  /** Drops every entry of one object key, in both caches; returns how many. */
  invalidateKey(bucket: string, key: string): number;
  /** Drops every entry under a key prefix, in both caches; returns how many. */
  invalidatePrefix(bucket: string, prefix: string): number;
  clear(): void;
  /** Drops every metadata entry (HEAD answers, listings), in memory and in the tiers below; content stays. */
  clearMetadata(): void;
  /** Loads in flight in either cache (background prefetches included). */
  readonly loading: number;
  /**
   * Keeps every large metadata entry left unused for the cold settings' time compressed now
   * (a timer does it too); returns how many. 0 when the caches keep nothing compressed.
   */
  compressIdle(): number;
  stats(): CacheStats;
  /** Change TTLs or bounds at run time; shrinking a bound evicts at once; new TTLs apply to new entries. */
  configure(changes: Partial<Omit<CacheConfig, 'now'>>): void;
  readonly config: Readonly<CacheConfig>;
}

/** One byte bound for everything a mount keeps on local disk (blocks and metadata). */
export interface DiskCacheBound {
  readonly maxBytes: number;
  /** Shrinking evicts at once. */
  resize(maxBytes: number): void;
}

/** What sits below the memory tiers. */
export interface LowerTiers {
  /** Blocks on local disk. */
  blocks?: BlockTier;
  /** Metadata tiers, top first (local disk, then shared). */
  metadata?: readonly LowerTier[];
  /** The bound the disk tiers share. */
  disk?: DiskCacheBound;
  /** Wall clock for the lower metadata tiers' expiry (tests inject one). */
  wallNow?: () => number;
}

/**
 * Both caches in memory, on lru-cache, over the lower tiers given; with `cold`, large metadata
 * entries left unused for a while are kept compressed in memory.
 */
export function createCaches(config: CacheConfig, log: Logger, lower: LowerTiers = {}, cold?: ColdSettings): Caches {
  return new MountCaches(config, log, lower, cold);
}

/** Both caches in memory only. */
export function createMemoryCaches(config: CacheConfig, log: Logger, cold?: ColdSettings): Caches {
  return new MountCaches(config, log, {}, cold);
}

class MountCaches implements Caches {
  readonly metadata: TieredCache;
  readonly blocks: BlockCache;
  private readonly blockLoads: TieredCache;
  private readonly counters = new OpCounters();
  private readonly metadataTier: MemoryTier;
  private readonly blockMemory: MemoryTier;
  private currentConfig: CacheConfig;
  readonly blockTier?: BlockTier;
  readonly metadataTiers: readonly LowerTier[];
  readonly disk?: DiskCacheBound;

  constructor(config: CacheConfig, log: Logger, lower: LowerTiers = {}, cold?: ColdSettings) {
    this.blockTier = lower.blocks;
    this.disk = lower.disk;
    this.metadataTiers = lower.metadata ?? [];
    this.currentConfig = { ...config, opTtlMs: { ...config.opTtlMs } };
    const onDrop = (op: keyof OpCounters['byOp'], reason: 'evict' | 'expire') => {
      if (reason === 'evict') this.counters.byOp[op].evictions++;
      else this.counters.byOp[op].expired++;
    };
    this.metadataTier = new MemoryTier({ name: 'metadata/memory', boundBy: 'entries', bound: config.maxMetadataEntries, now: config.now, onDrop, cold, log });
    this.blockMemory = new MemoryTier({ name: 'blocks/memory', boundBy: 'bytes', bound: config.maxContentBytes, now: config.now, onDrop });
    // Both read the TTL rules from here, so configure() reaches them.
    this.metadata = new TieredCache([this.metadataTier], this.currentConfig, this.counters, log, this.metadataTiers, lower.wallNow);
    this.blockLoads = new TieredCache([this.blockMemory], this.currentConfig, this.counters, log);
    this.blocks = blockCacheOver(this.blockLoads, this.blockTier);
  }

  get config(): Readonly<CacheConfig> {
    return this.currentConfig;
  }

  get loading(): number {
    return this.metadata.loading + this.blockLoads.loading;
  }

  compressIdle(): number {
    return this.metadataTier.compressIdle();
  }

  invalidateKey(bucket: string, key: string): number {
    return this.metadata.invalidateKey(bucket, key) + this.blockLoads.invalidateKey(bucket, key) + (this.blockTier?.invalidateKey(bucket, key) ?? 0);
  }

  invalidatePrefix(bucket: string, prefix: string): number {
    return (
      this.metadata.invalidatePrefix(bucket, prefix) +
      this.blockLoads.invalidatePrefix(bucket, prefix) +
      (this.blockTier?.invalidatePrefix(bucket, prefix) ?? 0)
    );
  }

  clearMetadata(): void {
    this.metadata.clear();
  }

  clear(): void {
    this.metadata.clear();
    this.blockLoads.clear();
    this.blockTier?.clear();
  }

  stats(): CacheStats {
    const { byOp, totals } = this.counters.snapshot();
    const metadata = this.metadataTier.stats();
    const content = this.blockMemory.stats();
    return {
      metadata: { entries: metadata.entries, maxEntries: this.currentConfig.maxMetadataEntries },
      content: { entries: content.entries, bytes: content.bytes, maxBytes: this.currentConfig.maxContentBytes },
      byOp,
      totals,
      bypassed: this.counters.bypassed,
      tiers: [...this.metadata.tierStats(), ...this.blockLoads.tierStats(), ...(this.blockTier ? [this.blockTier.stats()] : [])],
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
      this.blockMemory.resize(changes.maxContentBytes);
    }
  }
}

/**
 * The block cache: memory first (with single flight), then the tier below, then the loader.
 * When the tier below does not hold a block, the loader is called before fetch returns, as
 * BlockCache promises; only a block the tier held but could not read (torn, corrupt) is
 * loaded later.
 */
function blockCacheOver(loads: TieredCache, below?: BlockTier): BlockCache {
  const keyOf = (id: BlockId) => ({ op: 'block' as const, bucket: id.bucket, key: id.key, params: blockParams(id) });
  const sizeOf = (bytes: Buffer) => bytes.length;
  if (!below) {
    return {
      fetch: (id, load) => loads.fetch<Buffer>(keyOf(id), load, { sizeOf }),
      has: (id) => loads.has(keyOf(id)),
    };
  }
  const loadAndKeep = (id: BlockId, load: () => Promise<Buffer>) =>
    load().then((bytes) => {
      below.write(id, bytes);
      return bytes;
    });
  const fromBelow = async (id: BlockId, load: () => Promise<Buffer>): Promise<Buffer> => {
    const ready = below.ready?.(id.bucket, id.key);
    if (ready) await ready;
    if (!below.probe(id)) return loadAndKeep(id, load);
    return below.read(id).then((bytes) => bytes ?? loadAndKeep(id, load));
  };
  return {
    fetch: (id, load) => loads.fetch<Buffer>(keyOf(id), () => fromBelow(id, load), { sizeOf }),
    has: (id) => loads.has(keyOf(id)) || below.has(id),
  };
}
