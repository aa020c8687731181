import { readFile, readlink, realpath } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

/** Whether a filesystem is mounted at `mountpoint` (absolute), from /proc/self/mountinfo. */
export async function isMounted(mountpoint: string): Promise<boolean> {
  const table = await readFile('/proc/self/mountinfo', 'utf8');
  return table.split('\n').some((line) => unescapeMountPath(line.split(' ')[4] ?? '') === mountpoint);
}

// mountinfo writes space, tab, newline and backslash as octal escapes.
function unescapeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/**
 * `path` (absolute) as the mount table names it once mounted: with symbolic links resolved, as
 * the kernel resolves them when mounting. The last component is resolved with readlink, not
 * stat: a mountpoint is the root of its mount, which a stat would ask (and a hung or dead mount
 * would not answer). A path that cannot be resolved keeps its last component as given.
 */
export async function mountTablePath(path: string, linksLeft = MAX_LINKS): Promise<string> {
  const parent = dirname(path);
  if (parent === path) return path;
  const resolvedParent = await realpath(parent).catch(() => parent);
  const named = join(resolvedParent, basename(path));
  const target = linksLeft > 0 ? await readlink(named).catch(() => undefined) : undefined;
  return target === undefined ? named : mountTablePath(resolve(resolvedParent, target), linksLeft - 1);
}

// Linux's limit on links followed in one path (ELOOP beyond).
const MAX_LINKS = 40;
