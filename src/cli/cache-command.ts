// `s3mount cache stats|clear|invalidate|configure MOUNTPOINT ...`: requests to a running mount
// over its control socket.
import { isAbsolute, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { sendControl } from '../control/client.js';
import type { ControlRequest, ControlResponse } from '../control/protocol.js';
import { dropKernelPages } from '../fuse/kernel-pages.js';
import { mountTablePath } from '../fuse/mount-table.js';
import { type CacheSettings, formatSettings, formatStats } from '../stats.js';
import { parseArgsErrorLine, parseInteger, UsageError } from './options.js';

const USAGE = 'usage: s3mount cache stats|clear|invalidate|configure MOUNTPOINT ... (see s3mount --help)';

type Print = (line: string) => void;

export async function cacheCommand(args: string[], print: Print = console.log): Promise<number> {
  const { values, positionals } = parseCacheArguments(args);
  const [action, mountpointArgument, ...rest] = positionals;
  if (!mountpointArgument) throw new UsageError(USAGE);
  const given = resolve(mountpointArgument);
  // The mount serves its socket under the name the mount table gives it (links resolved).
  const mountpoint = await mountTablePath(given);
  const expected = action === 'invalidate' ? 1 : 0;
  if (rest.length !== expected) throw new UsageError(USAGE);

  switch (action) {
    case 'stats': {
      const { stats } = await ask(mountpoint, { command: 'stats' });
      if (stats) print(values.json ? JSON.stringify(stats, null, 2) : formatStats(stats));
      return 0;
    }
    case 'clear': {
      await ask(mountpoint, { command: 'clear' });
      print(`cleared the cache of ${mountpoint}`);
      // As after an invalidation: the kernel's copy runs out before this returns.
      const { stats } = await ask(mountpoint, { command: 'stats' });
      await waitOutKernelCache(stats?.settings.kernelCacheTtlSeconds ?? 0);
      return 0;
    }
    case 'invalidate': {
      const path = pathInMountOf(mountpoint, given, rest[0]);
      const { dropped } = await ask(mountpoint, { command: 'invalidate', path, recursive: values.recursive === true });
      print(`dropped ${dropped ?? 0} cached entries for ${path}${values.recursive ? ' and everything under it' : ''}`);
      // The kernel keeps what it was told for --kernel-cache-ttl and cannot be asked to
      // forget it (libfuse 2): returning once that ran out means the next stat or cat asks
      // s3mount, whose cache now holds nothing about the path.
      const { stats } = await ask(mountpoint, { command: 'stats' });
      await waitOutKernelCache(stats?.settings.kernelCacheTtlSeconds ?? 0);
      // Its pages too, which libfuse would keep for a replacement of the same size and mtime.
      await dropKernelPages(join(mountpoint, path));
      return 0;
    }
    case 'configure': {
      const change = settingsChange(values);
      const { settings } = await ask(mountpoint, { command: 'configure', settings: change });
      if (settings) print(formatSettings(settings));
      if (change.metadataTtlSeconds !== undefined) print('answers already cached keep the TTL they were stored with (s3mount cache clear drops them)');
      return 0;
    }
    default:
      throw new UsageError(USAGE);
  }
}

// The kernel counts its timeouts in jiffies from when it got an answer: a little past the TTL.
const KERNEL_TTL_MARGIN_MS = 50;

async function waitOutKernelCache(seconds: number): Promise<void> {
  if (seconds > 0) await new Promise((resolve) => setTimeout(resolve, seconds * 1000 + KERNEL_TTL_MARGIN_MS));
}

async function ask(mountpoint: string, request: ControlRequest): Promise<Extract<ControlResponse, { ok: true }>> {
  const response = await sendControl(mountpoint, request);
  if (!response.ok) throw new Error(response.error);
  return response;
}

function parseCacheArguments(args: string[]) {
  const options = {
    json: { type: 'boolean' },
    recursive: { type: 'boolean', short: 'r' },
    'metadata-ttl': { type: 'string' },
    'max-cache-entries': { type: 'string' },
    'max-cache-size': { type: 'string' },
    'max-disk-cache-size': { type: 'string' },
  } as const;
  try {
    return parseArgs({ args, allowPositionals: true, options });
  } catch (error) {
    throw new UsageError(parseArgsErrorLine(error, args, options));
  }
}

function settingsChange(values: Record<string, string | boolean | undefined>): Partial<CacheSettings> {
  const change: Partial<CacheSettings> = {};
  const fields: Array<[string, keyof CacheSettings, number]> = [
    ['metadata-ttl', 'metadataTtlSeconds', 0],
    ['max-cache-entries', 'maxCacheEntries', 1],
    ['max-cache-size', 'maxCacheSizeMiB', 1],
    ['max-disk-cache-size', 'maxDiskCacheSizeMiB', 1],
  ];
  for (const [flag, field, min] of fields) {
    const value = values[flag];
    if (typeof value !== 'string') continue;
    change[field] = parseInteger(flag, value, min);
  }
  if (Object.keys(change).length === 0)
    throw new UsageError('cache configure needs at least one setting: --metadata-ttl SECONDS, --max-cache-entries N or --max-cache-size MIB');
  return change;
}

/** `path` inside the mount, whose mountpoint an absolute `path` may name as given or as the mount table does. */
function pathInMountOf(mountpoint: string, given: string, path: string): string {
  const viaGiven = isAbsolute(path) && !isOutside(relative(given, resolve(path)));
  return pathInMount(viaGiven ? given : mountpoint, path);
}

function isOutside(relativePath: string): boolean {
  return relativePath === '..' || relativePath.startsWith('../') || isAbsolute(relativePath);
}

/**
 * The path inside the mount ("/" is its root) of `path`: an absolute path must lie under the
 * mountpoint; a relative one is taken relative to the mountpoint. Nothing is stat'ed.
 */
export function pathInMount(mountpoint: string, path: string): string {
  const absolute = isAbsolute(path) ? resolve(path) : resolve(mountpoint, path);
  const inside = relative(mountpoint, absolute);
  if (isOutside(inside)) throw new UsageError(`${path} is not inside the mount at ${mountpoint}`);
  return `/${inside}`;
}
