// What the control socket does to a mount's caches: changes settings. Dropping what a path
// names goes through the mount's one Invalidation (src/fs/invalidation.ts).
import type { Caches } from '../cache/caches.js';
import { cacheSettingsOf, type CacheSettings } from '../stats.js';

const MIB = 1024 * 1024;

/** Applies new settings at once (a smaller bound evicts now); returns the settings in force. */
export function configureCache(caches: Pick<Caches, 'configure' | 'config'>, change: Partial<CacheSettings>): CacheSettings {
  caches.configure({
    ...(change.metadataTtlSeconds !== undefined && { ttlMs: change.metadataTtlSeconds * 1000 }),
    ...(change.maxCacheEntries !== undefined && { maxMetadataEntries: change.maxCacheEntries }),
    ...(change.maxCacheSizeMiB !== undefined && { maxContentBytes: change.maxCacheSizeMiB * MIB }),
  });
  return cacheSettingsOf(caches.config);
}
