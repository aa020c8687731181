// What the control socket does to a mount's cache: drop what a path names, change settings.
import type { ObjectCache } from '../cache/types.js';
import { parentPrefix } from '../fs/invalidation.js';
import { keyOf } from '../fs/names/paths.js';
import { cacheSettingsOf, type CacheSettings } from '../stats.js';

const MIB = 1024 * 1024;

export interface MountTarget {
  bucket: string;
  /** The mount's root prefix: "" or ending in "/". */
  prefix: string;
}

/**
 * Drops what s3mount knows about `path` (inside the mount): its HEAD answer and content, its
 * listing when it is a directory, and its parent's listing, which also describes it. With
 * `recursive`, everything under a directory too. Returns the number of entries dropped.
 */
export function invalidatePath(cache: ObjectCache, target: MountTarget, path: string, recursive: boolean): number {
  const { bucket, prefix } = target;
  const key = keyOf(prefix, path);
  if (key === prefix) return recursive ? cache.invalidatePrefix(bucket, prefix) : cache.invalidateKey(bucket, prefix);
  let dropped = cache.invalidateKey(bucket, key) + cache.invalidateKey(bucket, `${key}/`) + cache.invalidateKey(bucket, parentPrefix(key));
  if (recursive) dropped += cache.invalidatePrefix(bucket, `${key}/`);
  return dropped;
}

/** Applies new settings at once (a smaller bound evicts now); returns the settings in force. */
export function configureCache(cache: ObjectCache, change: Partial<CacheSettings>): CacheSettings {
  cache.configure({
    ...(change.metadataTtlSeconds !== undefined && { ttlMs: change.metadataTtlSeconds * 1000 }),
    ...(change.maxCacheEntries !== undefined && { maxMetadataEntries: change.maxCacheEntries }),
    ...(change.maxCacheSizeMiB !== undefined && { maxContentBytes: change.maxCacheSizeMiB * MIB }),
  });
  return cacheSettingsOf(cache.config);
}
