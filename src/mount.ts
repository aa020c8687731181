// Wiring of one mount: object store → cache → filesystem core → FUSE session, and its lifetime.
import { createObjectCache } from './cache/object-cache.js';
import type { Config } from './config.js';
import { ControlServer } from './control/server.js';
import { S3Filesystem } from './fs/filesystem.js';
import { createFuseOperations } from './fuse/adapter.js';
import { prepareMountpoint } from './fuse/mountpoint.js';
import { FuseSession } from './fuse/session.js';
import type { Logger } from './log.js';
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
// Blocks prefetched ahead of a sequential reader: 8 MiB in flight at most per reader.
const MAX_PREFETCH_BLOCKS = 8;

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
  const store = instrumentStore(sdkStore, log);
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
  const filesystem = new S3Filesystem(store, cache, log, {
    bucket: config.bucket,
    prefix: config.prefix,
    uid: config.uid,
    gid: config.gid,
    fileMode: config.fileMode,
    dirMode: config.dirMode,
    negativeTtlMs: config.negativeMetadataTtlSeconds * 1000,
    blockSize: config.blockSizeKiB * 1024,
    maxPrefetchBlocks: MAX_PREFETCH_BLOCKS,
    readOnly: config.readOnly,
    stagingDirectory: config.stagingDir,
    partSize: config.writePartSizeMiB * 1024 * 1024,
  });
  const stats = () => collectStats(cache, store);
  const session = new FuseSession(
    createFuseOperations(filesystem, log),
    {
      mountpoint: config.mountpoint,
      fsname: `s3mount:${config.bucket}${config.prefix ? `:${config.prefix}` : ''}`,
      allowOther: config.allowOther,
      allowRoot: config.allowRoot,
      attrTimeoutSeconds: config.metadataTtlSeconds,
      // Our own creates go through the kernel, which drops its negative entry itself.
      negativeTimeoutSeconds: config.negativeMetadataTtlSeconds,
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
    throw new StartupError(`cannot mount ${config.mountpoint}: ${(error as Error).message}`);
  }
  const control = new ControlServer(config.mountpoint, { stats, clear: () => cache.clear() }, log);
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
      log.info({ stats: stats() }, 'final statistics');
      sdkStore.close();
    })();
    return stopping;
  };
  const finished = session.waitForExternalUnmount().then(stop);
  return { stats, finished, stop };
}
