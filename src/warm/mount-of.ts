// Which mount a path lives on, from /proc/self/mountinfo: warm only walks s3mount mounts, so
// a mistyped path never sends it through a whole local disk.
import { readFile } from 'node:fs/promises';
import { sep } from 'node:path';

export interface MountEntry {
  mountpoint: string;
  /** "fuse.s3mount" for ours. */
  fstype: string;
  source: string;
}

/** Parses mountinfo lines: field 5 is the mountpoint; after " - " come fstype and source. */
export function parseMountInfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const separator = fields.indexOf('-');
    if (fields.length < 5 || separator < 0) continue;
    entries.push({
      mountpoint: unescapeField(fields[4]),
      fstype: unescapeField(fields[separator + 1] ?? ''),
      source: unescapeField(fields[separator + 2] ?? ''),
    });
  }
  return entries;
}

/** The mount holding the absolute path `path` (the last one mounted wins, as in the kernel). */
export function mountOf(path: string, entries: readonly MountEntry[]): MountEntry | undefined {
  let found: MountEntry | undefined;
  for (const entry of entries) {
    const inside = path === entry.mountpoint || path.startsWith(entry.mountpoint === sep ? sep : entry.mountpoint + sep);
    if (inside && (!found || entry.mountpoint.length >= found.mountpoint.length)) found = entry;
  }
  return found;
}

export async function readMountTable(): Promise<MountEntry[]> {
  return parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
}

// mountinfo writes space, tab, newline and backslash as octal escapes.
function unescapeField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}
