// The 256 MiB read after a remount, alone: mount, read it (and with REMOUNT_READ_OTHERS=1 the
// 1,000 small files and the 5,000-entry directory too, so the disk tier holds 1,001 objects
// to index at the next start), unmount, drop the page cache, remount over the same cache
// directory and time `cat`. Prints the time and the GETs the second mount made, per round.
//   node --import tsx scripts/benchmark/remount-read.ts
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { sendControl } from '../../src/control/client.js';
import { seedClient, startS3Endpoint } from '../local-s3.js';
import { BIG_KEY } from './dataset.js';
import { seedDataset } from './seed.js';
import { mountSystem } from './systems.js';
import { dropPageCache } from './workloads.js';

const ROUNDS = Number(process.env.REMOUNT_READ_ROUNDS ?? 3);
// Asynchronous: this process serves the S3 endpoint the mounts read from.
const sh = (script: string) => promisify(execFile)('sh', ['-c', script]);

const endpoint = await startS3Endpoint({ bucket: 'bench' });
await seedDataset(seedClient(endpoint), endpoint.bucket);
for (let round = 1; round <= ROUNDS; round++) {
  await dropPageCache();
  const first = await mountSystem('s3mount', endpoint, { keepScratch: true });
  await sh(`cat ${first.mountpoint}/${BIG_KEY} > /dev/null`);
  if (process.env.REMOUNT_READ_OTHERS === '1') await sh(`cat ${first.mountpoint}/small/* > /dev/null; ls -l ${first.mountpoint}/wide > /dev/null`);
  await first.stop();
  await dropPageCache();
  const second = await mountSystem('s3mount', endpoint, { scratch: first.scratch });
  const started = performance.now();
  await sh(`cat ${second.mountpoint}/${BIG_KEY} > /dev/null`);
  const seconds = (performance.now() - started) / 1000;
  const response = await sendControl(second.mountpoint, { command: 'stats' });
  const gets = response.ok ? response.stats?.s3.getRange.count : undefined;
  console.log(`round ${round}: ${seconds.toFixed(3)} s, ${gets ?? '?'} GET`);
  await second.stop();
}
await endpoint.stop();
