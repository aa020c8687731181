// kill -9 of the serving process while a file is being written: the next mount on that
// mountpoint cleans the stale mount and uploads the bytes the dead process had staged.

import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
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
