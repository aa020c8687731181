// Opens a mount's disk tiers: its directory under the cache root, the lock that keeps other
// mounts out, a byte bound that leaves room on the filesystem, split between content blocks
// and metadata.
import { statfsSync } from 'node:fs';
import type { Logger } from '../../log.js';
import { cacheDirFor, lockCacheDir } from './cache-dir.js';
import { type Compression, zstdAvailable } from './codec.js';
import { DiskBlockTier } from './disk-block-tier.js';
import { DiskMetadataTier } from './disk-metadata-tier.js';

export interface DiskTierSettings {
  cacheRoot: string;
  endpoint?: string;
  bucket: string;
  prefix: string;
  /** Both tiers together. */
  maxBytes: number;
  compression: Compression;
}

export interface OpenDiskTier {
  tier: DiskBlockTier;
  /** Metadata on disk; absent when SQLite is not installed or its database cannot be opened. */
  metadata?: DiskMetadataTier;
  directory: string;
  /** The bound of both tiers together. */
  readonly maxBytes: number;
  /** A new bound for both tiers together; shrinking evicts at once. */
  resize(maxBytes: number): void;
  /** Finishes writes in flight, closes the metadata database and unlocks the directory. */
  close(): Promise<void>;
}

// The tiers never take more than this share of what is free when the mount starts.
const FREE_SPACE_SHARE = 0.5;
// Metadata takes this share of the bound, blocks the rest. 100,000 HEAD answers take about
// 30 MiB (docs/benchmarks.md): a sixteenth of the default bound holds several times that.
const METADATA_SHARE = 1 / 16;

/** How a bound for the whole disk cache is shared between metadata and blocks. */
export function splitDiskBound(maxBytes: number): { blocks: number; metadata: number } {
  const metadata = Math.floor(maxBytes * METADATA_SHARE);
  return { blocks: maxBytes - metadata, metadata };
}

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
  const bounds = splitDiskBound(maxBytes);
  const tier = new DiskBlockTier({ directory, maxBytes: bounds.blocks, compression }, log);
  let metadata: DiskMetadataTier | undefined;
  try {
    metadata = new DiskMetadataTier({ directory, maxBytes: bounds.metadata, compression }, log);
    log.debug({ entries: metadata.stats().entries, ms: Math.round(metadata.openMs) }, 'disk cache: metadata database opened');
  } catch (error) {
    log.warn({ err: error, directory }, 'disk cache: metadata stays in memory (its database cannot be opened); content blocks still go to disk');
  }
  return {
    tier,
    metadata,
    directory,
    get maxBytes() {
      return maxBytes;
    },
    resize(newBound: number) {
      maxBytes = newBound;
      const split = splitDiskBound(newBound);
      tier.resize(split.blocks);
      metadata?.resize(split.metadata);
    },
    close: async () => {
      await metadata?.close();
      await tier.close();
      release();
    },
  };
}
