import type { LevelWithSilent } from 'pino';
import type { LogFormat } from './log.js';
import type { RedisTarget } from './shared-cache/redis-url.js';

/** Everything a mount needs, validated. Only src/cli.ts builds it from argv and the environment. */
export interface Config {
  bucket: string;
  /** Key prefix the mount shows as its root: "" or ending in "/". */
  prefix: string;
  /** Absolute path of the mountpoint. */
  mountpoint: string;

  endpointUrl?: string;
  region?: string;
  profile?: string;
  forcePathStyle: boolean;
  /** Attempts per S3 request, first one included (SDK standard retry). */
  maxAttempts: number;

  readOnly: boolean;
  foreground: boolean;
  allowOther: boolean;
  allowRoot: boolean;
  allowNonEmpty: boolean;
  uid: number;
  gid: number;
  fileMode: number;
  dirMode: number;
  /**
   * Attributes from each object's HEAD (mode, owner, times, symbolic links, s3fs directories);
   * false serves listings alone: faster, but every object is a regular file with the defaults.
   */
  posixMetadata: boolean;

  /** Seconds a HEAD or listing answer is trusted. */
  metadataTtlSeconds: number;
  /** Seconds the kernel keeps attributes and names without asking s3mount (default: 1, at most the metadata TTL). */
  kernelCacheTtlSeconds: number;
  /** Seconds a "no such key" answer is trusted; 0 turns negative caching off. */
  negativeMetadataTtlSeconds: number;
  /** Bound on cached metadata entries (HEAD answers, listing pages, directories); also bounds the binding's attribute cache. */
  maxCacheEntries: number;
  /**
   * getattr answers kept inside the FUSE binding (scripts/fuse-native-attr-cache.h) and given
   * there without a trip to JavaScript, for no longer than the entries they came from. Default true.
   */
  nativeAttrCache: boolean;
  /**
   * Reads of disk-cached blocks a handle already read answered inside the FUSE binding
   * (scripts/fuse-native-read-cache.h), without a trip to JavaScript. Default true.
   */
  nativeReads: boolean;
  /** Bound on cached object content, in MiB. */
  maxCacheSizeMiB: number;
  /** Size of one cached content block, in KiB. */
  blockSizeKiB: number;
  /** Keep content blocks on local disk too, across remounts. */
  diskCache: boolean;
  /** Root of disk caches; each bucket and prefix gets a directory under it (created 0700). */
  cacheDir: string;
  /**
   * The root was chosen (--cache-dir or its variable): a directory another mount holds is then
   * refused. The default root is shared by every mount of a user: one that finds its directory
   * held goes on without a disk tier.
   */
  cacheDirChosen: boolean;
  /** Bound on the disk cache, in MiB (lowered to half the free space at mount time). */
  maxDiskCacheSizeMiB: number;
  diskCacheCompression: 'zstd' | 'none';
  /** Directory for staged copies of files being written (created 0700). */
  stagingDir: string;
  /** Uploads above this size are multipart, in parts of this size (MiB). */
  writePartSizeMiB: number;

  logLevel: LevelWithSilent;
  logFormat: LogFormat;
  logFile?: string;

  /** Where Prometheus metrics are served; absent = no metrics endpoint (and no metrics cost). */
  metricsAddress?: { host: string; port: number };

  /** Redis shared by the mounts of a bucket (--shared-cache): invalidation bus, and shared metadata unless turned off. */
  sharedCache?: RedisTarget;
  /** With a shared cache, keep listings and HEAD answers in Redis too (false: the bus alone). */
  sharedMetadata: boolean;
  /** SQS queue URL of the bucket's S3 event notifications; absent = no consumer. */
  s3EventsQueue?: string;
}

export const DEFAULTS = {
  region: 'us-east-1',
  // SDK standard retry: 3 attempts bound a persistent failure to ~3 request deadlines.
  maxAttempts: 3,
  fileMode: 0o644,
  dirMode: 0o755,
  // As mountpoint-s3 with --metadata-ttl: long enough for ls -l / find to be served twice.
  metadataTtlSeconds: 60,
  // As s3fs and mountpoint-s3: what another writer changed, or `cache invalidate` dropped,
  // shows within a second even where the kernel already holds attributes and names.
  kernelCacheTtlSeconds: 1,
  // With a shared cache, another mount's change reaches this mount's caches within
  // milliseconds, but the kernel would still answer from its own copy for its TTL, which
  // libfuse 2 cannot recall: 0 lets the bus decide what stat, ls and cat show.
  sharedCacheKernelCacheTtlSeconds: 0,
  // Short, so that objects created by other writers appear soon.
  negativeMetadataTtlSeconds: 5,
  maxCacheEntries: 100_000,
  maxCacheSizeMiB: 256,
  // Enough for a working set of large files on a laptop; never more than half the free space.
  maxDiskCacheSizeMiB: 4096,
  // 1 MiB: eight 128 KiB kernel reads per S3 GET, small enough for random reads.
  blockSizeKiB: 1024,
  // S3's multipart minimum is 5 MiB; 8 MiB parts keep single PUTs under fauxqs's 11 MiB limit.
  writePartSizeMiB: 8,
  logLevel: 'warn' as LevelWithSilent,
  logFormat: 'json' as LogFormat,
} as const;
