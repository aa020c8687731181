// Coherence with other writers (issue 11): objects replaced behind a cached listing, cache
// invalidate acting at once with the default options. Each test mounts its own directory of
// the bucket and changes it through the SDK, as another machine would.
import test from 'ava';
import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { join } from 'node:path';
import { seedClient, startS3Endpoint, testPrefix, type S3Endpoint } from '../../scripts/local-s3.js';
import { CLI, mountBucket, run, type Mount } from '../helpers/mount.js';

let endpoint: S3Endpoint;
let client: S3Client;
let prefix: string;

test.before(async () => {
  endpoint = await startS3Endpoint();
  client = seedClient(endpoint);
  prefix = testPrefix(endpoint);
});

test.after.always(async () => {
  await endpoint?.stop();
});

async function put(key: string, body: string, metadata?: Record<string, string>): Promise<void> {
  await client.send(new PutObjectCommand({ Bucket: endpoint.bucket, Key: prefix + key, Body: body, ContentLength: Buffer.byteLength(body), Metadata: metadata }));
}

async function mountDirectory(t: { teardown(fn: () => Promise<void>): void }, directory: string, args: string[] = []): Promise<Mount> {
  const mount = await mountBucket(endpoint, { target: `${endpoint.bucket}:${prefix}${directory}`, args });
  t.teardown(() => mount.stop());
  return mount;
}

/** stdout of a command that must succeed. */
async function must(command: string, ...args: string[]): Promise<string> {
  const result = await run(command, args);
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

test('an object replaced behind a cached listing reads as the new object, whole', async (t) => {
  await put('replaced/longer.txt', 'version 1\n');
  await put('replaced/same.txt', 'AAAA\n');
  await put('replaced/shorter.txt', 'version 1, the long one\n');
  const mount = await mountDirectory(t, 'replaced');
  const at = (name: string) => join(mount.mountpoint, name);
  // The listing is cached (60 s by default); no byte of the files was read yet.
  t.deepEqual((await must('ls', '-1', mount.mountpoint)).split('\n').filter(Boolean), ['longer.txt', 'same.txt', 'shorter.txt']);

  // Another writer replaces them: the listing still holds the old ETags and sizes.
  await put('replaced/longer.txt', 'version 2, longer than the first one\n');
  await put('replaced/same.txt', 'BBBB\n');
  await put('replaced/shorter.txt', 'v2\n');

  t.is(await must('cat', at('longer.txt')), 'version 2, longer than the first one\n');
  t.is(await must('cat', at('same.txt')), 'BBBB\n');
  t.is(await must('cat', at('shorter.txt')), 'v2\n');
  // The ETag mismatch refreshed the key and its listing: stat and ls -l agree with S3.
  t.is((await must('stat', '-c', '%s', at('longer.txt'))).trim(), String('version 2, longer than the first one\n'.length));
  t.regex(await must('ls', '-l', mount.mountpoint), /\s3 [^\n]*shorter\.txt/);
});

test('cache invalidate acts at once with the default options', async (t) => {
  await put('inval/a.txt', 'version 1\n');
  const mount = await mountDirectory(t, 'inval');
  const file = join(mount.mountpoint, 'a.txt');
  t.is(await must('cat', file), 'version 1\n');
  t.is((await must('stat', '-c', '%s', file)).trim(), '10');

  await put('inval/a.txt', 'version 2, longer\n');
  await put('inval/new.txt', 'new\n');
  // The kernel takes a fresh copy of what s3mount's cache (60 s) still says.
  t.is((await must('stat', '-c', '%s', file)).trim(), '10');
  for (const path of ['a.txt', 'new.txt']) await invalidate(t, mount, path);
  t.is((await must('stat', '-c', '%s', file)).trim(), '18');
  t.is(await must('cat', file), 'version 2, longer\n');
  t.is(await must('cat', join(mount.mountpoint, 'new.txt')), 'new\n');
});

test('a replaced object of the same size and Last-Modified second never shows its old pages', async (t) => {
  const mount = await mountDirectory(t, 'second');
  // Both versions must fall in one second of Last-Modified (S3 gives whole seconds), so the
  // kernel sees the same size and mtime: start right after a second begins, and check.
  for (let attempt = 0; ; attempt++) {
    const name = `same-${attempt}.txt`;
    await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000)));
    await put(`second/${name}`, '1111\n');
    const first = await lastModified(`second/${name}`);
    t.is(await must('cat', join(mount.mountpoint, name)), '1111\n', 'the kernel now holds the first version in its pages');
    await put(`second/${name}`, '2222\n');
    if ((await lastModified(`second/${name}`)) !== first && attempt < 5) continue;
    await invalidate(t, mount, name);
    t.is(await must('cat', join(mount.mountpoint, name)), '2222\n');
    return;
  }
});

async function lastModified(key: string): Promise<number | undefined> {
  return (await client.send(new HeadObjectCommand({ Bucket: endpoint.bucket, Key: prefix + key }))).LastModified?.getTime();
}

async function invalidate(t: { is(a: unknown, b: unknown, message?: string): void }, mount: Mount, path: string): Promise<void> {
  const result = await run(process.execPath, [CLI, 'cache', 'invalidate', mount.mountpoint, path]);
  t.is(result.code, 0, result.stderr);
}
