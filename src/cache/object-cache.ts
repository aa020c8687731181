// The cache between the filesystem and S3, on lru-cache: metadata entries bounded in
// number, content blocks bounded in bytes; TTL per entry; invalidation by key, prefix and
// bucket through a key index; one loader call for concurrent misses; errors never stored.
import { LRUCache } from 'lru-cache';
import type { Logger } from '../log.js';
import { KeyIndex } from './key-index.js';
import { OpCounters } from './op-stats.js';
import type { CacheConfig, CacheFetchOptions, CacheKey, CacheOp, CacheStats, ObjectCache } from './types.js';

interface Entry {
  value: object;
  op: CacheOp;
  indexKey: string;
}

interface Load {
  promise: Promise<object>;
  indexKey: string;
  /** Set when the key is invalidated while loading: the result is returned but not kept. */
  cancelled: boolean;
}

// A separator that cannot occur in bucket names and that S3 keys do not use.
const SEPARATOR = '\u0000';
// Content is bounded by bytes; the entry bound only sizes lru-cache's bookkeeping, which it
// allocates in full up front (a bound of 1,000,000 cost 77 ms at start and about 40 MiB):
// one entry per 4 KiB of the byte bound, within these limits.
const MIN_CONTENT_ENTRIES = 16_384;
const MAX_CONTENT_ENTRIES = 1_000_000;
const contentEntriesFor = (maxBytes: number) => Math.min(MAX_CONTENT_ENTRIES, Math.max(MIN_CONTENT_ENTRIES, Math.ceil(maxBytes / 4096)));

export function createObjectCache(config: CacheConfig, log: Logger): ObjectCache {
  return new LruObjectCache(config, log);
}

function indexKeyOf(bucket: string, key: string): string {
  return bucket + SEPARATOR + key;
}

function cacheKeyOf(key: CacheKey): string {
  return key.op + SEPARATOR + indexKeyOf(key.bucket, key.key) + SEPARATOR + (key.params ?? '');
}

class LruObjectCache implements ObjectCache {
  private currentConfig: CacheConfig;
  private metadata: LRUCache<string, Entry>;
  private content: LRUCache<string, Entry>;
  private readonly index = new KeyIndex();
  private readonly loads = new Map<string, Load>();
  private readonly counters = new OpCounters();
  private readonly debug: boolean;
  private invalidationCount = 0;

  constructor(
    config: CacheConfig,
    private readonly log: Logger,
  ) {
    this.currentConfig = { ...config, opTtlMs: { ...config.opTtlMs } };
    this.metadata = this.newMetadataCache();
    this.content = this.newContentCache();
    this.debug = log.isLevelEnabled('debug');
  }

  get config(): Readonly<CacheConfig> {
    return this.currentConfig;
  }

  async fetch<T extends object>(key: CacheKey, load: () => Promise<T>, options: CacheFetchOptions<T> = {}): Promise<T> {
    const cacheKey = cacheKeyOf(key);
    const counters = this.counters.byOp[key.op];
    let cached: Entry | undefined;
    try {
      cached = this.lruFor(key.op).get(cacheKey);
    } catch (error) {
      return this.bypass(key, error, load);
    }
    if (cached) {
      counters.hits++;
      if (this.debug) this.log.debug({ cache: key.op, key: key.key, params: key.params }, 'cache hit');
      return cached.value as T;
    }
    const inFlight = this.loads.get(cacheKey);
    if (inFlight) {
      counters.coalesced++;
      if (this.debug) this.log.debug({ cache: key.op, key: key.key, params: key.params }, 'cache miss joined a load in flight');
      return inFlight.promise as Promise<T>;
    }
    counters.misses++;
    if (this.debug) this.log.debug({ cache: key.op, key: key.key, params: key.params }, 'cache miss');
    const indexKey = indexKeyOf(key.bucket, key.key);
    const entry: Load = { promise: Promise.resolve({}), indexKey, cancelled: false };
    entry.promise = (async () => {
      try {
        const value = await load();
        if (!entry.cancelled) this.store(key, cacheKey, indexKey, value, options);
        return value;
      } catch (error) {
        counters.loadErrors++;
        throw error;
      } finally {
        if (this.loads.get(cacheKey) === entry) this.loads.delete(cacheKey);
      }
    })();
    this.loads.set(cacheKey, entry);
    return entry.promise as Promise<T>;
  }

  peek<T extends object>(key: CacheKey): T | undefined {
    try {
      const cached = this.lruFor(key.op).get(cacheKeyOf(key));
      if (!cached) return undefined;
      this.counters.byOp[key.op].hits++;
      return cached.value as T;
    } catch (error) {
      this.counters.bypassed++;
      this.log.warn({ err: error, cache: key.op, key: key.key }, 'cache lookup failed; going on without it');
      return undefined;
    }
  }

  has(key: CacheKey): boolean {
    try {
      const cacheKey = cacheKeyOf(key);
      return this.lruFor(key.op).has(cacheKey) || this.loads.has(cacheKey);
    } catch {
      return false;
    }
  }

  set<T extends object>(key: CacheKey, value: T, options: Omit<CacheFetchOptions<T>, 'ttlFor'> = {}): void {
    this.store(key, cacheKeyOf(key), indexKeyOf(key.bucket, key.key), value, options);
  }

  get invalidations(): number {
    return this.invalidationCount;
  }

  invalidateKey(bucket: string, key: string): number {
    this.invalidationCount++;
    const indexKey = indexKeyOf(bucket, key);
    this.cancelLoads((load) => load.indexKey === indexKey);
    return this.drop(this.index.of(indexKey));
  }

  invalidatePrefix(bucket: string, prefix: string): number {
    this.invalidationCount++;
    const indexPrefix = indexKeyOf(bucket, prefix);
    this.cancelLoads((load) => load.indexKey.startsWith(indexPrefix));
    return this.drop(this.index.under(indexPrefix));
  }

  invalidateBucket(bucket: string): number {
    return this.invalidatePrefix(bucket, '');
  }

  clear(): void {
    this.invalidationCount++;
    this.cancelLoads(() => true);
    this.metadata.clear();
    this.content.clear();
    this.index.clear();
  }

  stats(): CacheStats {
    const { byOp, totals } = this.counters.snapshot();
    return {
      metadata: { entries: this.metadata.size, maxEntries: this.currentConfig.maxMetadataEntries },
      content: { entries: this.content.size, bytes: this.content.calculatedSize, maxBytes: this.currentConfig.maxContentBytes },
      byOp,
      totals,
      bypassed: this.counters.bypassed,
    };
  }

  configure(changes: Partial<Omit<CacheConfig, 'now'>>): void {
    const before = this.currentConfig;
    this.currentConfig = { ...before, ...changes, opTtlMs: { ...before.opTtlMs, ...(changes.opTtlMs ?? {}) } };
    // lru-cache's bounds are fixed at construction: move the entries into a cache with the
    // new bounds; loading them in recency order evicts the least recently used at once.
    if (changes.maxMetadataEntries !== undefined && changes.maxMetadataEntries !== before.maxMetadataEntries) {
      const entries = this.metadata.dump();
      this.metadata = this.newMetadataCache();
      this.metadata.load(entries);
    }
    if (changes.maxContentBytes !== undefined && changes.maxContentBytes !== before.maxContentBytes) {
      const entries = this.content.dump();
      this.content = this.newContentCache();
      this.content.load(entries);
    }
  }

  private store<T extends object>(key: CacheKey, cacheKey: string, indexKey: string, value: T, options: CacheFetchOptions<T>): void {
    try {
      const ttl = options.ttlFor?.(value) ?? options.ttlMs ?? this.currentConfig.opTtlMs[key.op] ?? this.currentConfig.ttlMs;
      if (ttl <= 0) return;
      const entry: Entry = { value, op: key.op, indexKey };
      if (key.op === 'block') {
        const size = options.sizeOf ? options.sizeOf(value) : Buffer.isBuffer(value) ? value.length : 1;
        this.content.set(cacheKey, entry, { ttl, size: Math.max(1, size) });
      } else {
        // Metadata is bounded by entry count alone.
        this.metadata.set(cacheKey, entry, { ttl });
      }
      // lru-cache refuses an entry larger than the whole bound; only index what it kept.
      if (this.lruFor(key.op).has(cacheKey)) this.index.add(indexKey, cacheKey);
    } catch (error) {
      this.counters.bypassed++;
      this.log.warn({ err: error, cache: key.op, key: key.key }, 'cache store failed; going on without it');
    }
  }

  private async bypass<T>(key: CacheKey, error: unknown, load: () => Promise<T>): Promise<T> {
    this.counters.bypassed++;
    this.log.warn({ err: error, cache: key.op, key: key.key }, 'cache lookup failed; going on without it');
    return load();
  }

  private drop(cacheKeys: string[]): number {
    let dropped = 0;
    for (const cacheKey of cacheKeys) {
      if (this.metadata.delete(cacheKey) || this.content.delete(cacheKey)) dropped++;
    }
    return dropped;
  }

  private cancelLoads(matches: (load: Load) => boolean): void {
    for (const [cacheKey, load] of this.loads) {
      if (!matches(load)) continue;
      load.cancelled = true;
      // A later fetch must not join a load whose answer may predate the change.
      this.loads.delete(cacheKey);
    }
  }

  private lruFor(op: CacheOp): LRUCache<string, Entry> {
    return op === 'block' ? this.content : this.metadata;
  }

  private onDispose = (entry: Entry, cacheKey: string, reason: LRUCache.DisposeReason): void => {
    if (reason === 'set') return;
    this.index.remove(entry.indexKey, cacheKey);
    if (reason === 'evict') this.counters.byOp[entry.op].evictions++;
    else if (reason === 'expire') this.counters.byOp[entry.op].expired++;
  };

  private newMetadataCache(): LRUCache<string, Entry> {
    return new LRUCache<string, Entry>({
      max: this.currentConfig.maxMetadataEntries,
      dispose: this.onDispose,
      ...this.clockOptions(),
    });
  }

  private newContentCache(): LRUCache<string, Entry> {
    return new LRUCache<string, Entry>({
      max: contentEntriesFor(this.currentConfig.maxContentBytes),
      maxSize: this.currentConfig.maxContentBytes,
      dispose: this.onDispose,
      ...this.clockOptions(),
    });
  }

  private clockOptions(): Partial<LRUCache.Options<string, Entry, unknown>> {
    const now = this.currentConfig.now;
    // A manual clock must be read on every check, not once per tick.
    return now ? { perf: { now }, ttlResolution: 0 } : {};
  }
}
