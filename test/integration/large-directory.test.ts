// A directory of 10,000 keys through a real mount: every page listed once, every entry a
// file with its size, no HEAD per entry. (Names are lower-case and digits: fauxqs loses
// keys of other shapes when paging, see test/contract.)

import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import test from 'ava';
import { type S3Endpoint, seedClient, startS3Endpoint, testPrefix } from '../../scripts/local-s3.js';
import { type Mount, mountBucket, quiescentStats, run } from '../support/mount.js';

const COUNT = 10_000;
let endpoint: S3Endpoint;
let mount: Mount;

test.before(async () => {
  endpoint = await startS3Endpoint();
  const client = seedClient(endpoint);
  const prefix = testPrefix(endpoint);
  const keys = Array.from({ length: COUNT }, (_, i) => `big-dir/k${String(i).padStart(5, '0')}`);
  for (let i = 0; i < keys.length; i += 250) {
    await Promise.all(
      keys
        .slice(i, i + 250)
        .map((key) => client.send(new PutObjectCommand({ Bucket: endpoint.bucket, Key: prefix + key, Body: key, ContentLength: key.length }))),
    );
  }
  // Long TTLs, negative ones too: if the kernel forgets a directory's entry and looks it up
  // again, the answer comes from the cache, so S3 counts do not depend on the kernel's dentries.
  mount = await mountBucket(endpoint, {
    target: prefix ? `${endpoint.bucket}:${prefix}` : endpoint.bucket,
    args: ['--metadata-ttl', '3600', '--negative-metadata-ttl', '3600'],
  });
});

test.after.always(async () => {
  await mount?.stop();
  await endpoint?.stop();
});

test('ls -l of 10,000 keys: each once, sizes from the listing, ten LISTs and one HEAD per entry', async (t) => {
  const before = await quiescentStats(mount.mountpoint);
  const listing = await run('ls', ['-l', join(mount.mountpoint, 'big-dir')]);
  t.is(listing.code, 0, listing.stderr);
  const lines = listing.stdout
    .trim()
    .split('\n')
    .filter((line) => line.startsWith('-'));
  t.is(lines.length, COUNT);
  t.is(new Set(lines.map((line) => line.split(' ').pop())).size, COUNT);
  t.true(
    lines.every((line) => / 14 .*k\d{5}$/.test(line)),
    "each size is its key's length",
  );
  const after = await quiescentStats(mount.mountpoint);
  // The lookup of the directory itself is a HEAD and a one-key probe; then ten pages of
  // 1,000, and one HEAD per entry, never two: a listing has no mode, owner or time to show.
  t.is(after.s3.head.count - before.s3.head.count, 1 + COUNT);
  t.is(after.s3.list.count - before.s3.list.count, 1 + COUNT / 1000);
  t.is((await run('cat', [join(mount.mountpoint, 'big-dir/k09999')])).stdout, 'big-dir/k09999');
});
