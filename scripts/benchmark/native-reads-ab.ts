// fio's read jobs on s3mount mounts with native reads off (--no-native-reads) and on, in
// alternating rounds on one emulator, with the binding's counters after each job; medians at
// the end. Back to back, so that a machine shared with other work loads both alike.
//   TRY_ROUNDS=3 TRY_JOBS=random node --import tsx scripts/benchmark/native-reads-ab.ts
// TRY_MODES (JSON) compares other builds or settings instead: each mode a name, and optionally
// bin (another checkout's bin/s3mount), args (extra s3mount arguments), env, or another system
// (s3fs, to see the targets under the same load), e.g.
//   TRY_MODES='[{"name":"main","bin":"/tmp/main/bin/s3mount"},{"name":"branch"}]'
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Upload } from '@aws-sdk/lib-storage';
import { sendControl } from '../../src/control/client.js';
import { seedClient, startS3Endpoint } from '../local-s3.js';
import { BIG_KEY, bigBytes } from './dataset.js';
import { mountSystem, type SystemName } from './systems.js';
import { dropPageCache, FIO_JOBS, runFio } from './workloads.js';

const endpoint = await startS3Endpoint({ bucket: 'bench' });
const client = seedClient(endpoint);
await new Upload({ client, params: { Bucket: endpoint.bucket, Key: BIG_KEY, Body: bigBytes() }, partSize: 8 * 1024 * 1024, queueSize: 4 }).done();
const rounds = Number(process.env.TRY_ROUNDS ?? 3);
interface Mode {
  name: string;
  /** Another system in the same rounds (s3fs: for the load), s3mount by default. */
  system?: SystemName;
  bin?: string;
  args?: string;
  env?: Record<string, string>;
}
const modes: Mode[] = process.env.TRY_MODES
  ? (JSON.parse(process.env.TRY_MODES) as Mode[])
  : [
      { name: 'off', args: '--no-native-reads' },
      { name: 'on', args: '' },
    ];
const results: Record<string, number[]> = {};
try {
  for (let round = 0; round < rounds; round++) {
    for (const { name: mode, system, bin, args, env } of modes) {
      process.env.BENCH_S3MOUNT_ARGS = args ?? '';
      if (bin) process.env.BENCH_S3MOUNT_BIN = bin;
      else delete process.env.BENCH_S3MOUNT_BIN;
      for (const name of modes.flatMap((one) => Object.keys(one.env ?? {}))) delete process.env[name];
      Object.assign(process.env, env);
      const mounted = await mountSystem(system ?? 's3mount', endpoint, {});
      try {
        await promisify(execFile)('sh', ['-c', `cat ${mounted.mountpoint}/${BIG_KEY} > /dev/null`]);
        await new Promise((r) => setTimeout(r, 2000));
        for (const job of FIO_JOBS.filter((j) => !process.env.TRY_JOBS || j.name.includes(process.env.TRY_JOBS))) {
          // TRY_SYNC=1: written back first, so that the block files leave the page cache too
          // (drop_caches leaves dirty pages, and the disk cache has just written them).
          if (process.env.TRY_SYNC === '1') await promisify(execFile)('sync');
          await dropPageCache();
          const mib = await runFio(job, `${mounted.mountpoint}/${BIG_KEY}`);
          (results[`${mode} ${job.name}`] ??= []).push(Math.round(mib));
          const response = system && system !== 's3mount' ? undefined : await sendControl(mounted.mountpoint, { command: 'stats' });
          const native = response?.ok ? response.stats?.nativeReads : undefined;
          console.log(
            round,
            mode,
            job.name,
            mib.toFixed(0),
            native ? `served ${native.served} passed ${native.passed} fallbacks ${native.fallbacks} blocks ${native.blocks}` : '',
          );
        }
      } finally {
        await mounted.stop();
      }
    }
  }
} finally {
  await endpoint.stop();
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [name, xs] of Object.entries(results)) console.log(name.padEnd(50), xs.join(' / ').padEnd(24), 'median', median(xs));
