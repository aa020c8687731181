import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskBlockTier } from '../../src/cache/disk/disk-block-tier.js';
import { silentLogger } from '../../src/log.js';

const N = Number(process.argv[2] ?? 100000);
const directory = await mkdtemp(join(tmpdir(), 'scan-'));
const tier = new DiskBlockTier({ directory, maxBytes: 1e12, compression: 'none' }, silentLogger());
await tier.scanned;
const bytes = Buffer.alloc(256, 7);
let t0 = performance.now();
// 10 blocks per object, as files of several MiB leave.
for (let i = 0; i < N; i++) {
  tier.write({ bucket: 'b', key: `dir/f${Math.floor(i / 10)}`, etag: '"e"', unitSize: 1 << 20, index: i % 10 }, bytes);
  if (i % 2000 === 1999) await tier.close();
}
await tier.close();
console.log(`wrote ${N} entries in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
t0 = performance.now();
const again = new DiskBlockTier({ directory, maxBytes: 1e12, compression: 'none' }, silentLogger());
await again.scanned;
console.log(`scan of ${again.stats().entries} entries: ${((performance.now() - t0) / 1000).toFixed(2)} s`);
await again.close();
await rm(directory, { recursive: true, force: true });
