// The memory tier on lru-cache: bounded by entry count (metadata) or by bytes (blocks), a
// TTL per entry, and a key index so invalidating an object key finds its entries without
// scanning. With cold settings, large entries unused for a while are kept compressed
// (cold-entries.ts) and decoded on their next use.
import { LRUCache } from 'lru-cache';
import type { Logger } from '../log.js';
import type { CacheTier, DropReason } from './cache-tier.js';
import type { ColdSettings } from './cold-codec.js';
import { ColdEntries, type Entry } from './cold-entries.js';
import { KeyIndex } from './key-index.js';
import type { CacheOp, TierStats } from './types.js';

export interface MemoryTierOptions {
  name: string;
  /** What the bound counts. */
  boundBy: 'entries' | 'bytes';
  bound: number;
  /** Injected clock in ms (tests). */
  now?: () => number;
  /** Called for each entry the tier drops on its own (not for invalidations). */
  onDrop?: (op: CacheOp, reason: DropReason) => void;
  /** Keep large entries unused for a while compressed (entry-bounded tiers only: a compressed entry still counts as one). */
  cold?: ColdSettings;
  /** Where cold entries' compressions, decodings and failures are told (debug, warn). */
  log?: Logger;
}

// A byte-bounded lru-cache still allocates bookkeeping for its entry bound up front (a bound of
// 1,000,000 entries cost 77 ms at start): one entry per 4 KiB of the byte bound, within limits.
const MIN_BYTE_TIER_ENTRIES = 16_384;
const MAX_BYTE_TIER_ENTRIES = 1_000_000;
const entriesForBytes = (maxBytes: number) => Math.min(MAX_BYTE_TIER_ENTRIES, Math.max(MIN_BYTE_TIER_ENTRIES, Math.ceil(maxBytes / 4096)));

export class MemoryTier implements CacheTier {
  readonly name: string;
  private lru: LRUCache<string, Entry>;
  private readonly index = new KeyIndex();
  private bound: number;
  private evictions = 0;
  private expired = 0;
  private readonly cold?: ColdEntries;

  constructor(private readonly options: MemoryTierOptions) {
    this.name = options.name;
    this.bound = options.bound;
    this.lru = this.newLru();
    if (options.cold) {
      if (options.boundBy === 'bytes') throw new Error('cold entries need a tier bounded by entries');
      const isCurrent = (cacheKey: string, entry: Entry) => this.lru.peek(cacheKey) === entry;
      this.cold = new ColdEntries(options.cold, options.now ?? (() => performance.now()), isCurrent, options.log);
    }
  }

  get(cacheKey: string): object | undefined {
    const entry = this.lru.get(cacheKey);
    if (!entry) return undefined;
    if (!this.cold || entry.weight === undefined) return entry.value;
    const value = this.cold.use(cacheKey, entry);
    // Not decodable: dropped, as if never kept.
    if (value === undefined) this.lru.delete(cacheKey);
    return value;
  }

  has(cacheKey: string): boolean {
    return this.lru.has(cacheKey);
  }

  remainingTtl(cacheKey: string): number | undefined {
    const left = this.lru.getRemainingTTL(cacheKey);
    return left > 0 && Number.isFinite(left) ? left : undefined;
  }

  set(cacheKey: string, indexKey: string, op: CacheOp, value: object, ttlMs: number, size: number): boolean {
    const entry: Entry = { value, op, indexKey };
    if (this.options.boundBy === 'bytes') this.lru.set(cacheKey, entry, { ttl: ttlMs, size: Math.max(1, size) });
    else this.lru.set(cacheKey, entry, { ttl: ttlMs });
    // lru-cache refuses an entry larger than the whole bound; only index what it kept.
    if (!this.lru.has(cacheKey)) return false;
    this.index.add(indexKey, cacheKey);
    this.cold?.watch(cacheKey, entry);
    return true;
  }

  /** Compresses every large entry unused for the cold settings' time; returns how many (0 without cold settings). */
  compressIdle(): number {
    return this.cold?.compressIdle() ?? 0;
  }

  dropIndexKey(indexKey: string): number {
    return this.drop(this.index.of(indexKey));
  }

  dropUnder(indexPrefix: string): number {
    return this.drop(this.index.under(indexPrefix));
  }

  clear(): void {
    this.lru.clear();
    this.index.clear();
    this.cold?.clear();
  }

  resize(bound: number): void {
    if (bound === this.bound) return;
    this.bound = bound;
    // lru-cache's bounds are fixed at construction: move the entries into a cache with the
    // new bound; loading them in recency order evicts the least recently used at once.
    const entries = this.lru.dump();
    this.lru = this.newLru();
    this.lru.load(entries);
  }

  stats(): TierStats {
    const bytes = this.options.boundBy === 'bytes' ? this.lru.calculatedSize : 0;
    const bound = this.options.boundBy === 'bytes' ? { maxBytes: this.bound } : { maxEntries: this.bound };
    return { tier: this.name, entries: this.lru.size, bytes, ...bound, evictions: this.evictions, expired: this.expired, ...this.cold?.stats() };
  }

  private drop(cacheKeys: string[]): number {
    let dropped = 0;
    for (const cacheKey of cacheKeys) if (this.lru.delete(cacheKey)) dropped++;
    return dropped;
  }

  private readonly onDispose = (entry: Entry, cacheKey: string, reason: LRUCache.DisposeReason): void => {
    this.cold?.forget(cacheKey, entry);
    if (reason === 'set') return;
    this.index.remove(entry.indexKey, cacheKey);
    if (reason === 'evict' || reason === 'expire') {
      if (reason === 'evict') this.evictions++;
      else this.expired++;
      this.options.onDrop?.(entry.op, reason);
    }
  };

  private newLru(): LRUCache<string, Entry> {
    const now = this.options.now;
    // A manual clock must be read on every check, not once per tick.
    const clock = now ? { perf: { now }, ttlResolution: 0 } : {};
    const bound = this.options.boundBy === 'bytes' ? { max: entriesForBytes(this.bound), maxSize: this.bound } : { max: this.bound };
    return new LRUCache<string, Entry>({ ...bound, dispose: this.onDispose, ...clock });
  }
}
