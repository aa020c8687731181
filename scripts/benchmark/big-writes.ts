// What libfuse's big_writes is worth: 64 MiB written with dd (bs=1M) through the floor
// filesystem with and without it. fuse-native does not expose the option; s3mount passes
// it through the subtype (src/fuse/session.ts). Run: node --import tsx scripts/benchmark/big-writes.ts

import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { unmountWithRetries, waitForMount } from '../mounts.js';

const run = promisify(execFile);

async function timeWrites(extra: string[]): Promise<number[]> {
  const scratch = await mkdtemp(join(tmpdir(), 'bench-writes-'));
  const child = spawn(process.execPath, ['--import', 'tsx', resolve('scripts/benchmark/floor-fs.ts'), scratch, ...extra], { stdio: 'ignore' });
  const exited = new Promise((done) => child.once('exit', done));
  await waitForMount(scratch, exited);
  const times: number[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      await run('dd', ['if=/dev/zero', `of=${scratch}/w${i}`, 'bs=1M', 'count=64', 'status=none']);
      times.push((performance.now() - started) / 1000);
    }
  } finally {
    await unmountWithRetries(scratch);
    child.kill('SIGTERM');
    await exited;
    await rm(scratch, { recursive: true, force: true });
  }
  return times.sort((a, b) => a - b);
}

const big = await timeWrites([]);
const small = await timeWrites(['--small-writes']);
console.log('| 64 MiB with dd bs=1M through the floor | median s | MB/s |');
console.log('|---|---:|---:|');
for (const [label, times] of [
  ['big_writes (128 KiB requests)', big],
  ['without big_writes (4 KiB requests)', small],
] as const) {
  console.log(`| ${label} | ${times[1].toFixed(3)} | ${((64 * 1.048576) / times[1]).toFixed(0)} |`);
}
