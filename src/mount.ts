// Wiring of one mount: object store → cache → filesystem core → FUSE session, and its lifetime.
import { createObjectCache } from './cache/object-cache.js';
import type { Config } from './config.js';
import { configureCache, invalidatePath } from './control/cache-control.js';
import { ControlServer } from './control/server.js';
import { S3Filesystem } from './fs/filesystem.js';
import { SlabPool } from './fs/read/slab-pool.js';
import { recoverStaged } from './fs/write/staged-recovery.js';
import { createFuseOperations } from './fuse/adapter.js';
import { prepareMountpoint } from './fuse/mountpoint.js';
import { FuseSession, READ_AHEAD_KIB } from './fuse/session.js';
import type { Logger } from './log.js';
import { formatAddress } from './metrics/address.js';
import { meterStore } from './metrics/metered-store.js';
import { MountMetrics } from './metrics/mount-metrics.js';
import { serveMetrics, type MetricsServer } from './metrics/server.js';
import { instrumentStore } from './s3/counting-store.js';
import { isStoreError } from './s3/object-store.js';
import { createSdkStore } from './s3/sdk-store.js';
import { collectStats, type MountStats } from './stats.js';

/** A failure before the mount is ready, with a message meant for the person who typed the command. */
export class StartupError extends Error {
  override name = 'StartupError';
}

// Each S3 attempt must answer within this; a call's deadline is its attempts times this.
const REQUEST_TIMEOUT_MS = 20_000;
// Allowance per retry for the SDK's backoff.
const RETRY_BACKOFF_MS = 2_000;
// Blocks prefetched ahead of a sequential reader: 32 MiB requested ahead at most per reader,
// as GETs of 4 blocks; a cold 256 MiB read with 8 MiB ahead in 4 MiB GETs spent most of its
// time waiting for S3 once GETs became cheap.
const MAX_PREFETCH_BLOCKS = 32;
const MAX_REQUEST_BLOCKS = 4;
// A small read away from the sequence fetches 128 KiB pieces (FUSE's largest request), not a
// whole block: 200 random 4 KiB reads fetched 200 MiB with whole blocks.
const PIECE_SIZE = 128 * 1024;
// Objects larger than this share of the content cache stream through reusable slabs when
// read sequentially, and the slabs of all such reads together stay within the other bound.
const STREAM_ABOVE_CACHE_SHARE = 1 / 4;
const MAX_STREAM_BYTES = 64 * 1024 * 1024;

export interface RunningMount {
  stats(): MountStats;
  /** Resolves once the mount has ended (signal, external unmount or `stop`). */
  finished: Promise<void>;
  stop(): Promise<void>;
}

export async function startMount(config: Config, log: Logger): Promise<RunningMount> {
  const sdkStore = createSdkStore(
    {
      bucket: config.bucket,
      region: config.region,
      endpoint: config.endpointUrl,
      forcePathStyle: config.forcePathStyle,
      profile: config.profile,
      maxAttempts: config.maxAttempts,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
    },
    log,
  );
  // Metrics exist only when their endpoint is on: otherwise nothing on the hot path feeds them.
  const metrics = config.metricsAddress ? new MountMetrics(() => cache.stats()) : undefined;
  const store = instrumentStore(metrics ? meterStore(sdkStore, metrics) : sdkStore, log);
  try {
    await store.checkBucket();
  } catch (error) {
    sdkStore.close();
    throw new StartupError(isStoreError(error) ? error.message : `cannot reach bucket ${config.bucket}: ${String(error)}`);
  }
  try {
    await prepareMountpoint(config.mountpoint, { allowNonEmpty: config.allowNonEmpty }, log);
  } catch (error) {
    sdkStore.close();
    throw new StartupError((error as Error).message);
  }

  // Bytes a killed predecessor staged but never uploaded are saved before anything else.
  const recovery = await recoverStaged(config.stagingDir, store, log);
  for (const kept of recovery.kept) process.stderr.write(`s3mount: unsaved data kept: ${kept}\n`);

  const cache = createObjectCache(
    {
      ttlMs: config.metadataTtlSeconds * 1000,
      // Content blocks are keyed by ETag, so they never go stale: only the bound pushes them out.
      opTtlMs: { block: 24 * 3600 * 1000 },
      maxMetadataEntries: config.maxCacheEntries,
      maxContentBytes: config.maxCacheSizeMiB * 1024 * 1024,
    },
    log,
  );
  const slabs = new SlabPool(MAX_REQUEST_BLOCKS * config.blockSizeKiB * 1024, MAX_STREAM_BYTES);
  slabs.reserve();
  const filesystem = new S3Filesystem(store, cache, log, {
    bucket: config.bucket,
    prefix: config.prefix,
    uid: config.uid,
    gid: config.gid,
    fileMode: config.fileMode,
    dirMode: config.dirMode,
    posixMetadata: config.posixMetadata,
    negativeTtlMs: config.negativeMetadataTtlSeconds * 1000,
    blockSize: config.blockSizeKiB * 1024,
    maxPrefetchBlocks: MAX_PREFETCH_BLOCKS,
    maxRequestBlocks: MAX_REQUEST_BLOCKS,
    pieceSize: Math.min(PIECE_SIZE, config.blockSizeKiB * 1024),
    slabs,
    streamAbove: config.maxCacheSizeMiB * 1024 * 1024 * STREAM_ABOVE_CACHE_SHARE,
    readAheadBytes: READ_AHEAD_KIB * 1024,
    readOnly: config.readOnly,
    stagingDirectory: config.stagingDir,
    partSize: config.writePartSizeMiB * 1024 * 1024,
  });
  const stats = () => collectStats(cache, store, config.kernelCacheTtlSeconds, slabs.stats());
  let metricsServer: MetricsServer | undefined;
  if (metrics && config.metricsAddress) {
    try {
      metricsServer = await serveMetrics(config.metricsAddress, metrics, log);
    } catch (error) {
      sdkStore.close();
      throw new StartupError(`cannot serve metrics on ${formatAddress(config.metricsAddress)}: ${(error as Error).message}`);
    }
  }
  const session = new FuseSession(
    createFuseOperations(filesystem, log, metrics ? { onOperation: (op, ms, errno, bytes) => metrics.fuseOperation(op, ms, errno, bytes) } : {}),
    {
      mountpoint: config.mountpoint,
      fsname: `s3mount:${config.bucket}${config.prefix ? `:${config.prefix}` : ''}`,
      allowOther: config.allowOther,
      allowRoot: config.allowRoot,
      attrTimeoutSeconds: config.kernelCacheTtlSeconds,
      // Our own creates go through the kernel, which drops its negative entry itself. A lower
      // kernel TTL, asked for so that `cache invalidate` acts at once, caps this one too.
      negativeTimeoutSeconds: Math.min(config.negativeMetadataTtlSeconds, config.kernelCacheTtlSeconds),
      // A lookup makes at most two S3 calls one after the other; FUSE must never time out
      // before our own deadlines answer EIO.
      operationTimeoutMs: 2 * config.maxAttempts * (REQUEST_TIMEOUT_MS + RETRY_BACKOFF_MS) + 10_000,
    },
    log,
  );
  try {
    await session.mount();
  } catch (error) {
    sdkStore.close();
    await metricsServer?.close();
    throw new StartupError(`cannot mount ${config.mountpoint}: ${(error as Error).message}`);
  }
  const target = { bucket: config.bucket, prefix: config.prefix };
  const control = new ControlServer(
    config.mountpoint,
    {
      stats,
      clear: () => cache.clear(),
      invalidate: (path, recursive) => invalidatePath(cache, target, path, recursive),
      configure: (change) => configureCache(cache, change),
    },
    log,
  );
  await control.listen().catch((error: unknown) => log.warn({ err: error }, 'control socket unavailable'));

  const saveStaged = async () => {
    const unsaved = await filesystem.flushAll();
    for (const file of unsaved) log.error({ file }, 'could not upload a staged file; its bytes stay in the staging directory');
  };
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      // Unsaved bytes are uploaded before the mount goes away; what cannot be is named in the log.
      await saveStaged();
      await session.unmount();
      await saveStaged();
      await control.close();
      await metricsServer?.close();
      for (const upload of await sdkStore.finish()) {
        log.error({ upload }, 'a failed multipart upload could not be aborted; its parts stay in the bucket until aborted (an AbortIncompleteMultipartUpload lifecycle rule removes them)');
      }
      log.info({ stats: stats() }, 'final statistics');
      sdkStore.close();
    })();
    return stopping;
  };
  const finished = session.waitForExternalUnmount().then(stop);
  return { stats, finished, stop };
}
