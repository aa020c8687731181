// One snapshot of a mount's statistics: the cache's counters and the S3 calls behind them.
import type { Caches } from './cache/caches.js';
import type { CacheStats } from './cache/types.js';
import type { EventConsumerStats } from './events/event-consumer.js';
import type { SlabPoolStats } from './fs/read/slab-pool.js';
import type { UploadCounts } from './fs/write/write-stage.js';
import type { NativeAttrCacheStats } from './fuse/native-attr-cache.js';
import type { NativeReadsStats } from './fuse/native-reads.js';
import type { InstrumentedStore, OperationCalls } from './s3/counting-store.js';
import type { StoreOperation } from './s3/object-store.js';
import type { SharedCacheStats } from './shared-cache/types.js';

/** The cache settings `s3mount cache configure` changes on a running mount. */
export interface CacheSettings {
  metadataTtlSeconds: number;
  maxCacheEntries: number;
  maxCacheSizeMiB: number;
  /** Present when the mount has a disk tier. */
  maxDiskCacheSizeMiB?: number;
}

export interface MountStats {
  /** In force now; the kernel's TTL is fixed when mounting. */
  settings: CacheSettings & { kernelCacheTtlSeconds: number };
  cache: CacheStats;
  s3: Record<StoreOperation, OperationCalls>;
  /** S3 calls made, all operations. */
  s3Calls: number;
  /** Requests answered without an S3 call: cache hits plus joins of a load in flight. */
  s3CallsSaved: number;
  /** Buffers of large sequential reads, which bypass the content cache. */
  streaming: SlabPoolStats;
  /** getattr answers kept in the FUSE binding and given there without JavaScript; absent when off. */
  nativeAttrCache?: NativeAttrCacheStats;
  /** Reads answered in the FUSE binding from block files of the disk cache; absent when off. */
  nativeReads?: NativeReadsStats;
  /** Uploads of closed (or fsynced) files running now, and those waiting for one of them to end. */
  uploads: UploadCounts;
  /** The serving process's memory (bytes), as Node reports it. */
  memory: { rss: number; heapUsed: number; external: number; arrayBuffers: number };
  /** With --shared-cache: the connection, the invalidation bus and the shared metadata tier. */
  sharedCache?: SharedCacheStats;
  /** The --s3-events-queue consumer, when the mount has one. */
  events?: EventConsumerStats;
}

export function cacheSettingsOf(caches: Pick<Caches, 'config' | 'disk'>): CacheSettings {
  const { config } = caches;
  const settings: CacheSettings = {
    metadataTtlSeconds: config.ttlMs / 1000,
    maxCacheEntries: config.maxMetadataEntries,
    maxCacheSizeMiB: config.maxContentBytes / 1048576,
  };
  const diskBytes = caches.disk?.maxBytes;
  if (diskBytes !== undefined) settings.maxDiskCacheSizeMiB = Math.floor(diskBytes / 1048576);
  return settings;
}

export function collectStats(
  cache: Pick<Caches, 'stats' | 'config' | 'disk'>,
  store: InstrumentedStore,
  kernelCacheTtlSeconds: number,
  streaming: SlabPoolStats,
  uploads: UploadCounts,
  /** What only some mounts have: the shared cache, the attribute cache in the FUSE binding. */
  optional: { sharedCache?: SharedCacheStats; nativeAttrCache?: NativeAttrCacheStats; nativeReads?: NativeReadsStats } = {},
): MountStats {
  const { sharedCache, nativeAttrCache, nativeReads } = optional;
  const cacheStats = cache.stats();
  const s3 = store.calls();
  const s3Calls = Object.values(s3).reduce((sum, op) => sum + op.count, 0);
  const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage();
  return {
    settings: { ...cacheSettingsOf(cache), kernelCacheTtlSeconds },
    cache: cacheStats,
    s3,
    s3Calls,
    s3CallsSaved: cacheStats.totals.hits + cacheStats.totals.coalesced,
    streaming,
    ...(nativeAttrCache ? { nativeAttrCache } : {}),
    ...(nativeReads ? { nativeReads } : {}),
    uploads,
    memory: { rss, heapUsed, external, arrayBuffers },
    ...(sharedCache ? { sharedCache } : {}),
  };
}

/** One line describing settings, as `cache configure` and `cache stats` print them. */
export function formatSettings(settings: CacheSettings & { kernelCacheTtlSeconds?: number }): string {
  const kernel = settings.kernelCacheTtlSeconds === undefined ? '' : ` (kernel ${settings.kernelCacheTtlSeconds} s)`;
  const disk = settings.maxDiskCacheSizeMiB === undefined ? '' : `, ${settings.maxDiskCacheSizeMiB} MiB on disk`;
  return `metadata TTL ${settings.metadataTtlSeconds} s${kernel}, at most ${settings.maxCacheEntries} metadata entries and ${settings.maxCacheSizeMiB} MiB of content${disk}`;
}

/** A table for people: one line per cache operation, then the S3 calls. */
export function formatStats(stats: MountStats): string {
  const lines: string[] = [];
  const { metadata, content } = stats.cache;
  lines.push(`settings   ${formatSettings(stats.settings)}`);
  lines.push(
    `cache      entries ${metadata.entries}/${metadata.maxEntries} metadata, ${content.entries} blocks, ${mib(content.bytes)}/${mib(content.maxBytes)} content`,
  );
  for (const tier of stats.cache.tiers ?? []) {
    const held = tier.maxBytes !== undefined ? `${mib(tier.bytes)}/${mib(tier.maxBytes)}` : `${tier.entries}/${tier.maxEntries ?? '-'} entries`;
    const stored =
      tier.storedBytes !== undefined ? `, stored ${mib(tier.storedBytes)} (${tier.storedBytes > 0 ? (tier.bytes / tier.storedBytes).toFixed(2) : '-'}x)` : '';
    const cold =
      tier.compressedEntries !== undefined
        ? `, ${tier.compressedEntries} compressed in ${mib(tier.compressedBytes ?? 0)} (saving ${mib(tier.savedBytes ?? 0)}), decompressed ${tier.decompressions ?? 0}, errors ${tier.errors ?? 0}`
        : '';
    const lookups =
      tier.hits !== undefined
        ? `, hits ${tier.hits}, misses ${tier.misses ?? 0}, hit rate ${rate(tier.hits, tier.misses ?? 0)}, errors ${tier.errors ?? 0}`
        : '';
    lines.push(
      `tier       ${tier.tier.padEnd(16)} ${String(tier.entries).padStart(8)} entries, ${held}${stored}${cold}, evictions ${tier.evictions}, expired ${tier.expired}${lookups}`,
    );
  }
  lines.push(pad(['op', 'hits', 'misses', 'hit rate', 'coalesced', 'expired', 'evictions', 'errors']));
  for (const [op, s] of Object.entries(stats.cache.byOp)) {
    lines.push(pad([op, s.hits, s.misses, rate(s.hits + s.coalesced, s.misses), s.coalesced, s.expired, s.evictions, s.loadErrors]));
  }
  const t = stats.cache.totals;
  lines.push(pad(['total', t.hits, t.misses, rate(t.hits + t.coalesced, t.misses), t.coalesced, t.expired, t.evictions, t.loadErrors]));
  lines.push('');
  lines.push(pad(['s3 call', 'count', 'errors', 'avg ms']));
  for (const [op, s] of Object.entries(stats.s3)) {
    if (s.count > 0) lines.push(pad([op, s.count, s.errors, (s.totalMs / s.count).toFixed(1)]));
  }
  lines.push(`s3 calls made ${stats.s3Calls}, saved by the cache ${stats.s3CallsSaved}`);
  const { streaming, memory, nativeAttrCache: native } = stats;
  if (native)
    lines.push(
      `stat cache ${native.entries}/${native.maxEntries} entries in the FUSE binding, hits ${native.hits}, misses ${native.misses}, hit rate ${rate(native.hits, native.misses)}, kept ${native.stored}, refused ${native.refused}, dropped ${native.dropped}, evicted ${native.evicted}, expired ${native.expired}`,
    );
  if (stats.nativeReads) {
    const reads = stats.nativeReads;
    lines.push(
      `native reads ${reads.served} answered in the FUSE binding (${mib(reads.servedBytes)}), ${reads.passed} passed to JavaScript, ${reads.blocks}/${reads.maxBlocks} block files open, registered ${reads.registered}, dropped ${reads.dropped}`,
    );
  }
  if (streaming)
    lines.push(
      `streaming  ${streaming.slabs - streaming.idle}/${streaming.slabs} slabs of ${mib(streaming.slabBytes)} in use, at most ${mib(streaming.maxBytes)}`,
    );
  if (stats.uploads) lines.push(`uploads    ${stats.uploads.inFlight} in flight, ${stats.uploads.waiting} waiting`);
  if (memory) lines.push(`memory     rss ${mib(memory.rss)}, heap ${mib(memory.heapUsed)}, buffers ${mib(memory.arrayBuffers)}`);
  if (stats.sharedCache) lines.push(...formatSharedCache(stats.sharedCache));
  if (stats.events) lines.push(...formatEvents(stats.events));
  return lines.join('\n');
}

/** The shared cache's lines of `cache stats`. */
export function formatSharedCache(shared: SharedCacheStats): string[] {
  const { bus, tier, server } = shared;
  const lines = [
    `shared     ${shared.redis} ${shared.state}, reconnects ${shared.reconnects}${shared.state === 'connected' || !shared.lastError ? '' : ` (${shared.lastError})`}`,
  ];
  const lag = bus.lastLagMs === undefined ? '-' : `last ${bus.lastLagMs} ms, mean ${(bus.meanLagMs ?? 0).toFixed(1)} ms, max ${bus.maxLagMs} ms`;
  lines.push(
    `bus        ${bus.state}, published ${bus.published} (pending ${bus.pending}, failed attempts ${bus.publishErrors}), applied ${bus.applied} (lag ${lag}), ` +
      `own ${bus.ownSkipped}, other prefixes ${bus.outOfScope}, malformed ${bus.malformed}, catch-ups ${bus.catchUps}, drops ${bus.drops}, reconnects ${bus.reconnects}`,
  );
  if (tier) {
    lines.push(
      `shared tier hits ${tier.hits}, misses ${tier.misses}, hit rate ${rate(tier.hits, tier.misses)}, rejected ${tier.rejected}, unavailable ${tier.unavailable}, ` +
        `stored ${tier.stored}, too large ${tier.tooLarge}, not stored ${tier.skipped}, drops ${tier.drops} (pending ${tier.pendingDrops}), errors ${tier.errors}`,
    );
  } else {
    lines.push('shared tier off (--no-shared-metadata)');
  }
  if (server) {
    const bound = server.maxMemoryBytes > 0 ? `/${mib(server.maxMemoryBytes)}` : ' (no maxmemory)';
    lines.push(`redis      ${server.version}, ${server.keys} keys, ${mib(server.usedMemoryBytes)}${bound}, evicted keys ${server.evictedKeys}`);
  }
  return lines;
}

function formatEvents(events: EventConsumerStats): string[] {
  const state = events.connected ? 'connected' : 'unavailable, retrying';
  return [
    `s3 events  ${events.queue} (${state}, last receive ${events.lastReceiveAt ?? 'none yet'})`,
    `           messages ${events.received}: applied ${events.applied}, foreign ${events.foreign}, malformed ${events.malformed}; keys forgotten ${events.keys}, errors ${events.errors}, outages ${events.outages}`,
  ];
}

function pad(cells: Array<string | number>): string {
  return cells.map((cell, i) => (i === 0 ? String(cell).padEnd(10) : String(cell).padStart(10))).join(' ');
}

function rate(hits: number, misses: number): string {
  return hits + misses === 0 ? '-' : `${((100 * hits) / (hits + misses)).toFixed(1)}%`;
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}
