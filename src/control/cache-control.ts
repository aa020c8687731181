// What the control socket does to a mount's caches: changes settings. Dropping what a path
// names goes through the mount's one Invalidation (src/fs/invalidation.ts).
import type { Caches } from '../cache/caches.js';
import { type CacheSettings, cacheSettingsOf } from '../stats.js';

const MIB = 1024 * 1024;

/** Applies new settings at once (a smaller bound evicts now); returns the settings in force. */
export function configureCache(caches: Pick<Caches, 'configure' | 'config' | 'disk'>, change: Partial<CacheSettings>): CacheSettings {
  if (change.maxDiskCacheSizeMiB !== undefined && !caches.disk) throw new Error('this mount has no disk cache (--no-disk-cache)');
  caches.configure({
    ...(change.metadataTtlSeconds !== undefined && { ttlMs: change.metadataTtlSeconds * 1000 }),
    ...(change.maxCacheEntries !== undefined && { maxMetadataEntries: change.maxCacheEntries }),
    ...(change.maxCacheSizeMiB !== undefined && { maxContentBytes: change.maxCacheSizeMiB * MIB }),
  });
  if (change.maxDiskCacheSizeMiB !== undefined) caches.disk?.resize(change.maxDiskCacheSizeMiB * MIB);
  return cacheSettingsOf(caches);
}
