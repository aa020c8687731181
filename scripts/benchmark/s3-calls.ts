// S3 calls an s3mount mount has made so far, per operation, from `s3mount cache stats --json`.
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import type { MountStats } from '../../src/stats.js';

const run = promisify(execFile);

export async function s3CallsOf(mountpoint: string): Promise<Record<keyof MountStats['s3'], number>> {
  const { stdout } = await run(process.execPath, [resolve('dist/cli.js'), 'cache', 'stats', mountpoint, '--json']);
  const stats = JSON.parse(stdout) as MountStats;
  const counts = {} as Record<keyof MountStats['s3'], number>;
  for (const [op, value] of Object.entries(stats.s3) as Array<[keyof MountStats['s3'], { count: number }]>) counts[op] = value.count;
  return counts;
}
