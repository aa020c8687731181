// The one place where cached loads happen: look in the tiers, else call the loader once for
// all concurrent callers (single flight), keep what it answers under the TTL rules, and never
// keep an error or an answer that an invalidation overtook. The metadata cache and the block
// cache are each one of these over their own tiers.
import type { Logger } from '../log.js';
import type { CacheTier } from './cache-tier.js';
import type { LowerTier } from './lower-tier.js';
import type { OpCounters } from './op-stats.js';
import type { CacheFetchOptions, CacheKey, CacheOp, TierStats } from './types.js';

interface Load {
  promise: Promise<object>;
  indexKey: string;
  /** Set when the key is invalidated while loading: the result is returned but not kept. */
  cancelled: boolean;
}

// A separator that cannot occur in bucket names and that S3 keys do not use.
const SEPARATOR = '\u0000';

export function indexKeyOf(bucket: string, key: string): string {
  return bucket + SEPARATOR + key;
}

function cacheKeyOf(key: CacheKey): string {
  return key.op + SEPARATOR + indexKeyOf(key.bucket, key.key) + SEPARATOR + (key.params ?? '');
}

export interface TtlRules {
  /** Default TTL in ms. */
  ttlMs: number;
  /** Per-operation overrides in ms. */
  opTtlMs: Partial<Record<CacheOp, number>>;
}

export class TieredCache {
  private readonly loads = new Map<string, Load>();
  private readonly recalls = new Map<string, Promise<object | undefined>>();
  private readonly debug: boolean;
  private invalidationCount = 0;

  /**
   * `tiers` top first (the memory tier), answering at once; `lower` below them (local disk,
   * shared), asked in order on a miss before the loader, each filling the ones above it.
   */
  constructor(
    private readonly tiers: readonly CacheTier[],
    readonly ttl: TtlRules,
    private readonly counters: OpCounters,
    private readonly log: Logger,
    private readonly lower: readonly LowerTier[] = [],
    /** Wall clock for the lower tiers' expiry times (ms since the epoch; tests inject one). */
    private readonly wallNow: () => number = Date.now,
  ) {
    this.debug = log.isLevelEnabled('debug');
  }

  async fetch<T extends object>(key: CacheKey, load: () => Promise<T>, options: CacheFetchOptions<T> = {}): Promise<T> {
    const cacheKey = cacheKeyOf(key);
    const counters = this.counters.byOp[key.op];
    let cached: object | undefined;
    try {
      cached = this.lookup(cacheKey);
    } catch (error) {
      return this.bypass(key, error, load);
    }
    if (cached) {
      counters.hits++;
      if (this.debug) this.log.debug({ cache: key.op, key: key.key, params: key.params }, 'cache hit');
      return cached as T;
    }
    const inFlight = this.loads.get(cacheKey);
    if (inFlight) {
      counters.coalesced++;
      if (this.debug) this.log.debug({ cache: key.op, key: key.key, params: key.params }, 'cache miss joined a load in flight');
      return inFlight.promise as Promise<T>;
    }
    const indexKey = indexKeyOf(key.bucket, key.key);
    const entry: Load = { promise: Promise.resolve({}), indexKey, cancelled: false };
    const below = this.lower.length > 0 && options.memoryOnly !== true && this.mayBeBelow(key);
    if (!below) this.countMiss(key);
    entry.promise = (async () => {
      try {
        if (below) {
          const below = await this.fromLower(key, cacheKey, indexKey, () => entry.cancelled);
          if (below) return below;
          this.countMiss(key);
        }
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

  /**
   * A value from the first lower tier that holds it, kept in the tiers above it unless
   * `overtaken` (an invalidation came while the tiers answered); undefined when none does.
   */
  private async fromLower(key: CacheKey, cacheKey: string, indexKey: string, overtaken: () => boolean): Promise<object | undefined> {
    for (let i = 0; i < this.lower.length; i++) {
      const found = await this.lower[i].get(key);
      if (!found) continue;
      const ttl = found.expiresAt - this.wallNow();
      if (ttl <= 0) continue;
      this.counters.byOp[key.op].hits++;
      if (this.debug) this.log.debug({ cache: key.op, key: key.key, params: key.params, tier: this.lower[i].name }, 'cache hit');
      // An invalidation while it was on its way: answered, as a load would be, but not kept.
      if (!overtaken()) {
        this.storeInMemory(key, cacheKey, indexKey, found.value, ttl, 1);
        for (let j = 0; j < i; j++) this.lower[j].set(key, found);
      }
      return found.value;
    }
    return undefined;
  }

  private countMiss(key: CacheKey): void {
    this.counters.byOp[key.op].misses++;
    if (this.debug) this.log.debug({ cache: key.op, key: key.key, params: key.params }, 'cache miss');
  }

  peek<T extends object>(key: CacheKey): T | undefined {
    try {
      const cached = this.lookup(cacheKeyOf(key));
      if (!cached) return undefined;
      this.counters.byOp[key.op].hits++;
      return cached as T;
    } catch (error) {
      this.counters.bypassed++;
      this.log.warn({ err: error, cache: key.op, key: key.key }, 'cache lookup failed; going on without it');
      return undefined;
    }
  }

  /** What memory holds, else the first lower tier holding it fresh (then kept above it); never loads. */
  async recall<T extends object>(key: CacheKey): Promise<T | undefined> {
    const cached = this.peek<T>(key);
    if (cached || this.lower.length === 0) return cached;
    // Nothing below can hold it (the disk tier knows its rows): a miss without asking, as every
    // entry of a directory listed for the first time is (one promise chain less per HEAD).
    if (!this.mayBeBelow(key)) return undefined;
    const cacheKey = cacheKeyOf(key);
    let recall = this.recalls.get(cacheKey);
    if (!recall) {
      recall = this.recallBelow(key, cacheKey).finally(() => this.recalls.delete(cacheKey));
      this.recalls.set(cacheKey, recall);
    }
    return (await recall) as T | undefined;
  }

  /** Whether any tier below may hold `key` (a tier that cannot tell may). */
  private mayBeBelow(key: CacheKey): boolean {
    for (const tier of this.lower) {
      try {
        if (!tier.mayHold || tier.mayHold(key)) return true;
      } catch {
        return true;
      }
    }
    return false;
  }

  private async recallBelow(key: CacheKey, cacheKey: string): Promise<object | undefined> {
    const invalidationsBefore = this.invalidationCount;
    const overtaken = () => this.invalidationCount !== invalidationsBefore;
    try {
      const found = await this.fromLower(key, cacheKey, indexKeyOf(key.bucket, key.key), overtaken);
      // Something was invalidated while the tiers answered: the answer may predate it.
      return found && !overtaken() ? found : undefined;
    } catch (error) {
      this.counters.bypassed++;
      this.log.warn({ err: error, cache: key.op, key: key.key }, 'cache recall failed; going on without it');
      return undefined;
    }
  }

  has(key: CacheKey): boolean {
    try {
      const cacheKey = cacheKeyOf(key);
      return this.loads.has(cacheKey) || this.tiers.some((tier) => tier.has(cacheKey));
    } catch {
      return false;
    }
  }

  set<T extends object>(key: CacheKey, value: T, options: Omit<CacheFetchOptions<T>, 'ttlFor'> = {}): void {
    const cacheKey = cacheKeyOf(key);
    // What is set is newer than the answer of a load of the same entry still on its way.
    this.cancelLoad(cacheKey);
    this.store(key, cacheKey, indexKeyOf(key.bucket, key.key), value, options);
  }

  /**
   * Replaces the fresh value of `key` by `change(value)` in every tier, keeping the entry's
   * expiry (what was learned from S3 still expires when it would have). A load of the entry in
   * flight is cancelled, since its answer may predate the change, and the change counts in
   * `invalidations`. Returns the new value, or undefined when memory held none: then what the
   * lower tiers hold for the key, which cannot be read here, is dropped.
   */
  update<T extends object>(key: CacheKey, change: (current: T) => T): T | undefined {
    const cacheKey = cacheKeyOf(key);
    this.invalidationCount++;
    this.cancelLoad(cacheKey);
    let current: object | undefined;
    let ttlMs: number | undefined;
    try {
      for (const tier of this.tiers) {
        current = tier.get(cacheKey);
        if (current === undefined) continue;
        ttlMs = tier.remainingTtl?.(cacheKey);
        break;
      }
    } catch (error) {
      this.counters.bypassed++;
      this.log.warn({ err: error, cache: key.op, key: key.key }, 'cache lookup failed; going on without it');
      return undefined;
    }
    if (current === undefined) {
      for (const tier of this.lower) tier.dropKey(key.bucket, key.key);
      return undefined;
    }
    const next = change(current as T);
    this.store(key, cacheKey, indexKeyOf(key.bucket, key.key), next, { ttlMs });
    return next;
  }

  /** How long the fresh value of `key` has left (ms), when a tier holding it can tell. */
  remainingTtl(key: CacheKey): number | undefined {
    const cacheKey = cacheKeyOf(key);
    try {
      for (const tier of this.tiers) if (tier.has(cacheKey)) return tier.remainingTtl?.(cacheKey);
    } catch {
      // A failing tier knows nothing.
    }
    return undefined;
  }

  /** Invalidations and updates in place so far (see MetadataCache.invalidations). */
  get invalidations(): number {
    return this.invalidationCount;
  }

  /** Drops every entry (any op, any parameters) of `key`; returns how many. */
  invalidateKey(bucket: string, key: string): number {
    this.invalidationCount++;
    const indexKey = indexKeyOf(bucket, key);
    this.cancelLoads((load) => load.indexKey === indexKey);
    for (const tier of this.lower) tier.dropKey(bucket, key);
    return this.tiers.reduce((dropped, tier) => dropped + tier.dropIndexKey(indexKey), 0);
  }

  /** Drops every entry whose key starts with `prefix`; returns how many. */
  invalidatePrefix(bucket: string, prefix: string): number {
    this.invalidationCount++;
    const indexPrefix = indexKeyOf(bucket, prefix);
    this.cancelLoads((load) => load.indexKey.startsWith(indexPrefix));
    for (const tier of this.lower) tier.dropUnder(bucket, prefix);
    return this.tiers.reduce((dropped, tier) => dropped + tier.dropUnder(indexPrefix), 0);
  }

  clear(): void {
    this.invalidationCount++;
    this.cancelLoads(() => true);
    for (const tier of this.tiers) tier.clear();
    for (const tier of this.lower) tier.clear();
  }

  /** Loads in flight right now (background prefetches included). */
  get loading(): number {
    return this.loads.size;
  }

  tierStats(): TierStats[] {
    return [...this.tiers.map((tier) => tier.stats()), ...this.lower.map((tier) => tier.stats())];
  }

  /** A value from the first tier that holds it. */
  private lookup(cacheKey: string): object | undefined {
    for (let i = 0; i < this.tiers.length; i++) {
      const value = this.tiers[i].get(cacheKey);
      if (value !== undefined) return value;
    }
    return undefined;
  }

  private store<T extends object>(key: CacheKey, cacheKey: string, indexKey: string, value: T, options: CacheFetchOptions<T>): void {
    try {
      const ttl = options.ttlFor?.(value) ?? options.ttlMs ?? this.ttl.opTtlMs[key.op] ?? this.ttl.ttlMs;
      if (ttl <= 0) return;
      const size = options.sizeOf ? options.sizeOf(value) : Buffer.isBuffer(value) ? value.length : 1;
      this.storeInMemory(key, cacheKey, indexKey, value, ttl, size);
      if (this.lower.length > 0 && options.memoryOnly !== true) {
        const stored = { value, expiresAt: this.wallNow() + ttl };
        for (const tier of this.lower) tier.set(key, stored);
      }
    } catch (error) {
      this.counters.bypassed++;
      this.log.warn({ err: error, cache: key.op, key: key.key }, 'cache store failed; going on without it');
    }
  }

  private storeInMemory(key: CacheKey, cacheKey: string, indexKey: string, value: object, ttl: number, size: number): void {
    for (const tier of this.tiers) tier.set(cacheKey, indexKey, key.op, value, ttl, size);
  }

  private async bypass<T>(key: CacheKey, error: unknown, load: () => Promise<T>): Promise<T> {
    this.counters.bypassed++;
    this.log.warn({ err: error, cache: key.op, key: key.key }, 'cache lookup failed; going on without it');
    return load();
  }

  private cancelLoad(cacheKey: string): void {
    const load = this.loads.get(cacheKey);
    if (!load) return;
    load.cancelled = true;
    this.loads.delete(cacheKey);
  }

  private cancelLoads(matches: (load: Load) => boolean): void {
    for (const [cacheKey, load] of this.loads) {
      if (!matches(load)) continue;
      load.cancelled = true;
      // A later fetch must not join a load whose answer may predate the change.
      this.loads.delete(cacheKey);
    }
  }
}
