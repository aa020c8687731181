// fio's read jobs on s3mount mounts with native reads off (--no-native-reads) and on, in
// alternating rounds on one emulator, with the binding's counters after each job; medians at
// the end. Back to back, so that a machine shared with other work loads both alike.
//   TRY_ROUNDS=3 TRY_JOBS=random node --import tsx scripts/benchmark/native-reads-ab.ts
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Upload } from '@aws-sdk/lib-storage';
import { sendControl } from '../../src/control/client.js';
import { seedClient, startS3Endpoint } from '../local-s3.js';
import { BIG_KEY, bigBytes } from './dataset.js';
import { mountSystem } from './systems.js';
import { dropPageCache, FIO_JOBS, runFio } from './workloads.js';

const endpoint = await startS3Endpoint({ bucket: 'bench' });
const client = seedClient(endpoint);
await new Upload({ client, params: { Bucket: endpoint.bucket, Key: BIG_KEY, Body: bigBytes() }, partSize: 8 * 1024 * 1024, queueSize: 4 }).done();
const rounds = Number(process.env.TRY_ROUNDS ?? 3);
const results: Record<string, number[]> = {};
try {
  for (let round = 0; round < rounds; round++) {
    for (const mode of ['off', 'on']) {
      process.env.BENCH_S3MOUNT_ARGS = mode === 'off' ? '--no-native-reads' : '';
      const mounted = await mountSystem('s3mount', endpoint, {});
      try {
        await promisify(execFile)('sh', ['-c', `cat ${mounted.mountpoint}/${BIG_KEY} > /dev/null`]);
        await new Promise((r) => setTimeout(r, 2000));
        for (const job of FIO_JOBS.filter((j) => !process.env.TRY_JOBS || j.name.includes(process.env.TRY_JOBS))) {
          await dropPageCache();
          const mib = await runFio(job, `${mounted.mountpoint}/${BIG_KEY}`);
          (results[`${mode} ${job.name}`] ??= []).push(Math.round(mib));
          const response = await sendControl(mounted.mountpoint, { command: 'stats' });
          const native = response.ok ? response.stats?.nativeReads : undefined;
          console.log(round, mode, job.name, mib.toFixed(0), native ? `served ${native.served} passed ${native.passed} fallbacks ${native.fallbacks}` : '');
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
