// The one place that builds the parts of a mount's core and wires them together: caches,
// invalidation, names, reader, write stage, tree changes, scan-ahead, filesystem. Each part
// gets its own small config; src/mount.ts adds the lifetime (FUSE, control socket, metrics),
// and test/ builds the same core over the in-memory store.
import { closeSync } from 'node:fs';
import { type Caches, createCaches, type LowerTiers } from './cache/caches.js';
import { coldSettings } from './cache/cold-codec.js';
import type { AttributeDefaults } from './fs/attributes/attributes.js';
import { S3Filesystem } from './fs/filesystem.js';
import { Invalidation } from './fs/invalidation.js';
import { listingCodec } from './fs/names/listing-codec.js';
import { Namespace } from './fs/names/namespace.js';
import { ObjectVersions } from './fs/object-versions.js';
import { canPin, NativeBlocks, type NativeReadSink } from './fs/read/native-blocks.js';
import { BlockReader } from './fs/read/reader.js';
import { ScanAhead } from './fs/read/scan-ahead.js';
import type { SlabPool } from './fs/read/slab-pool.js';
import { TreeChanges } from './fs/write/tree-changes.js';
import { WriteStage } from './fs/write/write-stage.js';
import type { Logger } from './log.js';
import type { ObjectStore } from './s3/object-store.js';
import { BLOCK_TTL_MS, NATIVE_READS_AHEAD_BLOCKS, NATIVE_READS_MAX_BLOCKS, UPLOADS_IN_FLIGHT } from './tuning.js';

export interface CacheBounds {
  /** Seconds a HEAD or listing answer is trusted. */
  metadataTtlSeconds: number;
  maxCacheEntries: number;
  maxCacheSizeMiB: number;
}

/**
 * The mount's caches: in memory, over the lower tiers given (blocks on local disk, metadata
 * tiers); large listings left unused for a while are kept compressed in memory.
 */
export function buildCaches(bounds: CacheBounds, log: Logger, lower: LowerTiers = {}): Caches {
  return createCaches(
    {
      ttlMs: bounds.metadataTtlSeconds * 1000,
      opTtlMs: { block: BLOCK_TTL_MS },
      maxMetadataEntries: bounds.maxCacheEntries,
      maxContentBytes: bounds.maxCacheSizeMiB * 1024 * 1024,
    },
    log,
    lower,
    coldSettings(listingCodec),
  );
}

export interface CoreConfig {
  bucket: string;
  /** The endpoint the bucket is reached at, as staged copies record it (see recoverStaged). */
  endpoint?: string;
  /** The mount's root prefix: "" or ending in "/". */
  prefix: string;
  uid: number;
  gid: number;
  fileMode: number;
  dirMode: number;
  /** false: attributes from listings alone, no HEAD per entry (see NamespaceOptions). Default true. */
  posixMetadata?: boolean;
  negativeTtlMs: number;
  blockSize: number;
  maxPrefetchBlocks: number;
  /** Largest GET of a prefetch, in blocks. */
  maxRequestBlocks?: number;
  /** Unit of small random reads; divides blockSize. */
  pieceSize?: number;
  /** Slabs for large sequential reads, which then bypass the content cache. */
  slabs?: SlabPool;
  /** Objects larger than this (bytes) stream through the slabs when read sequentially. */
  streamAbove?: number;
  /** The kernel's read-ahead on the mount (bytes): how out of order sequential reads arrive. */
  readAheadBytes?: number;
  readOnly: boolean;
  /** Directory for staged copies of files being written. */
  stagingDirectory: string;
  /** Uploads above this size are multipart, in parts of this size. */
  partSize: number;
  /** Uploads in flight at once; UPLOADS_IN_FLIGHT by default. */
  maxUploads?: number;
  /** How long the kernel keeps attributes it was given (ms; the mount's --kernel-cache-ttl); 0 by default. */
  kernelTtlMs?: number;
  /** Bound on attribute changes held in memory (see LocalAttributes; tests set it low). */
  maxLocalAttributes?: number;
  /** The FUSE binding's native reads: blocks on disk that handles read are registered there. */
  nativeReads?: NativeReadSink;
  /** Wall clock (ms since the epoch) compared with S3's Last-Modified; Date.now by default (tests inject one). */
  wallNow?: () => number;
}

export interface Core {
  filesystem: S3Filesystem;
  /** Every change goes through it; subscribe to hear of them. */
  invalidation: Invalidation;
}

export function buildCore(store: ObjectStore, caches: Caches, log: Logger, config: CoreConfig): Core {
  const { bucket, prefix } = config;
  const defaults: AttributeDefaults = { uid: config.uid, gid: config.gid, fileMode: config.fileMode, dirMode: config.dirMode, mountTime: new Date() };
  const invalidation = new Invalidation(caches, bucket, prefix);
  const namespace = new Namespace(store, caches.metadata, log, {
    bucket,
    prefix,
    negativeTtlMs: config.negativeTtlMs,
    posixMetadata: config.posixMetadata,
    wallNow: config.wallNow,
  });
  const reader = new BlockReader(store, caches.blocks, (key) => invalidation.changed(key), {
    bucket,
    blockSize: config.blockSize,
    maxPrefetchBlocks: config.maxPrefetchBlocks,
    maxRequestBlocks: config.maxRequestBlocks,
    pieceSize: config.pieceSize,
    slabs: config.slabs,
    streamAbove: config.streamAbove,
    readAheadBytes: config.readAheadBytes,
    disk: caches.blockTier,
  });
  const versions = new ObjectVersions(namespace, invalidation, config.kernelTtlMs ?? 0);
  const stage = new WriteStage(store, log, {
    directory: config.stagingDirectory,
    bucket,
    ...(config.endpoint !== undefined && { endpoint: config.endpoint }),
    partSize: config.partSize,
    maxUploads: config.maxUploads ?? UPLOADS_IN_FLIGHT,
    currentVersion: (stale) => versions.current(stale, { forKernel: false }),
  });
  const tree = new TreeChanges(store, namespace, stage, invalidation, log, defaults);
  const scanAhead = new ScanAhead((target) => reader.prefetchFirstBlock(target), config.blockSize);
  const native =
    config.nativeReads && canPin(caches.blockTier)
      ? new NativeBlocks(caches.blockTier, config.nativeReads, log, {
          bucket,
          blockSize: config.blockSize,
          ahead: NATIVE_READS_AHEAD_BLOCKS,
          maxBlocks: NATIVE_READS_MAX_BLOCKS,
          closeFd: (fd) => closeSync(fd),
        })
      : undefined;
  const filesystem = new S3Filesystem(
    { namespace, reader, stage, invalidation, tree, scanAhead, versions, native },
    { prefix, defaults, readOnly: config.readOnly, maxLocalAttributes: config.maxLocalAttributes },
    log,
  );
  return { filesystem, invalidation };
}
