// The kernel's pages of a file through a mount, dropped on request (`s3mount cache invalidate`).
// libfuse 2's auto_cache keeps them across opens while the file's size and mtime stay as they
// were, so an object replaced by another of the same size and mtime (tools that keep times:
// s3fs, rclone, reproducible builds) would be read from them long after the mount itself
// dropped the old version. Run by a process other than the one serving the mount.
import { constants } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import Fuse from 'fuse-native';

/**
 * Drops what the kernel holds of the regular file at `path` (posix_fadvise DONTNEED through
 * the patched binding); false when there was nothing to drop it from (not a regular file, not
 * readable, or a binding built without the call).
 */
export async function dropKernelPages(path: string): Promise<boolean> {
  const drop = Fuse.dropPageCache;
  if (!drop) return false;
  const info = await lstat(path).catch(() => undefined);
  if (!info?.isFile()) return false;
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW).catch(() => undefined);
  if (!handle) return false;
  try {
    return drop(handle.fd) === 0;
  } finally {
    await handle.close();
  }
}
