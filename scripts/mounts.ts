// Driving mounts from outside the serving process (demo, tests, benchmarks): show a
// command and its output, wait for a mount, unmount with retries.
import { execFile } from 'node:child_process';
import { basename } from 'node:path';
import { promisify } from 'node:util';
import { isMounted } from '../src/fuse/mount-table.js';

const execFileAsync = promisify(execFile);

/** Prints "$ command" and what it wrote; a failing command fails the demo. */
export async function runShown(command: string, args: string[]): Promise<void> {
  const shown = command === 'sh' ? args[1] : [basename(command), ...args].join(' ');
  console.log(`$ ${shown}`);
  const { stdout, stderr } = await execFileAsync(command, args, { maxBuffer: 64 * 1024 * 1024 });
  process.stdout.write(stdout);
  process.stderr.write(stderr);
  console.log('');
}

export { isMounted };

/** Waits until the kernel shows the mount, or fails when the serving process exits first. */
export async function waitForMount(mountpoint: string, exited: Promise<unknown>, timeoutMs = 30_000): Promise<void> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + timeoutMs;
  while (!(await isMounted(mountpoint))) {
    if (gone) throw new Error('s3mount exited before the mount was ready');
    if (Date.now() > deadline) throw new Error('the mount did not come up in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** fusermount -u, retried while the mount is busy, then a lazy unmount as the last resort. */
export async function unmountWithRetries(mountpoint: string): Promise<void> {
  for (let attempt = 0; attempt < 20 && (await isMounted(mountpoint)); attempt++) {
    if (
      await execFileAsync('fusermount', ['-u', mountpoint]).then(
        () => true,
        () => false,
      )
    )
      return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  if (!(await isMounted(mountpoint))) return;
  const lazy = await execFileAsync('fusermount', ['-uz', mountpoint]).then(
    () => true,
    () => false,
  );
  if (!lazy) await execFileAsync('umount', ['-l', mountpoint]).catch(() => undefined);
}
