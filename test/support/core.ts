// The filesystem core over the in-memory store, as unit tests build it: the filesystem speaks
// to the memory store through the faulty store (failures, latency, a hook) and the counting one.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryCaches } from '../../src/cache/caches.js';
import { coldSettings } from '../../src/cache/cold-codec.js';
import type { CacheConfig } from '../../src/cache/types.js';
import { FsError } from '../../src/fs/errors.js';
import { listingCodec } from '../../src/fs/names/listing-codec.js';
import type { Filesystem } from '../../src/fs/types.js';
import { silentLogger } from '../../src/log.js';
import { type InstrumentedStore, instrumentStore } from '../../src/s3/counting-store.js';
import { MemoryStore, type MemoryStoreOptions } from '../../src/s3/memory-store.js';
import { STORE_OPERATIONS, type StoreOperation } from '../../src/s3/object-store.js';
import { buildCore, type CoreConfig } from '../../src/wiring.js';
import { FaultyStore } from './faulty-store.js';

/** Small blocks so that tests cross block boundaries with little data. */
export const CORE_BLOCK = 64 * 1024;

const stagingDirectories: string[] = [];
process.once('exit', () => {
  for (const dir of stagingDirectories) rmSync(dir, { recursive: true, force: true });
});

const OPERATIONS = STORE_OPERATIONS;

/** Calls made so far per operation, failed ones included; read live (each read is the current count). */
export type CallCounts = Readonly<Record<StoreOperation, number>>;

export function liveCounts(counted: InstrumentedStore): CallCounts {
  const counts = {};
  for (const op of OPERATIONS) Object.defineProperty(counts, op, { get: () => counted.calls()[op].count, enumerable: true });
  return counts as CallCounts;
}

/**
 * Resolves once no S3 call is under way (prefetches included), checked after the current
 * macrotask so that loads just answered have been stored. Fails after `timeoutMs`.
 */
export async function settled(counted: InstrumentedStore, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await new Promise((resolve) => setImmediate(resolve));
    const calls = counted.calls();
    if (OPERATIONS.every((op) => calls[op].inFlight === 0)) return;
    if (Date.now() > deadline) throw new Error(`S3 calls still in flight after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

export function setupCore(options: Partial<CoreConfig> = {}, cacheOptions: Partial<CacheConfig> = {}, storeOptions: MemoryStoreOptions = {}) {
  /** Seeding and inspection of the bucket, outside the filesystem's view. */
  const store = new MemoryStore('bucket', storeOptions);
  /** Failures, latency and a hook before every call the filesystem makes. */
  const faults = new FaultyStore(store);
  const counted = instrumentStore(faults, silentLogger());
  const cache = createMemoryCaches(
    { ttlMs: 3_600_000, opTtlMs: {}, maxMetadataEntries: 10_000, maxContentBytes: 64 * CORE_BLOCK, ...cacheOptions },
    silentLogger(),
    // As a mount keeps them, but cold only when a test calls compressIdle (no timer).
    { ...coldSettings(listingCodec), sweepMs: 0 },
  );
  const stagingDirectory = mkdtempSync(join(tmpdir(), 's3mount-core-'));
  stagingDirectories.push(stagingDirectory);
  const { filesystem: fs, invalidation } = buildCore(counted, cache, silentLogger(), {
    bucket: 'bucket',
    prefix: '',
    uid: 1000,
    gid: 1000,
    fileMode: 0o644,
    dirMode: 0o755,
    negativeTtlMs: 0,
    blockSize: CORE_BLOCK,
    maxPrefetchBlocks: 0,
    readOnly: false,
    stagingDirectory,
    partSize: 5 * 1024 * 1024,
    ...options,
  });
  return { store, faults, calls: liveCounts(counted), settled: () => settled(counted), cache, fs, invalidation, stagingDirectory };
}

/** The errno name a call fails with, "no error", or a note that it failed with something else. */
export async function errno(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'no error';
  } catch (error) {
    return error instanceof FsError ? error.code : `not an FsError: ${String(error)}`;
  }
}

/** Bytes [position, position + length) through a handle, as FUSE reads them (into a buffer of its own). */
export async function readBytes(fs: Filesystem, handle: number, position: number, length: number): Promise<Buffer> {
  const into = Buffer.alloc(length);
  return into.subarray(0, await fs.readInto(handle, position, length, into));
}
