// 100,000 keys in one directory through a real mount: `ls` shows each exactly once, names
// of the sample are found, listing costs one LIST per 1,000 keys and no HEAD per entry, and
// the serving process's peak memory stays bounded. (Names are lower-case and digits: fauxqs
// loses keys of other shapes when paging, see test/contract.)

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { type S3Endpoint, startS3Endpoint, testPrefix } from '../../scripts/local-s3.js';
import { type Mount, mountBucket, quiescentStats, run } from '../support/mount.js';
import { type SeedResult, seedObjects } from '../support/seed.js';

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
    // Nothing the counts rely on may expire during the test. The kernel may forget the entry
    // of the directory (its TTL runs from the lookup before a listing that took tens of
    // seconds under load, or the dentry is reclaimed) and look it up again: with the default
    // 60 s and 5 s TTLs that lookup was a HEAD of "huge" while the listing was still cached.
    args: ['--max-cache-entries', '20000', '--max-cache-size', '64', '--metadata-ttl', '3600', '--negative-metadata-ttl', '3600'],
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
  const before = await quiescentStats(mount.mountpoint);
  const peakBefore = await peakRssMiB(mount.child.pid as number);
  const started = performance.now();
  const listing = await run('ls', ['-1', dir], { timeoutMs: 150_000 });
  const listSeconds = (performance.now() - started) / 1000;
  t.is(listing.code, 0, listing.stderr);
  // Each name exactly once: the sorted listing is the sorted list of names seeded.
  const listed = listing.stdout.split('\n').filter(Boolean);
  t.is(listed.length, COUNT);
  t.deepEqual(
    listed.sort(),
    Array.from({ length: COUNT }, (_, i) => name(i)),
    'every name once, nothing else',
  );
  const afterListing = await quiescentStats(mount.mountpoint);
  const lists = afterListing.s3.list.count - before.s3.list.count;
  const heads = afterListing.s3.head.count - before.s3.head.count;
  // The directory's lookup is one HEAD and a one-key LIST; then one LIST per 1,000 keys. The
  // readdir sends HEADs ahead for the first 32 entries only (in case their stats follow).
  t.is(lists, 1 + COUNT / 1000);
  t.true(heads >= 1 && heads <= 1 + HEADS_AHEAD_OF_READDIR, `the lookup of the directory and at most one batch sent ahead, no HEAD per entry: ${heads}`);

  // Names from the start, the middle and the end of the listing, found and read.
  const sample = SAMPLE.map((i) => join(dir, name(i)));
  const found = await run('ls', ['-1', ...sample]);
  t.is(found.code, 0, found.stderr);
  t.deepEqual(found.stdout.trim().split('\n'), sample);
  // Each object holds the last 7 characters of its key, which are its name.
  const read = await run('cat', sample);
  t.is(read.code, 0, read.stderr);
  t.is(read.stdout, SAMPLE.map((i) => name(i)).join(''));
  const afterSample = await quiescentStats(mount.mountpoint);
  // Each name stated needs its own HEAD (a listing has no metadata), except those of the batch
  // the readdir sent ahead (0 and 1); a stat just after the previous one sends at most 8 ahead.
  const sampleHeads = afterSample.s3.head.count - afterListing.s3.head.count;
  t.true(sampleHeads >= SAMPLE.length - 2 && sampleHeads <= SAMPLE.length * 9, `HEADs for the sample: ${sampleHeads}`);

  const peak = await peakRssMiB(mount.child.pid as number);
  t.true(peak < PEAK_RSS_BOUND_MIB, `peak RSS ${peak.toFixed(0)} MiB`);
  t.log(
    `seeded ${COUNT} keys by ${seeded.how} in ${seeded.seconds.toFixed(1)} s; ls listed ${listed.length} names in ${listSeconds.toFixed(1)} s; ` +
      `${lists} LISTs, ${heads} HEADs; sample of ${SAMPLE.length} found and read (${sampleHeads} HEADs); peak RSS of the mount ${peak.toFixed(0)} MiB (${peakBefore.toFixed(0)} MiB before listing; bound ${PEAK_RSS_BOUND_MIB})`,
  );
});
