// The cached listing of a 100,000-key directory in a real mount, live and then cold: the
// serving process's heap and RSS (from `cache stats`, which reads process.memoryUsage), the
// metadata tier's compressed entries and bytes saved, and `ls` of the directory while the
// listing is live and again just after it went cold (the decode is in that `ls`). Not part of
// the tests: `node --import tsx scripts/benchmark/cold-listing-mount.ts`
import { setTimeout as sleep } from 'node:timers/promises';
import type { MountStats } from '../../src/stats.js';
import { mountBucket, mountStats, quiescentStats, run } from '../../test/support/mount.js';
import { seedObjects } from '../../test/support/seed.js';
import { startS3Endpoint, testPrefix } from '../local-s3.js';

const COUNT = Number(process.argv[2] ?? 100_000);
const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;
const name = (i: number) => `k${String(i).padStart(6, '0')}`;

// The serving process collects garbage every second (a preload run by NODE_OPTIONS, which the
// mount inherits), so that its heap shows what is kept rather than when V8 last collected.
process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --expose-gc --import data:text/javascript,setInterval(()=>globalThis.gc(),1000).unref()`;

const endpoint = await startS3Endpoint();
const prefix = testPrefix(endpoint);
await seedObjects(
  endpoint,
  Array.from({ length: COUNT }, (_, i) => `${prefix}huge/${name(i)}`),
  (key) => Buffer.from(key.slice(-7)),
);
const mount = await mountBucket(endpoint, {
  target: prefix ? `${endpoint.bucket}:${prefix}` : endpoint.bucket,
  args: ['--max-cache-entries', '20000', '--metadata-ttl', '3600', '--negative-metadata-ttl', '3600'],
});

const tierOf = (stats: MountStats) => stats.cache.tiers.find((tier) => tier.tier === 'metadata/memory');
const rows: string[] = ['| state | heap | RSS | compressed entries | compressed bytes | saved (estimated) |', '|---|---:|---:|---:|---:|---:|'];
const row = (state: string, stats: MountStats) => {
  const tier = tierOf(stats);
  rows.push(
    `| ${state} | ${mib(stats.memory.heapUsed)} | ${mib(stats.memory.rss)} | ${tier?.compressedEntries ?? '-'} | ${mib(tier?.compressedBytes ?? 0)} | ${mib(tier?.savedBytes ?? 0)} |`,
  );
};
async function ls(): Promise<number> {
  const started = performance.now();
  const result = await run('ls', ['-f', `${mount.mountpoint}/huge`], { timeoutMs: 300_000 });
  if (result.code !== 0) throw new Error(result.stderr);
  return performance.now() - started;
}

try {
  row('before listing', await quiescentStats(mount.mountpoint));
  const first = await ls();
  const again = await ls();
  await sleep(3_000);
  row('listing live (cached)', await quiescentStats(mount.mountpoint));
  let cold = await mountStats(mount.mountpoint);
  for (let waited = 0; (tierOf(cold)?.compressedEntries ?? 0) === 0 && waited < 60; waited++) {
    await sleep(1_000);
    cold = await mountStats(mount.mountpoint);
  }
  await sleep(3_000);
  row('listing cold (compressed)', await mountStats(mount.mountpoint));
  const decoded = await ls();
  await sleep(3_000);
  row('used again (decoded, live)', await mountStats(mount.mountpoint));
  console.log(rows.join('\n'));
  console.log(
    `ls -f of ${COUNT} entries: first ${first.toFixed(0)} ms (LISTs), again ${again.toFixed(0)} ms (live), just after going cold ${decoded.toFixed(0)} ms (decode included)`,
  );
} finally {
  await mount.stop();
  await endpoint.stop();
}
