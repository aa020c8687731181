// Counters per cache operation, kept cheap: plain numbers bumped on the hot path.
import { CACHE_OPS, type CacheOp, type OpStats } from './types.js';

export function emptyOpStats(): OpStats {
  return { hits: 0, misses: 0, coalesced: 0, expired: 0, evictions: 0, loadErrors: 0 };
}

export class OpCounters {
  readonly byOp: Record<CacheOp, OpStats> = Object.fromEntries(CACHE_OPS.map((op) => [op, emptyOpStats()])) as Record<CacheOp, OpStats>;
  bypassed = 0;

  snapshot(): { byOp: Record<CacheOp, OpStats>; totals: OpStats } {
    const byOp = Object.fromEntries(CACHE_OPS.map((op) => [op, { ...this.byOp[op] }])) as Record<CacheOp, OpStats>;
    const totals = emptyOpStats();
    for (const stats of Object.values(byOp)) {
      for (const field of Object.keys(totals) as Array<keyof OpStats>) totals[field] += stats[field];
    }
    return { byOp, totals };
  }
}
