// One JSON request per connection, one JSON response back.
import type { CacheSettings, MountStats } from '../stats.js';

export type ControlRequest =
  | { command: 'stats' }
  | { command: 'clear' }
  /** `path` is inside the mount ("/" is its root). */
  | { command: 'invalidate'; path: string; recursive: boolean }
  | { command: 'configure'; settings: Partial<CacheSettings> };

export type ControlResponse = { ok: true; stats?: MountStats; dropped?: number; settings?: CacheSettings } | { ok: false; error: string };

/** Checks a request read from the socket; throws with a message naming what is wrong. */
export function validateRequest(value: unknown): ControlRequest {
  if (typeof value !== 'object' || value === null) throw new Error('request must be a JSON object');
  const request = value as Record<string, unknown>;
  switch (request.command) {
    case 'stats':
    case 'clear':
      return { command: request.command };
    case 'invalidate': {
      const { path, recursive } = request;
      if (typeof path !== 'string' || !path.startsWith('/')) throw new Error('invalidate needs an absolute path inside the mount');
      if (path.split('/').includes('..')) throw new Error('invalidate: ".." is not allowed in a path');
      return { command: 'invalidate', path, recursive: recursive === true };
    }
    case 'configure':
      return { command: 'configure', settings: validateSettings(request.settings) };
    default:
      throw new Error(`unknown command ${JSON.stringify(request.command)}`);
  }
}

const SETTING_MINIMUMS: Record<keyof CacheSettings, number> = { metadataTtlSeconds: 0, maxCacheEntries: 1, maxCacheSizeMiB: 1, maxDiskCacheSizeMiB: 1 };

function validateSettings(value: unknown): Partial<CacheSettings> {
  if (typeof value !== 'object' || value === null) throw new Error('configure needs settings');
  const settings: Partial<CacheSettings> = {};
  for (const [name, given] of Object.entries(value)) {
    if (!(name in SETTING_MINIMUMS)) throw new Error(`configure: unknown setting ${name}`);
    const min = SETTING_MINIMUMS[name as keyof CacheSettings];
    if (typeof given !== 'number' || !Number.isSafeInteger(given) || given < min)
      throw new Error(`configure: ${name} must be a whole number of at least ${min}`);
    settings[name as keyof CacheSettings] = given;
  }
  if (Object.keys(settings).length === 0) throw new Error('configure: nothing to change');
  return settings;
}
