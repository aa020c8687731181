// Uploads while writing: a file written sequentially past the part size has its full parts
// uploaded while it is still open, so that close() sends only the rest; rewrites, truncates,
// fsync, unlink, rename and a crash while parts are on their way. A process holds the file
// open and writes on command (test/support/writer.ts); the fault proxy's log shows what
// reached S3 and when: before or after a given command, never by the clock. Bytes are compared
// through the SDK with the writer's model of the file.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import test from 'ava';
import { type S3Endpoint, seedClient, startS3Endpoint, testPrefix } from '../../scripts/local-s3.js';
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.js';
import { CLI, endpointArgs, endpointEnv, isMounted, mountBucket, run, unmount } from '../support/mount.js';
import { partsStored, timesSent, until, uploadsAborted, uploadsCompleted, uploadsCreated } from '../support/upload-log.js';
import { startWriter, type Writer } from '../support/writer.js';

const MiB = 1024 * 1024;
// --write-part-size 5: S3's smallest part, so that a few parts make a small file.
const PART = 5 * MiB;

let endpoint: S3Endpoint;
let client: S3Client;
let prefix: string;
let proxy: FaultProxy;
let scratch: string;

test.before(async () => {
  endpoint = await startS3Endpoint();
  client = seedClient(endpoint);
  prefix = testPrefix(endpoint);
  proxy = await startFaultProxy(endpoint.endpoint);
  scratch = await mkdtemp(join(tmpdir(), 's3mount-streamed-'));
});

test.after.always(async () => {
  await proxy?.stop();
  await endpoint?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

function target(): string {
  return prefix ? `${endpoint.bucket}:${prefix}` : endpoint.bucket;
}

function mountThroughProxy(args: string[] = []) {
  return mountBucket({ ...endpoint, endpoint: proxy.url }, { target: target(), args: ['--write-part-size', '5', ...args] });
}

async function objectBytes(key: string): Promise<Buffer | undefined> {
  try {
    const response = await client.send(new GetObjectCommand({ Bucket: endpoint.bucket, Key: prefix + key }));
    return Buffer.from((await response.Body?.transformToByteArray()) ?? []);
  } catch {
    return undefined;
  }
}

/** Keys in the bucket under the test prefix and `under`, the prefix cut off. */
async function keysUnder(under: string): Promise<string[]> {
  const listed = await client.send(new ListObjectsV2Command({ Bucket: endpoint.bucket, Prefix: prefix + under }));
  return (listed.Contents ?? []).map((object) => (object.Key ?? '').slice(prefix.length));
}

function since(from: number) {
  return proxy.log().slice(from);
}

function opened(t: { teardown(fn: () => void): void }, path: string): Writer {
  const writer = startWriter(path);
  t.teardown(() => writer.kill());
  return writer;
}

test.serial('full parts are uploaded while the file is open; close() sends only the last part and the completion', async (t) => {
  const mount = await mountThroughProxy();
  t.teardown(() => mount.stop());
  const from = proxy.log().length;
  const writer = opened(t, join(mount.mountpoint, 'stream.bin'));
  t.is(await writer.write(0, 3 * PART + 1000, 1), 'ok');
  await until(() => partsStored(since(from)).length === 3, 'parts 1 to 3 stored while the writer holds the file open');
  t.deepEqual(
    partsStored(since(from)).sort((a, b) => a - b),
    [1, 2, 3],
  );
  t.is(uploadsCompleted(since(from)).length, 0, 'not completed before close');
  t.is(await objectBytes('stream.bin'), undefined, 'nothing shows in the bucket before close');

  const atClose = proxy.log().length;
  t.is(await writer.close(), 'ok');
  t.deepEqual(partsStored(since(atClose)), [4], 'close() sent the last part only');
  t.is(uploadsCompleted(since(atClose)).length, 1);
  t.is(uploadsCreated(since(from)).length, 1);
  t.true((await objectBytes('stream.bin'))?.equals(writer.expected()), 'S3 holds every byte');
  t.deepEqual(proxy.unfinishedUploads(), []);
  t.log(`${3 * PART + 1000} bytes: parts 1-3 stored while open, part 4 and the completion at close; compared through the SDK`);
});

test.serial('a region rewritten after its part was uploaded is sent again at close', async (t) => {
  const mount = await mountThroughProxy();
  t.teardown(() => mount.stop());
  const from = proxy.log().length;
  const writer = opened(t, join(mount.mountpoint, 'rewritten.bin'));
  t.is(await writer.write(0, 2 * PART + 1000, 2), 'ok');
  await until(() => partsStored(since(from)).length === 2, 'parts 1 and 2 stored');
  // Back into part 1, then on where the writer was.
  t.is(await writer.write(PART / 2, 4096, 3), 'ok');
  t.is(await writer.write(2 * PART + 1000, PART, 4), 'ok');
  t.is(await writer.close(), 'ok');
  t.true((await objectBytes('rewritten.bin'))?.equals(writer.expected()), 'S3 holds the rewritten bytes');
  t.is(timesSent(since(from), 1), 2, 'part 1 was sent again');
  t.is(timesSent(since(from), 2), 1, 'part 2 was not');
  t.deepEqual(proxy.unfinishedUploads(), []);
});

test.serial('a truncate into an uploaded part, then writes on from there: the parts cut are sent again', async (t) => {
  const mount = await mountThroughProxy();
  t.teardown(() => mount.stop());
  const from = proxy.log().length;
  const writer = opened(t, join(mount.mountpoint, 'cut.bin'));
  t.is(await writer.write(0, 3 * PART + 1000, 5), 'ok');
  await until(() => partsStored(since(from)).length === 3, 'parts 1 to 3 stored');
  t.is(await writer.truncate(PART + PART / 2), 'ok');
  t.is(await writer.write(PART + PART / 2, 2 * PART, 6), 'ok');
  t.is(await writer.close(), 'ok');
  t.true((await objectBytes('cut.bin'))?.equals(writer.expected()), 'S3 holds the bytes after the truncate');
  t.is(timesSent(since(from), 1), 1, 'part 1, before the cut, was sent once');
  t.is(timesSent(since(from), 2), 2, 'part 2, cut, was sent again');
  t.is(uploadsCreated(since(from)).length, 1, 'one upload throughout');
  t.deepEqual(proxy.unfinishedUploads(), []);
});

test.serial('a truncate to zero gives the upload up (aborted) and the new bytes go in a new one', async (t) => {
  const mount = await mountThroughProxy();
  t.teardown(() => mount.stop());
  const from = proxy.log().length;
  const writer = opened(t, join(mount.mountpoint, 'restarted.bin'));
  t.is(await writer.write(0, 2 * PART + 1000, 7), 'ok');
  await until(() => partsStored(since(from)).length === 2, 'parts 1 and 2 stored');
  t.is(await writer.truncate(0), 'ok');
  await until(() => uploadsAborted(since(from)).length === 1, 'the first upload aborted');
  t.is(await writer.write(0, 2 * PART + 5, 8), 'ok');
  t.is(await writer.close(), 'ok');
  t.true((await objectBytes('restarted.bin'))?.equals(writer.expected()), 'S3 holds the bytes written after the truncate');
  t.is(uploadsCreated(since(from)).length, 2);
  t.is(uploadsCompleted(since(from)).length, 1);
  t.deepEqual(proxy.unfinishedUploads(), [], 'the first upload left no parts');
});

test.serial('rm while parts are on their way: once the writer closes, no object and no upload are left', async (t) => {
  const mount = await mountThroughProxy();
  t.teardown(() => mount.stop());
  const from = proxy.log().length;
  const path = join(mount.mountpoint, 'doomed.bin');
  const writer = opened(t, path);
  t.is(await writer.write(0, 2 * PART + 1000, 9), 'ok');
  await until(() => partsStored(since(from)).length === 2, 'parts 1 and 2 stored');
  // libfuse renames a file removed while open to .fuse_hidden… (and removes that at its
  // release): a rename of the file being written, then an unlink after the close.
  const removed = await run('rm', [path]);
  t.is(removed.code, 0, removed.stderr);
  t.is(await objectBytes('doomed.bin'), undefined, 'the name is gone from the bucket once rm returns');
  t.deepEqual(proxy.unfinishedUploads(), []);
  // The open descriptor still writes, as on a local disk.
  t.is(await writer.write(2 * PART + 1000, PART, 10), 'ok');
  t.is(await writer.close(), 'ok');
  const left = async () => (await keysUnder('')).filter((key) => key.startsWith('doomed') || key.startsWith('.fuse_hidden'));
  await until(async () => (await left()).length === 0, 'the hidden name removed after the release');
  t.deepEqual(proxy.unfinishedUploads(), [], 'no upload left open');
});

test.serial('fsync half way completes what is written; later writes go in a new upload completed at close', async (t) => {
  const mount = await mountThroughProxy();
  t.teardown(() => mount.stop());
  const from = proxy.log().length;
  const writer = opened(t, join(mount.mountpoint, 'synced.bin'));
  t.is(await writer.write(0, 2 * PART + 1000, 11), 'ok');
  t.is(await writer.fsync(), 'ok');
  t.true((await objectBytes('synced.bin'))?.equals(writer.expected()), 'after fsync, S3 holds what was written before it');
  t.is(uploadsCompleted(since(from)).length, 1);
  const afterSync = proxy.log().length;
  t.is(await writer.write(2 * PART + 1000, 2 * PART, 12), 'ok');
  // The new upload holds every byte again: its full parts go while the file is open.
  await until(() => partsStored(since(afterSync)).length === 4, 'parts 1 to 4 of the new upload stored before close');
  t.is(await writer.close(), 'ok');
  t.true((await objectBytes('synced.bin'))?.equals(writer.expected()), 'after close, every byte');
  t.is(uploadsCreated(since(from)).length, 2);
  t.is(uploadsCompleted(since(from)).length, 2);
  t.deepEqual(proxy.unfinishedUploads(), []);
});

test.serial('rename while parts are on their way: the bytes end under the new name, nothing under the old one', async (t) => {
  const mount = await mountThroughProxy();
  t.teardown(() => mount.stop());
  const from = proxy.log().length;
  const writer = opened(t, join(mount.mountpoint, 'before.bin'));
  t.is(await writer.write(0, 2 * PART + 1000, 13), 'ok');
  await until(() => partsStored(since(from)).length === 2, 'parts 1 and 2 stored');
  const moved = await run('mv', [join(mount.mountpoint, 'before.bin'), join(mount.mountpoint, 'after.bin')]);
  t.is(moved.code, 0, moved.stderr);
  t.is(await writer.write(2 * PART + 1000, 2 * PART, 14), 'ok');
  t.is(await writer.close(), 'ok');
  t.true((await objectBytes('after.bin'))?.equals(writer.expected()), 'the new name holds every byte');
  t.is(await objectBytes('before.bin'), undefined);
  t.deepEqual(proxy.unfinishedUploads(), []);
});

test.serial('kill -9 while parts are on their way: the next mount aborts the upload and uploads the staged bytes', async (t) => {
  const staging = join(scratch, 'crash');
  const first = await mountThroughProxy(['--staging-dir', staging]);
  t.teardown(() => first.stop());
  const from = proxy.log().length;
  const writer = opened(t, join(first.mountpoint, 'crashed.bin'));
  t.is(await writer.write(0, 2 * PART + 1000, 15), 'ok');
  await until(() => partsStored(since(from)).length === 2, 'parts 1 and 2 stored');
  t.is(proxy.unfinishedUploads().length, 1, 'an upload is open when the mount dies');
  first.child.kill('SIGKILL');
  await new Promise((resolve) => first.child.once('exit', resolve));
  writer.kill();

  const second = await run(
    process.execPath,
    [
      CLI,
      target(),
      first.mountpoint,
      ...endpointArgs({ ...endpoint, endpoint: proxy.url }),
      '--staging-dir',
      staging,
      '--log-file',
      join(scratch, 'crash.log'),
    ],
    { env: endpointEnv(endpoint) },
  );
  t.teardown(() => unmount(first.mountpoint));
  t.is(second.code, 0, second.stderr);
  t.true(await isMounted(first.mountpoint));
  t.deepEqual(proxy.unfinishedUploads(), [], 'the upload the dead process left was aborted');
  t.true((await objectBytes('crashed.bin'))?.equals(writer.expected()), 'the staged bytes were uploaded');
});
