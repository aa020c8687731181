// A full staging directory: a write that cannot be staged is ENOSPC, as on a local disk (not
// EIO), and nothing acknowledged is lost: files closed before are in S3, and the mount goes
// on working once space is back.

import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import test from 'ava';
import { type S3Endpoint, seedClient, startS3Endpoint, testPrefix } from '../../scripts/local-s3.js';
import { type Mount, mountBucket, run } from '../support/mount.js';
import { patternBytes } from '../support/pattern.js';

const MIB = 1024 * 1024;

let endpoint: S3Endpoint;
let client: S3Client;
let prefix: string;
let scratch: string;
let staging: string;
let mount: Mount;

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function objectBytes(key: string): Promise<Buffer | undefined> {
  try {
    const response = await client.send(new GetObjectCommand({ Bucket: endpoint.bucket, Key: prefix + key }));
    return Buffer.from(await response.Body!.transformToByteArray());
  } catch {
    return undefined;
  }
}

test.before(async () => {
  endpoint = await startS3Endpoint();
  client = seedClient(endpoint);
  prefix = testPrefix(endpoint);
  scratch = await mkdtemp(join(tmpdir(), 's3mount-full-'));
  staging = join(scratch, 'staging');
  await mkdir(staging);
  const mounted = await run('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', staging]);
  if (mounted.code !== 0) throw new Error(`mounting a 2 MiB tmpfs: ${mounted.stderr}`);
  mount = await mountBucket(endpoint, { target: prefix ? `${endpoint.bucket}:${prefix}` : endpoint.bucket, args: ['--staging-dir', staging] });
});

test.after.always(async () => {
  await mount?.stop();
  await run('umount', ['-l', staging]);
  await endpoint?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

test.serial('a write the staging directory has no room for is ENOSPC; what was closed before is in S3', async (t) => {
  const small = patternBytes(MIB / 2, 1);
  const source = join(scratch, 'small.bin');
  await writeFile(source, small);
  const copied = await run('cp', [source, join(mount.mountpoint, 'small.bin')]);
  t.is(copied.code, 0, copied.stderr);
  t.is(sha((await objectBytes('small.bin')) ?? Buffer.alloc(0)), sha(small), 'a file that fit is in S3 once closed');

  // 4 MiB cannot be staged in 2 MiB.
  const big = join(scratch, 'big.bin');
  await writeFile(big, patternBytes(4 * MIB, 2));
  const failed = await run('dd', [`if=${big}`, `of=${join(mount.mountpoint, 'big.bin')}`, 'bs=256k', 'conv=fsync']);
  t.not(failed.code, 0);
  t.regex(failed.stderr, /No space left on device/, 'the program is told the truth: ENOSPC, not an I/O error');
  t.notRegex(failed.stderr, /Input\/output error/);
  t.is(sha((await objectBytes('small.bin')) ?? Buffer.alloc(0)), sha(small), 'what was saved before is untouched');

  // Space comes back once the half-written file is gone: the mount works on.
  const removed = await run('rm', ['-f', join(mount.mountpoint, 'big.bin')]);
  t.is(removed.code, 0, removed.stderr);
  const again = await run('cp', [source, join(mount.mountpoint, 'again.bin')]);
  t.is(again.code, 0, again.stderr);
  t.is(sha((await objectBytes('again.bin')) ?? Buffer.alloc(0)), sha(small));
  // A staged copy is removed at release, which the kernel sends after close() returned: wait
  // for it (bounded) rather than look while it may still be on its way.
  let left = await readdir(staging);
  for (let waited = 0; left.length > 0 && waited < 100; waited++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    left = await readdir(staging);
  }
  t.deepEqual(left, [], 'no staged copy is left behind once the files are closed or removed');
});
