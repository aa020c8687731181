// Opens a mount's disk tier: its directory under the cache root, the lock that keeps other
// mounts out, and a byte bound that leaves room on the filesystem.
import { statfsSync } from 'node:fs';
import type { Logger } from '../../log.js';
import { cacheDirFor, lockCacheDir } from './cache-dir.js';
import { type Compression, zstdAvailable } from './codec.js';
import { DiskBlockTier } from './disk-block-tier.js';

export interface DiskTierSettings {
  cacheRoot: string;
  endpoint?: string;
  bucket: string;
  prefix: string;
  maxBytes: number;
  compression: Compression;
}

export interface OpenDiskTier {
  tier: DiskBlockTier;
  directory: string;
  /** Finishes writes in flight and unlocks the directory. */
  close(): Promise<void>;
}

// The tier never takes more than this share of what is free when the mount starts.
const FREE_SPACE_SHARE = 0.5;

/** Throws CacheDirInUse when another live mount holds the directory. */
export function openDiskTier(settings: DiskTierSettings, log: Logger): OpenDiskTier {
  const directory = cacheDirFor(settings.cacheRoot, settings);
  const release = lockCacheDir(directory);
  let maxBytes = settings.maxBytes;
  try {
    const fs = statfsSync(directory);
    const free = Number(fs.bavail) * Number(fs.bsize);
    if (free * FREE_SPACE_SHARE < maxBytes) {
      maxBytes = Math.floor(free * FREE_SPACE_SHARE);
      log.warn({ directory, maxMiB: Math.floor(maxBytes / 1048576) }, 'disk cache bounded to half the free space');
    }
  } catch (error) {
    log.warn({ err: error, directory }, 'disk cache: cannot read the free space; keeping the configured bound');
  }
  let compression = settings.compression;
  if (compression === 'zstd' && !zstdAvailable) {
    log.warn('disk cache: zstd-napi is not installed (its native build failed); blocks are stored uncompressed');
    compression = 'none';
  }
  const tier = new DiskBlockTier({ directory, maxBytes, compression }, log);
  return {
    tier,
    directory,
    close: async () => {
      await tier.close();
      release();
    },
  };
}
