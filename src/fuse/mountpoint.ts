// Checks and cleanup of a mountpoint before mounting, with one clear line per refusal.
import { execFile } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { Logger } from '../log.js';
import { isMounted } from './mount-table.js';

const run = promisify(execFile);

export class MountpointError extends Error {
  override name = 'MountpointError';
}

// fuse-native unmounts through a shell command built from the path without quoting.
const UNSAFE_FOR_SHELL = /[^A-Za-z0-9_./@%+=:,-]/;

export async function prepareMountpoint(mountpoint: string, options: { allowNonEmpty: boolean }, log: Logger): Promise<void> {
  if (UNSAFE_FOR_SHELL.test(mountpoint)) {
    throw new MountpointError(`mountpoint ${mountpoint} contains characters s3mount cannot pass to fusermount (use letters, digits and ./_-)`);
  }
  if (await isMounted(mountpoint)) {
    const health = await stat(mountpoint).then(
      () => 'alive',
      (error: NodeJS.ErrnoException) => error.code ?? 'error',
    );
    if (health === 'alive') throw new MountpointError(`${mountpoint} is already mounted (unmount it first: fusermount -u ${mountpoint})`);
    // A dead FUSE daemon leaves "Transport endpoint is not connected" behind: clean it up.
    log.warn({ mountpoint, state: health }, 'cleaning up a stale mount left by a process that died');
    await run('fusermount', ['-uz', mountpoint]).catch(() => run('umount', ['-l', mountpoint]));
  }
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(mountpoint);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new MountpointError(code === 'ENOENT' ? `mountpoint ${mountpoint} does not exist` : `cannot use mountpoint ${mountpoint}: ${code}`);
  }
  if (!info.isDirectory()) throw new MountpointError(`mountpoint ${mountpoint} is not a directory`);
  if (!options.allowNonEmpty && (await readdir(mountpoint)).length > 0) {
    throw new MountpointError(`mountpoint ${mountpoint} is not empty (use --allow-non-empty to mount over it)`);
  }
}
