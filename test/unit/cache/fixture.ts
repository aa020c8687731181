// The mount's caches on a manual clock, so TTL tests need no sleeping.
import type { BlockId } from '../../../src/cache/block-cache.js';
import { createMemoryCaches } from '../../../src/cache/caches.js';
import type { MetadataKey } from '../../../src/cache/metadata-cache.js';
import type { CacheConfig, MetadataOp } from '../../../src/cache/types.js';
import { silentLogger } from '../../../src/log.js';

export function manualClock(start = 1_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

export function cacheWith(config: Partial<CacheConfig> = {}) {
  const clock = manualClock();
  const cache = createMemoryCaches({ ttlMs: 1_000, opTtlMs: {}, maxMetadataEntries: 100, maxContentBytes: 1_000, now: clock.now, ...config }, silentLogger());
  return { cache, clock };
}

export function key(op: MetadataOp, name: string, params?: string, bucket = 'b'): MetadataKey {
  return { op, bucket, key: name, params };
}

/** Block `index` of version `etag` of `name`, in units of 100 bytes. */
export function block(name: string, etag = 'e', index = 0, bucket = 'b'): BlockId {
  return { bucket, key: name, etag, unitSize: 100, index };
}

/** A loader that counts its calls and answers `{ n: call number }`. */
export function countingLoader() {
  let calls = 0;
  const load = async () => ({ n: ++calls });
  return { load, calls: () => calls };
}
