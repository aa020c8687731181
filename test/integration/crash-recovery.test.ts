// kill -9 of the serving process while a file is being written: the next mount on that
// mountpoint cleans the stale mount and uploads the bytes the dead process had staged.

import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import test from 'ava';
import { type S3Endpoint, seedClient, startS3Endpoint, testPrefix } from '../../scripts/local-s3.js';
import { CLI, endpointArgs, endpointEnv, isMounted, mountBucket, run, unmount } from '../support/mount.js';

let endpoint: S3Endpoint;
let staging: string;

test.before(async () => {
  endpoint = await startS3Endpoint();
  staging = await mkdtemp(join(tmpdir(), 's3mount-staging-'));
});

test.after.always(async () => {
  await endpoint?.stop();
  if (staging) await rm(staging, { recursive: true, force: true });
});

test('bytes written but never closed survive kill -9 of the mount', async (t) => {
  const prefix = testPrefix(endpoint);
  const target = prefix ? `${endpoint.bucket}:${prefix}` : endpoint.bucket;
  const first = await mountBucket(endpoint, { target, args: ['--staging-dir', staging] });
  t.teardown(() => first.stop());
  const file = join(first.mountpoint, 'unsaved.txt');
  const text = 'written before the crash';
  // A writer that never closes (nor dups) its descriptor, so no flush ever uploads: the
  // bytes exist only in s3mount's staging. (A shell redirection would close a dup and flush.)
  const writer = spawn(
    process.execPath,
    [
      '-e',
      `const fs = require('fs'); const fd = fs.openSync(process.argv[1], 'w'); fs.writeSync(fd, process.argv[2]); setTimeout(() => {}, 60000);`,
      file,
      text,
    ],
    { stdio: 'ignore' },
  );
  t.teardown(() => void writer.kill('SIGKILL'));
  const deadline = Date.now() + 20_000;
  while (
    (await stat(file).then(
      (info) => info.size,
      () => 0,
    )) !== text.length
  ) {
    if (Date.now() > deadline) return t.fail('the write never reached the mount');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  first.child.kill('SIGKILL');
  await new Promise((resolve) => first.child.once('exit', resolve));
  writer.kill('SIGKILL');

  const second = await run(
    process.execPath,
    [CLI, target, first.mountpoint, ...endpointArgs(endpoint), '--staging-dir', staging, '--log-file', join(staging, 'second.log')],
    { env: endpointEnv(endpoint) },
  );
  t.teardown(() => unmount(first.mountpoint));
  t.is(second.code, 0, second.stderr);
  t.true(await isMounted(first.mountpoint));
  const object = await seedClient(endpoint).send(new GetObjectCommand({ Bucket: endpoint.bucket, Key: `${prefix}unsaved.txt` }));
  t.is(await object.Body?.transformToString(), text);
  t.is((await run('cat', [file])).stdout, text);
});

/** A process holding `file` open (flags as fs.openSync takes them) after writing `text` to it: no close, no flush. */
function holdWritten(file: string, flags: string, text: string) {
  return spawn(
    process.execPath,
    [
      '-e',
      `const fs = require('fs'); const fd = fs.openSync(process.argv[1], process.argv[2]); fs.writeSync(fd, process.argv[3]); setTimeout(() => {}, 60000);`,
      file,
      flags,
      text,
    ],
    { stdio: 'ignore' },
  );
}

async function untilSize(file: string, size: number): Promise<boolean> {
  const deadline = Date.now() + 20_000;
  while (
    (await stat(file).then(
      (info) => info.size,
      () => -1,
    )) !== size
  ) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

test('after kill -9 and a remount on the same cache directory, a recovered file shows its recovered bytes, not the cached ones', async (t) => {
  const prefix = testPrefix(endpoint);
  const target = prefix ? `${endpoint.bucket}:${prefix}` : endpoint.bucket;
  const client = seedClient(endpoint);
  const old = 'the version read before the crash\n';
  await client.send(new PutObjectCommand({ Bucket: endpoint.bucket, Key: `${prefix}log/app.log`, Body: old }));
  const cacheDir = await mkdtemp(join(tmpdir(), 's3mount-cache-'));
  const ownStaging = await mkdtemp(join(tmpdir(), 's3mount-staging-'));
  t.teardown(() => rm(cacheDir, { recursive: true, force: true }));
  t.teardown(() => rm(ownStaging, { recursive: true, force: true }));
  const args = ['--staging-dir', ownStaging, '--metadata-ttl', '600'];
  const first = await mountBucket(endpoint, { target, args, cacheDir });
  t.teardown(() => first.stop());
  const file = join(first.mountpoint, 'log/app.log');
  // Listed, stat'ed and read: the listing, the HEAD answer and the blocks are on disk.
  t.is((await run('ls', ['-l', join(first.mountpoint, 'log')])).code, 0);
  t.is((await run('cat', [file])).stdout, old);
  const appended = 'appended, never closed\n';
  const writer = holdWritten(file, 'a', appended);
  t.teardown(() => void writer.kill('SIGKILL'));
  if (!(await untilSize(file, old.length + appended.length))) return t.fail('the append never reached the mount');
  first.child.kill('SIGKILL');
  await new Promise((resolve) => first.child.once('exit', resolve));
  writer.kill('SIGKILL');
  await unmount(first.mountpoint);

  const second = await mountBucket(endpoint, { target, args, cacheDir });
  t.teardown(() => second.stop());
  const object = await client.send(new GetObjectCommand({ Bucket: endpoint.bucket, Key: `${prefix}log/app.log` }));
  t.is(await object.Body?.transformToString(), old + appended, 'the next mount uploaded the staged bytes');
  const again = join(second.mountpoint, 'log/app.log');
  t.is((await run('stat', ['-c', '%s', again])).stdout.trim(), String(old.length + appended.length));
  t.is((await run('cat', [again])).stdout, old + appended);
  t.regex((await run('ls', ['-l', join(second.mountpoint, 'log')])).stdout, new RegExp(` ${old.length + appended.length} .* app\\.log`));
});

test('what the mount changed just before kill -9 shows after a remount on the same cache directory', async (t) => {
  const prefix = testPrefix(endpoint);
  const target = prefix ? `${endpoint.bucket}:${prefix}` : endpoint.bucket;
  const client = seedClient(endpoint);
  await client.send(new PutObjectCommand({ Bucket: endpoint.bucket, Key: `${prefix}edits/removed.txt`, Body: 'removed' }));
  await client.send(new PutObjectCommand({ Bucket: endpoint.bucket, Key: `${prefix}edits/kept.txt`, Body: 'kept' }));
  const cacheDir = await mkdtemp(join(tmpdir(), 's3mount-cache-'));
  const ownStaging = await mkdtemp(join(tmpdir(), 's3mount-staging-'));
  t.teardown(() => rm(cacheDir, { recursive: true, force: true }));
  t.teardown(() => rm(ownStaging, { recursive: true, force: true }));
  const args = ['--staging-dir', ownStaging, '--metadata-ttl', '600'];
  const first = await mountBucket(endpoint, { target, args, cacheDir });
  t.teardown(() => first.stop());
  const dir = join(first.mountpoint, 'edits');
  t.deepEqual((await run('ls', [dir])).stdout.split('\n').filter(Boolean), ['kept.txt', 'removed.txt']);
  // Long enough for the listing to be written to disk as S3 gave it.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  t.is((await run('rm', [join(dir, 'removed.txt')])).code, 0);
  t.is((await run('sh', ['-c', `echo new > '${join(dir, 'created.txt')}'`])).code, 0);
  // Killed right after the changes returned: the listing they edited may not be on disk yet.
  first.child.kill('SIGKILL');
  await new Promise((resolve) => first.child.once('exit', resolve));
  await unmount(first.mountpoint);

  const second = await mountBucket(endpoint, { target, args, cacheDir });
  t.teardown(() => second.stop());
  const listed = await run('ls', [join(second.mountpoint, 'edits')]);
  t.deepEqual(listed.stdout.split('\n').filter(Boolean), ['created.txt', 'kept.txt'], listed.stderr);
  t.is((await run('cat', [join(second.mountpoint, 'edits/created.txt')])).stdout, 'new\n');
});
