// S3 calls an s3mount mount has made so far, per operation, asked over its control socket (as
// `s3mount cache stats --json` does) from this process: starting that command would put a
// second or so of Node start-up between two workloads on s3mount only, enough for the kernel to
// forget the attributes the first one left it (--kernel-cache-ttl), which the peers keep.
import { sendControl } from '../../src/control/client.js';
import type { MountStats } from '../../src/stats.js';

// The control socket listens shortly after the kernel shows the mount.
const SOCKET_WAIT_MS = 10_000;

export async function s3CallsOf(mountpoint: string): Promise<Record<keyof MountStats['s3'], number>> {
  const response = await statsOf(mountpoint);
  if (!response.ok || !response.stats) throw new Error(`cache stats of ${mountpoint} failed: ${response.ok ? 'no statistics' : response.error}`);
  const counts = {} as Record<keyof MountStats['s3'], number>;
  for (const [op, value] of Object.entries(response.stats.s3) as Array<[keyof MountStats['s3'], { count: number }]>) counts[op] = value.count;
  return counts;
}

async function statsOf(mountpoint: string): ReturnType<typeof sendControl> {
  const deadline = Date.now() + SOCKET_WAIT_MS;
  for (;;) {
    try {
      return await sendControl(mountpoint, { command: 'stats' });
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
