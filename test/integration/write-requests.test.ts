// What writing many small files costs in S3 requests through a real mount: `tar x` into a
// directory the mount created or listed makes one PUT per new file (the lookups of the new
// names are answered by the listing, which each upload edits in place), and `ls -l` after it
// makes none. Counts come from `cache stats` at moments when no S3 call is in flight.

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import test from 'ava';
import { type S3Endpoint, seedClient, startS3Endpoint, testPrefix } from '../../scripts/local-s3.js';
import type { MountStats } from '../../src/stats.js';
import { type Mount, mountBucket, quiescentStats, run } from '../support/mount.js';

const FILES = 200;
const DIRS = 4;

let endpoint: S3Endpoint;
let client: S3Client;
let prefix: string;
let mount: Mount;
let scratch: string;
let archive: string;

test.before(async () => {
  endpoint = await startS3Endpoint();
  client = seedClient(endpoint);
  prefix = testPrefix(endpoint);
  scratch = await mkdtemp(join(tmpdir(), 's3mount-write-requests-'));
  // A tree of DIRS directories holding FILES small files in all, packed once.
  const tree = join(scratch, 'tree');
  for (let d = 0; d < DIRS; d++) {
    await mkdir(join(tree, `dir${d}`), { recursive: true });
    for (let f = d; f < FILES; f += DIRS) await writeFile(join(tree, `dir${d}`, `file${f}.txt`), `small file ${f}\n`.repeat(1 + (f % 7)));
  }
  archive = join(scratch, 'tree.tar');
  const packed = await run('tar', ['cf', archive, '-C', tree, '.']);
  if (packed.code !== 0) throw new Error(packed.stderr);
  mount = await mountBucket(endpoint, { target: prefix ? `${endpoint.bucket}:${prefix}` : endpoint.bucket });
});

test.after.always(async () => {
  client?.destroy();
  await mount?.stop();
  await endpoint?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

type Counts = Record<'head' | 'list' | 'put' | 'copy' | 'getRange', number>;
const countsOf = (stats: MountStats): Counts => ({
  head: stats.s3.head.count,
  list: stats.s3.list.count,
  put: stats.s3.put.count,
  copy: stats.s3.copy.count,
  getRange: stats.s3.getRange.count,
});
const since = (before: Counts, after: Counts): Counts => ({
  head: after.head - before.head,
  list: after.list - before.list,
  put: after.put - before.put,
  copy: after.copy - before.copy,
  getRange: after.getRange - before.getRange,
});

async function keysUnder(keyPrefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: endpoint.bucket, Prefix: prefix + keyPrefix, ContinuationToken: token }));
    for (const object of page.Contents ?? []) keys.push((object.Key as string).slice(prefix.length));
    token = page.NextContinuationToken;
  } while (token);
  return keys;
}

/** `tar x` of the archive into `dir` of the mount; the S3 calls it made, then those of `ls -lR` after it. */
async function untar(t: import('ava').ExecutionContext, dir: string): Promise<{ untar: Counts; list: Counts }> {
  const before = countsOf(await quiescentStats(mount.mountpoint));
  const extracted = await run('tar', ['xf', archive, '-C', join(mount.mountpoint, dir)], { timeoutMs: 300_000 });
  t.is(extracted.code, 0, extracted.stderr);
  const afterUntar = countsOf(await quiescentStats(mount.mountpoint));
  const listed = await run('ls', ['-lR', join(mount.mountpoint, dir)]);
  t.is(listed.code, 0, listed.stderr);
  t.is(listed.stdout.split('\n').filter((line) => line.includes('file') && line.endsWith('.txt')).length, FILES, 'ls -lR shows every file');
  const afterList = countsOf(await quiescentStats(mount.mountpoint));
  return { untar: since(before, afterUntar), list: since(afterUntar, afterList) };
}

test.serial('tar x into a directory the mount created: one PUT per new file, nothing for ls -lR after it', async (t) => {
  t.is((await run('mkdir', [join(mount.mountpoint, 'created')])).code, 0);
  const { untar: calls, list } = await untar(t, 'created');
  t.log(`tar x of ${FILES} files in ${DIRS} directories: ${JSON.stringify(calls)}; ls -lR after: ${JSON.stringify(list)}`);
  t.is(calls.put, FILES + DIRS, 'one PUT per file, and one marker per directory');
  t.is(calls.head, 0, 'no HEAD: new names are looked up in the listings');
  t.is(calls.list, 0, 'no LIST');
  t.is(calls.getRange, 0);
  // Files get their owner, mode and times on the open descriptor, uploaded with them; each
  // directory's (the archive's "." included) are set once its files are in: copies of its marker.
  t.true(calls.copy <= 3 * (DIRS + 1), `at most owner, mode and times per directory, nothing per file: ${calls.copy} copies`);
  t.deepEqual(list, { head: 0, list: 0, put: 0, copy: 0, getRange: 0 }, 'ls -lR after it is answered from the edited listings');
  t.is((await keysUnder('created/')).filter((key) => key.endsWith('.txt')).length, FILES);
});

test.serial('tar x into a directory the mount listed: one PUT per new file', async (t) => {
  t.is((await run('mkdir', [join(mount.mountpoint, 'listed')])).code, 0);
  t.is((await run('sh', ['-c', `echo old > ${join(mount.mountpoint, 'listed', 'old.txt')}`])).code, 0);
  // A fresh view of it: dropped from the cache, then listed.
  t.is((await run(process.execPath, ['dist/cli.js', 'cache', 'invalidate', mount.mountpoint, join(mount.mountpoint, 'listed'), '--recursive'])).code, 0);
  t.is((await run('ls', ['-l', join(mount.mountpoint, 'listed')])).code, 0);
  const { untar: calls, list } = await untar(t, 'listed');
  t.log(`tar x of ${FILES} files in ${DIRS} directories: ${JSON.stringify(calls)}; ls -lR after: ${JSON.stringify(list)}`);
  t.is(calls.put, FILES + DIRS);
  t.is(calls.head + calls.list, 0);
  t.is(list.head + list.list, 0);
});

test.serial('new files in a directory whose listing was never read: one LIST of each name and its PUT', async (t) => {
  // A directory another writer made, which the mount has looked up (as the kernel does on the
  // way to the new names) but never listed.
  await client.send(new PutObjectCommand({ Bucket: endpoint.bucket, Key: `${prefix}unlisted/seed.txt`, Body: 'seed' }));
  const dir = join(mount.mountpoint, 'unlisted');
  t.is((await run('stat', [dir])).code, 0);
  const before = countsOf(await quiescentStats(mount.mountpoint));
  // As the benchmark's write workload: each file created, written, fsynced and closed in turn.
  const script = `const fs = require('node:fs'); for (let i = 0; i < 8; i++) { const fd = fs.openSync(process.argv[1] + '/new-' + i + '.bin', 'w'); fs.writeSync(fd, Buffer.alloc(4096, i)); fs.fsyncSync(fd); fs.closeSync(fd); }`;
  const written = await run(process.execPath, ['-e', script, dir]);
  t.is(written.code, 0, written.stderr);
  const calls = since(before, countsOf(await quiescentStats(mount.mountpoint)));
  t.log(`8 new files: ${JSON.stringify(calls)}`);
  t.deepEqual(calls, { head: 0, list: 8, put: 8, copy: 0, getRange: 0 }, 'the lookup of each new name is one LIST; nothing else but its PUT');
  t.deepEqual((await keysUnder('unlisted/')).sort(), [
    'unlisted/new-0.bin',
    'unlisted/new-1.bin',
    'unlisted/new-2.bin',
    'unlisted/new-3.bin',
    'unlisted/new-4.bin',
    'unlisted/new-5.bin',
    'unlisted/new-6.bin',
    'unlisted/new-7.bin',
    'unlisted/seed.txt',
  ]);
});
