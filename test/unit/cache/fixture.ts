// A cache on a manual clock, so TTL tests need no sleeping.
import { createObjectCache } from '../../../src/cache/object-cache.js';
import type { CacheConfig, CacheKey, CacheOp } from '../../../src/cache/types.js';
import { silentLogger } from '../../../src/log.js';

export function manualClock(start = 1_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

export function cacheWith(config: Partial<CacheConfig> = {}) {
  const clock = manualClock();
  const cache = createObjectCache({ ttlMs: 1_000, opTtlMs: {}, maxMetadataEntries: 100, maxContentBytes: 1_000, now: clock.now, ...config }, silentLogger());
  return { cache, clock };
}

export function key(op: CacheOp, name: string, params?: string, bucket = 'b'): CacheKey {
  return { op, bucket, key: name, params };
}

/** A loader that counts its calls and answers `{ n: call number }`. */
export function countingLoader() {
  let calls = 0;
  const load = async () => ({ n: ++calls });
  return { load, calls: () => calls };
}
