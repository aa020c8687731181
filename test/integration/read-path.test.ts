// The read path through a real mount: coreutils as child processes against the emulator
// (or any endpoint given by S3MOUNT_TEST_* variables, see scripts/local-s3.ts).

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import test from 'ava';
import { type S3Endpoint, seedClient, startS3Endpoint, testPrefix } from '../../scripts/local-s3.js';
import { type Mount, mountBucket, quiescentStats, run } from '../support/mount.js';
import { patternBytes } from '../support/pattern.js';

const BIG_SIZE = 50 * 1024 * 1024;
const MANY = 2500;

let endpoint: S3Endpoint;
let client: S3Client;
let prefix: string;
let mount: Mount;
let scratch: string;

async function put(key: string, body: string | Buffer): Promise<void> {
  await client.send(new PutObjectCommand({ Bucket: endpoint.bucket, Key: prefix + key, Body: body, ContentLength: Buffer.byteLength(body) }));
}

test.before(async () => {
  endpoint = await startS3Endpoint();
  client = seedClient(endpoint);
  prefix = testPrefix(endpoint);
  scratch = await mkdtemp(join(tmpdir(), 's3mount-read-'));
  await put('hello.txt', 'hello world\n');
  await put('deep/a/b/c/leaf.txt', 'leaf\n');
  await put('marked/', '');
  await put('odd/with space.txt', 'space\n');
  await put('odd/naïve café ☕.txt', 'unicode\n');
  await put('clash', 'shadowed file\n');
  await put('clash/inner.txt', 'inner\n');
  await put('weird//double.txt', 'x');
  await put('weird/./dot.txt', 'x');
  await put('weird/ok.txt', 'ok\n');
  await put(`weird/${'n'.repeat(256)}`, 'too long a name');
  const big = patternBytes(BIG_SIZE, 7);
  await writeFile(join(scratch, 'fifty.bin'), big);
  await new Upload({ client, params: { Bucket: endpoint.bucket, Key: `${prefix}big/fifty.bin`, Body: big }, partSize: 8 * 1024 * 1024 }).done();
  const names = Array.from({ length: MANY }, (_, i) => `many/file-${String(i).padStart(4, '0')}.txt`);
  for (let i = 0; i < names.length; i += 100) await Promise.all(names.slice(i, i + 100).map((name) => put(name, `${name}\n`)));
  // Long TTLs, negative ones too: if the kernel forgets a directory's entry and looks it up
  // again, the answer comes from the cache, so S3 counts do not depend on the kernel's dentries.
  mount = await mountBucket(endpoint, {
    target: prefix ? `${endpoint.bucket}:${prefix}` : endpoint.bucket,
    args: ['--metadata-ttl', '600', '--negative-metadata-ttl', '600'],
  });
});

test.after.always(async () => {
  await mount?.stop();
  await endpoint?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const at = (path: string) => join(mount.mountpoint, path);

test.serial('ls -la shows files, markers, implicit and shadowing directories', async (t) => {
  const result = await run('ls', ['-1a', mount.mountpoint]);
  t.is(result.code, 0, result.stderr);
  t.deepEqual(result.stdout.trim().split('\n').sort(), ['.', '..', 'big', 'clash', 'deep', 'hello.txt', 'many', 'marked', 'odd', 'weird'].sort());
  const long = await run('ls', ['-la', mount.mountpoint]);
  t.regex(long.stdout, /^-rw-r--r-- .* 12 .* hello\.txt$/m);
  t.regex(long.stdout, /^drwxr-xr-x .* deep$/m);
});

test.serial('cat returns the object and a second cat makes no GET', async (t) => {
  const first = await run('cat', [at('hello.txt')]);
  t.is(first.stdout, 'hello world\n');
  const before = await quiescentStats(mount.mountpoint);
  const second = await run('cat', [at('hello.txt')]);
  t.is(second.stdout, 'hello world\n');
  const after = await quiescentStats(mount.mountpoint);
  t.is(after.s3.getRange.count, before.s3.getRange.count);
});

test.serial('a 50 MiB object reads back byte-exact', async (t) => {
  const result = await run('cmp', [at('big/fifty.bin'), join(scratch, 'fifty.bin')], { timeoutMs: 120_000 });
  t.is(result.code, 0, result.stdout + result.stderr);
  const stat = await run('stat', ['-c', '%s', at('big/fifty.bin')]);
  t.is(stat.stdout.trim(), String(BIG_SIZE));
});

test.serial('ls -l of 2,500 keys lists every page and sends one HEAD per entry', async (t) => {
  // The directory itself is looked up first, whatever earlier tests left in the cache, so
  // that what is counted is the listing and the attributes of its entries.
  t.is((await run('stat', ['-c', '%F', at('many')])).stdout.trim(), 'directory');
  const before = await quiescentStats(mount.mountpoint);
  const result = await run('ls', ['-l', at('many')]);
  t.is(result.code, 0, result.stderr);
  const lines = result.stdout
    .trim()
    .split('\n')
    .filter((line) => line.startsWith('-'));
  t.is(lines.length, MANY);
  t.true(
    lines.every((line) => / 19 .*file-\d{4}\.txt$/.test(line)),
    'every entry has its size from the listing',
  );
  const after = await quiescentStats(mount.mountpoint);
  // A listing has no mode, owner or time: each entry's HEAD tells them, once. The directory
  // itself may need one more: whether it has a `many/` marker, when the kernel asks about it
  // again after the "no marker" answer (trusted for the negative TTL) ran out.
  const heads = after.s3.head.count - before.s3.head.count;
  t.true(heads === MANY || heads === MANY + 1, `HEADs: ${heads}`);
  t.is(after.s3.list.count - before.s3.list.count, Math.ceil(MANY / 1000));
});

test.serial('find walks nested implicit directories', async (t) => {
  const result = await run('find', [at('deep')]);
  t.is(result.code, 0, result.stderr);
  t.deepEqual(result.stdout.trim().split('\n'), ['deep', 'deep/a', 'deep/a/b', 'deep/a/b/c', 'deep/a/b/c/leaf.txt'].map(at));
  const type = await run('stat', ['-c', '%F', at('deep/a/b')]);
  t.is(type.stdout.trim(), 'directory');
  t.is((await run('stat', ['-c', '%F', at('marked')])).stdout.trim(), 'directory');
});

test.serial('keys with spaces and non-ASCII characters read back', async (t) => {
  t.is((await run('cat', [at('odd/with space.txt')])).stdout, 'space\n');
  t.is((await run('cat', [at('odd/naïve café ☕.txt')])).stdout, 'unicode\n');
  const listing = await run('ls', [at('odd')]);
  t.deepEqual(listing.stdout.trim().split('\n').sort(), ['naïve café ☕.txt', 'with space.txt'].sort());
});

test.serial('a directory shadows a file of the same name', async (t) => {
  t.is((await run('stat', ['-c', '%F', at('clash')])).stdout.trim(), 'directory');
  t.is((await run('cat', [at('clash/inner.txt')])).stdout, 'inner\n');
});

test.serial('keys that cannot be file names are left out, the rest of the directory stays', async (t) => {
  const listing = await run('ls', ['-1a', at('weird')]);
  t.is(listing.code, 0, listing.stderr);
  t.deepEqual(listing.stdout.trim().split('\n'), ['.', '..', 'ok.txt']);
  t.is((await run('cat', [at('weird/ok.txt')])).stdout, 'ok\n');
});

test.serial('a missing file is ENOENT', async (t) => {
  const result = await run('cat', [at('nope.txt')]);
  t.not(result.code, 0);
  t.regex(result.stderr, /No such file or directory/);
  const stat = await run('stat', [at('deep/nope')]);
  t.regex(stat.stderr, /No such file or directory/);
});
