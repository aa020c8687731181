// One mount's lifetime: object store, caches and core (built by src/wiring.ts), FUSE session,
// control socket and metrics, and the order in which they start and stop.

import { CacheDirInUse } from './cache/disk/cache-dir.js';
import { type OpenDiskTier, openDiskTier } from './cache/disk/open-disk-tier.js';
import type { Config } from './config.js';
import { configureCache } from './control/cache-control.js';
import { ControlServer } from './control/server.js';
import { EventConsumer } from './events/event-consumer.js';
import { isWellFormedMetadata } from './fs/names/metadata-shapes.js';
import { SlabPool } from './fs/read/slab-pool.js';
import { recoverStaged } from './fs/write/staged-recovery.js';
import { createAttributePrimer, createFuseOperations } from './fuse/adapter.js';
import { mountTablePath } from './fuse/mount-table.js';
import { prepareMountpoint } from './fuse/mountpoint.js';
import { NativeAttrCache } from './fuse/native-attr-cache.js';
import { NativeReads } from './fuse/native-reads.js';
import { FuseSession, READ_AHEAD_KIB } from './fuse/session.js';
import type { Logger } from './log.js';
import { formatAddress } from './metrics/address.js';
import { registerEventMetrics } from './metrics/event-metrics.js';
import { meterStore } from './metrics/metered-store.js';
import { MountMetrics } from './metrics/mount-metrics.js';
import { type MetricsServer, serveMetrics } from './metrics/server.js';
import { instrumentStore } from './s3/counting-store.js';
import { isStoreError } from './s3/object-store.js';
import { profileEndpoint } from './s3/profile-endpoint.js';
import { createSdkStore } from './s3/sdk-store.js';
import { SharedCache } from './shared-cache/shared-cache.js';
import { createEventQueue, type EventQueue, type QueueAttributes } from './sqs/event-queue.js';
import { collectStats, type MountStats } from './stats.js';
import {
  fuseOperationTimeoutMs,
  MAX_PREFETCH_BLOCKS,
  MAX_REQUEST_BLOCKS,
  MAX_STREAM_BYTES,
  NATIVE_READS_MAX_BLOCKS,
  PIECE_SIZE,
  REQUEST_TIMEOUT_MS,
  SHARED_CACHE_START_WAIT_MS,
  STREAM_ABOVE_CACHE_SHARE,
} from './tuning.js';
import { buildCaches, buildCore } from './wiring.js';

/** A failure before the mount is ready, with a message meant for the person who typed the command. */
export class StartupError extends Error {
  override name = 'StartupError';
}

export interface RunningMount {
  stats(): MountStats;
  /** What the person who started the mount should hear once (also written to stderr and the log). */
  notices: string[];
  /** Resolves once the mount has ended (signal, external unmount or `stop`). */
  finished: Promise<void>;
  stop(): Promise<void>;
}

export async function startMount(requested: Config, log: Logger): Promise<RunningMount> {
  // The mountpoint by the name the mount table will give it: through a symbolic link, the
  // check for an unmount from outside would find no mount under the link's name and end
  // the serving process, leaving a dead mount; and `cache` commands would not find it.
  const config: Config = { ...requested, mountpoint: await mountTablePath(requested.mountpoint) };
  // An endpoint_url in the AWS profile is a custom endpoint as --endpoint-url is, and implies
  // path style as it does.
  const endpoint = config.endpointUrl ?? (await profileEndpoint(config.profile));
  // Which S3 staged copies belong to: buckets of one name at two endpoints are two buckets.
  const endpointIdentity = endpoint === undefined ? 'aws' : endpointIdentityOf(endpoint);
  const sdkStore = createSdkStore(
    {
      bucket: config.bucket,
      region: config.region,
      endpoint,
      forcePathStyle: config.forcePathStyle || endpoint !== undefined,
      profile: config.profile,
      maxAttempts: config.maxAttempts,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
    },
    log,
  );
  // Metrics exist only when their endpoint is on: otherwise nothing on the hot path feeds them.
  const metrics = config.metricsAddress ? new MountMetrics(() => cache.stats()) : undefined;
  const notices: string[] = [];
  const notice = (line: string) => {
    notices.push(line);
    process.stderr.write(`s3mount: ${line}\n`);
  };
  const store = instrumentStore(metrics ? meterStore(sdkStore, metrics) : sdkStore, log);
  try {
    await store.checkBucket();
  } catch (error) {
    sdkStore.close();
    throw new StartupError(isStoreError(error) ? error.message : `cannot reach bucket ${config.bucket}: ${String(error)}`);
  }
  // The events queue is checked as the bucket is: a queue that does not exist, or may not be
  // read, fails the mount with one line rather than leaving it to TTLs without a word.
  let queue: EventQueue | undefined;
  let queueAttributes: QueueAttributes | undefined;
  if (config.s3EventsQueue) {
    queue = createEventQueue(
      { url: config.s3EventsQueue, s3Endpoint: endpoint, region: config.region, profile: config.profile, maxAttempts: config.maxAttempts },
      log,
    );
    try {
      queueAttributes = await queue.attributes();
    } catch (error) {
      queue.close();
      sdkStore.close();
      throw new StartupError(`--s3-events-queue: ${(error as Error).message}`);
    }
  }
  const closeClients = () => {
    queue?.close();
    sdkStore.close();
  };
  try {
    await prepareMountpoint(config.mountpoint, { allowNonEmpty: config.allowNonEmpty }, log);
  } catch (error) {
    closeClients();
    throw new StartupError((error as Error).message);
  }

  let disk: OpenDiskTier | undefined;
  if (config.diskCache) {
    try {
      disk = openDiskTier(
        {
          cacheRoot: config.cacheDir,
          endpoint: config.endpointUrl,
          bucket: config.bucket,
          prefix: config.prefix,
          maxBytes: config.maxDiskCacheSizeMiB * 1024 * 1024,
          compression: config.diskCacheCompression,
        },
        log,
      );
    } catch (error) {
      if (error instanceof CacheDirInUse && !config.cacheDirChosen) {
        process.stderr.write(`s3mount: disk cache off for this mount: ${error.message}\n`);
        log.warn({ err: error }, 'disk cache off for this mount');
      } else {
        closeClients();
        throw new StartupError(
          error instanceof CacheDirInUse ? error.message : `cannot use cache directory under ${config.cacheDir}: ${(error as Error).message}`,
        );
      }
    }
  }

  // Bytes a killed predecessor staged but never uploaded are saved before anything else.
  const recovery = await recoverStaged(config.stagingDir, store, log, endpointIdentity);
  for (const kept of recovery.kept) process.stderr.write(`s3mount: unsaved data kept: ${kept}\n`);

  // Connecting starts now; the mount waits for it (briefly) once its core exists.
  const shared = config.sharedCache
    ? new SharedCache(
        {
          target: config.sharedCache,
          bucket: config.bucket,
          root: config.prefix,
          sharedMetadata: config.sharedMetadata,
          validate: isWellFormedMetadata,
          onApplied: metrics ? (lagMs) => metrics.remoteChangeApplied(lagMs) : undefined,
        },
        log,
      )
    : undefined;
  // Metadata tiers top first: local disk, then the shared tier.
  const metadataTiers = [...(disk?.metadata ? [disk.metadata] : []), ...(shared?.tier ? [shared.tier] : [])];
  const cache = buildCaches(config, log, { blocks: disk?.tier, metadata: metadataTiers, disk });
  const slabs = new SlabPool(MAX_REQUEST_BLOCKS * config.blockSizeKiB * 1024, MAX_STREAM_BYTES);
  slabs.reserve();
  // Reads of blocks on disk that a handle already read are answered in the binding.
  const nativeReads = config.nativeReads && disk?.tier ? NativeReads.open(NATIVE_READS_MAX_BLOCKS) : undefined;
  if (config.nativeReads && disk?.tier && !nativeReads)
    log.warn('the FUSE binding has no native reads (prebuilt binding?): every read is answered in JavaScript');
  const { filesystem, invalidation } = buildCore(store, cache, log, {
    nativeReads,
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
    endpoint: endpointIdentity,
    partSize: config.writePartSizeMiB * 1024 * 1024,
    kernelTtlMs: config.kernelCacheTtlSeconds * 1000,
  });
  // getattr answers kept in the binding: every change the core learns of drops what it touches
  // there (operations on a path drop it in the binding itself).
  const nativeAttrs = config.nativeAttrCache ? NativeAttrCache.open(config.maxCacheEntries) : undefined;
  if (config.nativeAttrCache && !nativeAttrs) log.warn('the FUSE binding has no attribute cache (prebuilt binding?): every stat is answered in JavaScript');
  const stopWatchingAttributes = nativeAttrs ? filesystem.watchAttributes((change) => nativeAttrs.apply(change)) : undefined;
  // Answers the core learns ahead of the stats that will ask (HEADs sent ahead for `ls -l`)
  // go into the binding at once: those stats never enter JavaScript.
  const stopPriming =
    nativeAttrs?.primes === true
      ? filesystem.watchKnownAttributes(createAttributePrimer(filesystem, log, (path, stat, keepMs) => nativeAttrs.prime(path, stat, keepMs)))
      : undefined;
  const closeNativeAttrs = () => {
    stopPriming?.();
    stopWatchingAttributes?.();
    nativeAttrs?.close();
    nativeReads?.close();
  };
  if (nativeAttrs) metrics?.registerNativeAttrCache(() => nativeAttrs.stats());
  if (shared) {
    const unavailable = await shared.start(invalidation, SHARED_CACHE_START_WAIT_MS);
    if (unavailable !== undefined) {
      notice(
        `shared cache ${shared.description} unavailable (${unavailable}): changes made by other mounts show after --metadata-ttl until it answers (retrying in the background)`,
      );
      log.warn({ redis: shared.description, reason: unavailable }, 'shared cache unavailable at start; caches coherent by TTL only until it answers');
    } else {
      log.info({ redis: shared.description, sharedMetadata: config.sharedMetadata }, 'shared cache connected');
    }
    metrics?.registerSharedCache(() => shared.stats());
  }
  // What the recovery uploaded replaced what the dead process (or an earlier mount) cached on
  // disk about those keys: a listing still within its TTL would show the old size and serve
  // the old version's blocks. Forgotten as any change of this mount's (and published).
  for (const key of recovery.uploaded) invalidation.changed(key);
  // S3 events can only make the mount forget, through the one invalidation path.
  const events = queue
    ? new EventConsumer(
        queue,
        {
          changed: (key) => invalidation.changed(key, 'remote'),
          everythingMayHaveChanged: () => invalidation.changedPath('/', true, 'remote'),
        },
        log,
        { scope: { bucket: config.bucket, prefix: config.prefix }, retentionSeconds: queueAttributes?.retentionSeconds },
      )
    : undefined;
  const stats = () => {
    const collected = collectStats(cache, store, config.kernelCacheTtlSeconds, slabs.stats(), filesystem.uploads, {
      sharedCache: shared?.stats(),
      nativeAttrCache: nativeAttrs?.stats(),
      nativeReads: nativeReads?.stats(),
    });
    return events ? { ...collected, events: events.stats() } : collected;
  };
  if (metrics && events) registerEventMetrics(metrics.registry, () => events.stats());
  let metricsServer: MetricsServer | undefined;
  if (metrics && config.metricsAddress) {
    try {
      metricsServer = await serveMetrics(config.metricsAddress, metrics, log);
    } catch (error) {
      closeNativeAttrs();
      closeClients();
      await disk?.close();
      await shared?.close();
      throw new StartupError(`cannot serve metrics on ${formatAddress(config.metricsAddress)}: ${(error as Error).message}`);
    }
  }
  const session = new FuseSession(
    createFuseOperations(filesystem, log, {
      keepAttributes: nativeAttrs !== undefined,
      ...(metrics ? { onOperation: (op: string, ms: number, errno: number, bytes: number) => metrics.fuseOperation(op, ms, errno, bytes) } : {}),
    }),
    {
      mountpoint: config.mountpoint,
      fsname: `s3mount:${config.bucket}${config.prefix ? `:${config.prefix}` : ''}`,
      allowOther: config.allowOther,
      allowRoot: config.allowRoot,
      readOnly: config.readOnly,
      attrTimeoutSeconds: config.kernelCacheTtlSeconds,
      // Our own creates go through the kernel, which drops its negative entry itself. A lower
      // kernel TTL, asked for so that `cache invalidate` acts at once, caps this one too.
      negativeTimeoutSeconds: Math.min(config.negativeMetadataTtlSeconds, config.kernelCacheTtlSeconds),
      operationTimeoutMs: fuseOperationTimeoutMs(config.maxAttempts),
    },
    log,
  );
  try {
    await session.mount();
  } catch (error) {
    closeNativeAttrs();
    closeClients();
    await metricsServer?.close();
    await disk?.close();
    await shared?.close();
    throw new StartupError(`cannot mount ${config.mountpoint}: ${(error as Error).message}`);
  }
  const control = new ControlServer(
    config.mountpoint,
    {
      stats,
      clear: () => invalidation.clear('control'),
      invalidate: (path, recursive) => invalidation.changedPath(path, recursive, 'control'),
      configure: (change) => configureCache(cache, change),
    },
    log,
  );
  await control.listen().catch((error: unknown) => log.warn({ err: error }, 'control socket unavailable'));
  events?.start();

  const saveStaged = async () => {
    const unsaved = await filesystem.flushAll();
    for (const file of unsaved) log.error({ file }, 'could not upload a staged file; its bytes stay in the staging directory');
  };
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      // A pending long poll is ended at once, not waited out.
      await events?.stop();
      // Unsaved bytes are uploaded before the mount goes away; what cannot be is named in the log.
      await saveStaged();
      // A failed unmount is logged, and the rest still runs: the uploads and caches are saved.
      await session
        .unmount()
        .catch((error: unknown) => log.error({ err: error, mountpoint: config.mountpoint }, 'unmount failed; `fusermount -uz MOUNTPOINT` detaches it'));
      await saveStaged();
      await control.close();
      closeNativeAttrs();
      await metricsServer?.close();
      for (const upload of await sdkStore.finish()) {
        log.error(
          { upload },
          'a failed multipart upload could not be aborted; its parts stay in the bucket until aborted (an AbortIncompleteMultipartUpload lifecycle rule removes them)',
        );
      }
      for (const tier of cache.metadataTiers) await tier.close();
      await disk?.close();
      const finalStats = stats();
      await shared?.close();
      log.info({ stats: finalStats }, 'final statistics');
      closeClients();
    })();
    return stopping;
  };
  const finished = session.waitForExternalUnmount().then(stop);
  return { stats, notices, finished, stop };
}

/** An endpoint URL as staged copies record it: however it was written, without credentials. */
export function endpointIdentityOf(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname.replace(/\/+$/, '')}`;
  } catch {
    return url;
  }
}
