// One snapshot of a mount's statistics: the cache's counters and the S3 calls behind them.
import type { CacheStats, ObjectCache } from './cache/types.js';
import type { InstrumentedStore } from './s3/counting-store.js';
import type { StoreOperation } from './s3/object-store.js';

export interface MountStats {
  cache: CacheStats;
  s3: Record<StoreOperation, { count: number; errors: number; totalMs: number }>;
  /** S3 calls made, all operations. */
  s3Calls: number;
  /** Requests answered without an S3 call: cache hits plus joins of a load in flight. */
  s3CallsSaved: number;
}

export function collectStats(cache: ObjectCache, store: InstrumentedStore): MountStats {
  const cacheStats = cache.stats();
  const s3 = store.calls();
  const s3Calls = Object.values(s3).reduce((sum, op) => sum + op.count, 0);
  return { cache: cacheStats, s3, s3Calls, s3CallsSaved: cacheStats.totals.hits + cacheStats.totals.coalesced };
}

/** A table for people: one line per cache operation, then the S3 calls. */
export function formatStats(stats: MountStats): string {
  const lines: string[] = [];
  const { metadata, content } = stats.cache;
  lines.push(`cache      entries ${metadata.entries}/${metadata.maxEntries} metadata, ${content.entries} blocks, ${mib(content.bytes)}/${mib(content.maxBytes)} content`);
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
  return lines.join('\n');
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
