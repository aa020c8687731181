// The kernel's read-ahead window for one mount, in /sys/class/bdi/<major:minor>/read_ahead_kb.
// A larger window keeps more 128 KiB reads in flight for a sequential reader, which hides
// S3's per-request latency (measured in docs/notes/fuse-native.md).
import { readFile, writeFile } from 'node:fs/promises';

/** Sets the window; returns false when the mount is not found or the file is not writable (not root). */
export async function setReadAhead(mountpoint: string, kib: number): Promise<boolean> {
  const table = await readFile('/proc/self/mountinfo', 'utf8');
  const line = table.split('\n').find((entry) => entry.split(' ')[4] === mountpoint);
  const device = line?.split(' ')[2];
  if (!device) return false;
  return writeFile(`/sys/class/bdi/${device}/read_ahead_kb`, String(kib)).then(
    () => true,
    () => false,
  );
}
