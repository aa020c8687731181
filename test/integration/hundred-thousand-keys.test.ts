// 100,000 keys in one directory through a real mount: `ls` shows each exactly once, names
// of the sample are found, listing costs one LIST per 1,000 keys and no HEAD per entry, and
// the serving process's peak memory stays bounded. (Names are lower-case and digits: fauxqs
// loses keys of other shapes when paging, see test/contract.)
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startS3Endpoint, testPrefix, type S3Endpoint } from '../../scripts/local-s3.js';
import { mountBucket, mountStats, run, type Mount } from '../helpers/mount.js';
import { seedObjects, type SeedResult } from '../helpers/seed.js';

const COUNT = 100_000;
const SAMPLE = [0, 1, 999, 1000, 54_321, 77_777, 99_998, 99_999];
// Peak RSS allowed to the serving process. Measured here: about 100 MiB before the listing
// (Node, the SDK, fuse-native) and 315-322 MiB after it, so listing 100,000 keys peaks at
// about 2 KiB per entry: the 100 cached pages and the assembled directory, the SDK's parse
// of 100 XML pages and the 100,000 attribute objects of the readdir answer, much of it
// garbage not yet collected. The content cache (--max-cache-size 64) is not used by a
// listing. 600 MiB is about twice the measure: it does not fail on GC timing, and a leak
// of 3 KiB per entry (tried: 667 MiB) or a listing kept several times over fails it.
const PEAK_RSS_BOUND_MIB = 600;

const name = (i: number) => `k${String(i).padStart(6, '0')}`;
let endpoint: S3Endpoint;
let mount: Mount;
let seeded: SeedResult;

test.before(async () => {
  endpoint = await startS3Endpoint();
  const prefix = testPrefix(endpoint);
  const keys = Array.from({ length: COUNT }, (_, i) => `${prefix}huge/${name(i)}`);
  seeded = await seedObjects(endpoint, keys, (key) => Buffer.from(key.slice(-7)));
  mount = await mountBucket(endpoint, {
    target: prefix ? `${endpoint.bucket}:${prefix}` : endpoint.bucket,
    args: ['--max-cache-entries', '20000', '--max-cache-size', '64'],
  });
});

test.after.always(async () => {
  await mount?.stop();
  await endpoint?.stop();
});

/** Peak resident memory of a process, in MiB, from /proc (VmHWM). */
async function peakRssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(status);
  if (!match) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(match[1]) / 1024;
}

// The batch of HEADs a readdir sends ahead (HEAD_AHEAD_DEFAULTS.maxInFlight).
const HEADS_AHEAD_OF_READDIR = 32;

test('ls of 100,000 keys: each once, 100 LISTs, no HEAD per entry (one batch sent ahead at most), peak RSS bounded', async (t) => {
  const dir = join(mount.mountpoint, 'huge');
  const before = await mountStats(mount.mountpoint);
  const peakBefore = await peakRssMiB(mount.child.pid as number);
  const started = performance.now();
  const listing = await run('sh', ['-c', 'ls "$1" | wc -l', 'sh', dir], { timeoutMs: 150_000 });
  const listSeconds = (performance.now() - started) / 1000;
  t.is(listing.code, 0, listing.stderr);
  t.is(Number(listing.stdout.trim()), COUNT);
  const afterListing = await mountStats(mount.mountpoint);
  const lists = afterListing.s3.list.count - before.s3.list.count;
  const heads = afterListing.s3.head.count - before.s3.head.count;
  // The directory's lookup is one HEAD and a one-key LIST; then one LIST per 1,000 keys. The
  // readdir sends HEADs ahead for the first 32 entries only (in case their stats follow).
  t.is(lists, 1 + COUNT / 1000);
  t.true(heads <= 1 + HEADS_AHEAD_OF_READDIR, `HEADs: ${heads}`);

  // Names from the start, the middle and the end of the listing, found and read.
  const sample = SAMPLE.map((i) => join(dir, name(i)));
  const found = await run('ls', ['-1', ...sample]);
  t.is(found.code, 0, found.stderr);
  t.deepEqual(found.stdout.trim().split('\n'), sample);
  const read = await run('cat', sample.slice(0, 2));
  t.is(read.stdout, name(0).slice(-7) + name(1).slice(-7));
  const afterSample = await mountStats(mount.mountpoint);
  // Each name stated needs its own HEAD (a listing has no metadata); stats out of order send
  // nothing ahead, one just after the previous at most 8.
  const sampleHeads = afterSample.s3.head.count - before.s3.head.count;
  t.true(sampleHeads <= 1 + HEADS_AHEAD_OF_READDIR + SAMPLE.length * 8, `HEADs: ${sampleHeads}`);

  const peak = await peakRssMiB(mount.child.pid as number);
  t.true(peak < PEAK_RSS_BOUND_MIB, `peak RSS ${peak.toFixed(0)} MiB`);
  t.log(
    `seeded ${COUNT} keys by ${seeded.how} in ${seeded.seconds.toFixed(1)} s; ls | wc -l = ${listing.stdout.trim()} in ${listSeconds.toFixed(1)} s; ` +
      `${lists} LISTs, ${heads} HEAD; sample of ${SAMPLE.length} found (${sampleHeads} HEADs in all); peak RSS of the mount ${peak.toFixed(0)} MiB (${peakBefore.toFixed(0)} MiB before listing; bound ${PEAK_RSS_BOUND_MIB})`,
  );
});
