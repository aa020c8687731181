// Filesystem cores over one in-memory bucket, each with its own caches and its own shared
// cache on a real Redis, as separate machines mounting one bucket would be (without FUSE).
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCaches } from '../../src/cache/caches.js';
import { isWellFormedMetadata } from '../../src/fs/names/metadata-shapes.js';
import { silentLogger } from '../../src/log.js';
import { instrumentStore } from '../../src/s3/counting-store.js';
import { MemoryStore } from '../../src/s3/memory-store.js';
import type { ObjectStore } from '../../src/s3/object-store.js';
import { parseRedisUrl } from '../../src/shared-cache/redis-url.js';
import { SharedCache } from '../../src/shared-cache/shared-cache.js';
import { buildCore } from '../../src/wiring.js';
import { CORE_BLOCK, liveCounts, settled } from './core.js';
import { FaultyStore } from './faulty-store.js';

/** A bucket of its own, so that tests sharing one Redis never see each other's streams or entries. */
export function sharedBucket(): MemoryStore {
  return new MemoryStore(`b-${randomBytes(5).toString('hex')}`);
}

export interface SharedCoreOptions {
  /** Root prefix of the mount: "" or ending in "/". */
  prefix?: string;
  sharedMetadata?: boolean;
  /** What this core's store calls reach instead of the bucket itself (to hold or change its answers). */
  wrap?: (store: MemoryStore) => ObjectStore;
}

export async function sharedCore(redisUrl: string, store: MemoryStore, options: SharedCoreOptions = {}) {
  const log = silentLogger();
  const prefix = options.prefix ?? '';
  const faults = new FaultyStore(options.wrap ? options.wrap(store) : store);
  const counted = instrumentStore(faults, log);
  const shared = new SharedCache(
    { target: parseRedisUrl(redisUrl), bucket: store.bucket, root: prefix, sharedMetadata: options.sharedMetadata ?? true, validate: isWellFormedMetadata },
    log,
  );
  // An hour of TTL: only the bus can make one core see another's changes.
  const cache = createCaches({ ttlMs: 3_600_000, opTtlMs: {}, maxMetadataEntries: 10_000, maxContentBytes: 64 * CORE_BLOCK }, log, {
    metadata: shared.tier ? [shared.tier] : [],
  });
  const { filesystem: fs, invalidation } = buildCore(counted, cache, log, {
    bucket: store.bucket,
    prefix,
    uid: 1000,
    gid: 1000,
    fileMode: 0o644,
    dirMode: 0o755,
    negativeTtlMs: 3_600_000,
    blockSize: CORE_BLOCK,
    maxPrefetchBlocks: 0,
    readOnly: false,
    stagingDirectory: mkdtempSync(join(tmpdir(), 's3mount-shared-core-')),
    partSize: 5 * 1024 * 1024,
  });
  const unavailable = await shared.start(invalidation, 5_000);
  return {
    fs,
    faults,
    calls: liveCounts(counted),
    settled: () => settled(counted),
    shared,
    unavailable,
    invalidation,
    /** Waits until this core has applied `count` changes of other cores in all. */
    applied: (count: number) => until(() => shared.stats().bus.applied >= count, `${count} remote changes applied`),
    close: () => shared.close(),
  };
}

/** Polls `check` every 5 ms; fails after `timeoutMs` naming what was awaited. */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Creates (or replaces) a file through a core, as a program's open/write/close would. */
export async function writeThrough(fs: Awaited<ReturnType<typeof sharedCore>>['fs'], path: string, text: string): Promise<void> {
  const handle = await fs.create(path, 0o644);
  await fs.write(handle, Buffer.from(text), 0);
  await fs.flush(handle);
  await fs.release(handle);
}
