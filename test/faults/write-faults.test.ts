// Uploads under injected faults: a failed upload is EIO at close(), nothing partial appears
// in the bucket (multipart uploads are aborted, no parts left behind), the bytes stay staged,
// and the next close of the file, or the unmount, uploads them once S3 is back; parts sent
// while a file is written are retried, and sent again at close.

import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import test from 'ava';
import { type S3Endpoint, seedClient, startS3Endpoint, testPrefix } from '../../scripts/local-s3.js';
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.js';
import { mountBucket, run } from '../support/mount.js';
import { patternBytes } from '../support/pattern.js';
import { partsStored, timesSent, until } from '../support/upload-log.js';
import { startWriter } from '../support/writer.js';

const FAILING = { kind: 'status', status: 500, code: 'InternalError' } as const;
// Above --write-part-size 5 (MiB), in three parts; fauxqs refuses single PUTs over 11 MiB.
const MULTIPART_SIZE = 12 * 1024 * 1024 + 3;

// A writer that checks close(), as careful programs do (a shell ignores close errors): copies
// the file argv[1] to argv[2], prints the error code and exits 1 when close() fails.
const WRITER = `const fs = require('fs'); const fd = fs.openSync(process.argv[2], 'w'); fs.writeSync(fd, fs.readFileSync(process.argv[1])); try { fs.closeSync(fd); } catch (e) { console.log(e.code); process.exit(1); }`;
// Opens the file read-only and closes it, reporting close()'s result the same way.
const OPEN_CLOSE = `const fs = require('fs'); const fd = fs.openSync(process.argv[1], 'r'); try { fs.closeSync(fd); } catch (e) { console.log(e.code); process.exit(1); }`;

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
  scratch = await mkdtemp(join(tmpdir(), 's3mount-write-faults-'));
});

// A failing test must not leave its faults to the next one.
test.afterEach.always(() => proxy.clear());

test.after.always(async () => {
  await proxy?.stop();
  await endpoint?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

async function objectBytes(key: string): Promise<Buffer | undefined> {
  try {
    const response = await client.send(new GetObjectCommand({ Bucket: endpoint.bucket, Key: prefix + key }));
    return Buffer.from((await response.Body?.transformToByteArray()) ?? []);
  } catch {
    return undefined;
  }
}

async function stagedCopies(staging: string): Promise<string[]> {
  return (await readdir(staging).catch(() => [])).filter((name) => name.endsWith('.data')).map((name) => join(staging, name));
}

function mountThroughProxy(staging: string, extra: string[] = []) {
  return mountBucket(
    { ...endpoint, endpoint: proxy.url },
    { target: prefix ? `${endpoint.bucket}:${prefix}` : endpoint.bucket, args: ['--max-attempts', '2', '--staging-dir', staging, ...extra] },
  );
}

/** Writes `body` to a scratch file: the source a writer copies into the mount. */
async function source(name: string, body: string | Buffer): Promise<string> {
  const file = join(scratch, name);
  await writeFile(file, body);
  return file;
}

test.serial('a failing upload is EIO at close, keeps the bytes, and the unmount saves them', async (t) => {
  const staging = join(scratch, 'single');
  const mount = await mountThroughProxy(staging);
  t.teardown(() => mount.stop());
  const from = proxy.log().length;
  proxy.inject('write', FAILING);
  const write = await run(process.execPath, ['-e', WRITER, await source('precious.txt', 'must not be lost'), join(mount.mountpoint, 'precious.txt')]);
  t.not(write.code, 0, 'close() reports the failed upload');
  t.is(write.stdout.trim(), 'EIO');
  t.is(await objectBytes('precious.txt'), undefined, 'nothing partial is visible in the bucket');
  t.is((await stagedCopies(staging)).length, 1, 'the bytes stay staged');
  t.is((await run('cat', [join(mount.mountpoint, 'precious.txt')])).stdout, 'must not be lost', 'and readable through the mount');
  const faulted = proxy
    .log()
    .slice(from)
    .filter((r) => r.fault !== undefined).length;
  proxy.clear('write');
  await mount.stop();
  t.is((await objectBytes('precious.txt'))?.toString(), 'must not be lost', 'the unmount uploaded them');
  t.deepEqual(await stagedCopies(staging), []);
  t.log(`PUTs faulted ${faulted}; close() EIO; 16 bytes compared after the unmount`);
});

test.serial('a multipart upload whose parts fail is EIO and aborted; the next close uploads it', async (t) => {
  const staging = join(scratch, 'multipart');
  const mount = await mountThroughProxy(staging, ['--write-part-size', '5']);
  t.teardown(() => mount.stop());
  const bytes = patternBytes(MULTIPART_SIZE, 77);
  const path = join(mount.mountpoint, 'big.bin');
  const from = proxy.log().length;
  proxy.inject('write', FAILING);
  const write = await run(process.execPath, ['-e', WRITER, await source('big.bin', bytes), path]);
  t.is(write.stdout.trim(), 'EIO', `close() reports the failed upload: ${write.stderr}`);

  const failedPhase = proxy.log().slice(from);
  const creates = failedPhase.filter((r) => r.operation === 'multipart' && 'uploads' in r.query);
  const parts = failedPhase.filter((r) => r.operation === 'write' && 'uploadId' in r.query);
  const aborts = failedPhase.filter((r) => r.method === 'DELETE' && 'uploadId' in r.query);
  t.true(creates.length >= 1, 'the upload was multipart');
  t.true(parts.length >= 1 && parts.every((r) => r.fault === 'status'), 'every part upload was faulted');
  t.deepEqual(proxy.unfinishedUploads(), [], 'every multipart upload created was aborted: no parts left behind');
  t.is(await objectBytes('big.bin'), undefined, 'nothing is visible in the bucket');
  const listed = await client.send(new ListObjectsV2Command({ Bucket: endpoint.bucket, Prefix: `${prefix}big` }));
  t.is(listed.KeyCount ?? 0, 0);
  const staged = await stagedCopies(staging);
  t.is(staged.length, 1);
  t.true((await readFile(staged[0])).equals(bytes), 'the staged copy holds every byte');

  proxy.clear('write');
  const retryFrom = proxy.log().length;
  const reopen = await run(process.execPath, ['-e', OPEN_CLOSE, path]);
  t.is(reopen.code, 0, `the next close uploads: ${reopen.stdout} ${reopen.stderr}`);
  const uploaded = await objectBytes('big.bin');
  t.true(uploaded?.equals(bytes), 'S3 holds every byte before any unmount');
  const completes = proxy
    .log()
    .slice(retryFrom)
    .filter((r) => r.operation === 'multipart' && 'uploadId' in r.query && r.status === 200);
  t.is(completes.length, 1, 'one multipart upload completed');
  t.deepEqual(proxy.unfinishedUploads(), []);
  t.deepEqual(await stagedCopies(staging), [], 'the staged copy is gone once saved and closed');
  t.log(
    `failing phase: ${creates.length} multipart created, ${parts.length} part PUTs faulted, ${aborts.length} aborted, 0 unfinished; ` +
      `after recovery: open+close uploaded ${uploaded?.length} bytes, compared through the SDK`,
  );
});

test.serial('a multipart upload whose abort fails too is aborted at the next upload', async (t) => {
  const staging = join(scratch, 'unaborted');
  const mount = await mountThroughProxy(staging, ['--write-part-size', '5']);
  t.teardown(() => mount.stop());
  const bytes = patternBytes(MULTIPART_SIZE, 78);
  const path = join(mount.mountpoint, 'stubborn.bin');
  proxy.inject('write', FAILING);
  proxy.inject('delete', FAILING);
  const write = await run(process.execPath, ['-e', WRITER, await source('stubborn.bin', bytes), path]);
  t.is(write.stdout.trim(), 'EIO', `close() reports the failed upload: ${write.stderr}`);
  const left = proxy.unfinishedUploads();
  t.true(left.length >= 1, 'with S3 refusing aborts, parts are left behind for now');

  proxy.clear();
  const reopen = await run(process.execPath, ['-e', OPEN_CLOSE, path]);
  t.is(reopen.code, 0, `the next close uploads: ${reopen.stdout} ${reopen.stderr}`);
  t.deepEqual(proxy.unfinishedUploads(), [], 'the upload left behind was aborted before the new one');
  t.true((await objectBytes('stubborn.bin'))?.equals(bytes));
  t.log(`${left.length} multipart upload(s) left unaborted while DELETEs failed; aborted at the next upload`);
});

// A file being written uploads its full parts while it is open (test/support/writer.ts holds
// it open); a part that fails there is sent again at close, and a close whose parts keep
// failing is EIO with the bytes kept.
const PART = 5 * 1024 * 1024;

test.serial('middle parts that fail while the file is open are retried, and sent again at close when their attempts ran out', async (t) => {
  const staging = join(scratch, 'middle-part');
  const mount = await mountThroughProxy(staging, ['--write-part-size', '5']);
  t.teardown(() => mount.stop());
  const from = proxy.log().length;
  const log = () => proxy.log().slice(from);
  const writer = startWriter(join(mount.mountpoint, 'middle.bin'));
  t.teardown(() => writer.kill());
  t.is(await writer.write(0, PART + 1000, 1), 'ok');
  await until(() => partsStored(log()).length === 1, 'part 1 stored');
  // Each write below fills one more part, the only one in flight. Part 2: one attempt of two
  // (--max-attempts 2) fails, the retry stores it.
  proxy.queue('write', FAILING);
  t.is(await writer.write(PART + 1000, PART - 999, 2), 'ok');
  await until(() => partsStored(log()).includes(2), 'part 2 stored on its second attempt');
  // Part 3: both attempts fail; no more parts go while the file is open.
  proxy.queue('write', FAILING, FAILING);
  t.is(await writer.write(2 * PART + 1, PART, 3), 'ok');
  await until(() => timesSent(log(), 3) === 2, 'part 3 sent twice, both faulted');
  t.is(await writer.write(3 * PART + 1, 2 * PART, 4), 'ok');
  t.is(await writer.close(), 'ok', 'close() sent part 3 again');
  t.is(timesSent(log(), 2), 2, 'part 2: retried once while open, not sent again at close');
  t.is(timesSent(log(), 3), 3, 'part 3: two attempts while open, one more at close');
  t.true((await objectBytes('middle.bin'))?.equals(writer.expected()), 'S3 holds every byte');
  t.deepEqual(proxy.unfinishedUploads(), []);
  t.deepEqual(await stagedCopies(staging), [], 'nothing left staged');
  t.log(`part 2 retried while open; part 3 failed twice while open, stored at close; ${writer.expected().length} bytes compared`);
});

test.serial('parts that keep failing make close() EIO: the upload is aborted, the bytes stay staged, and the next close saves them', async (t) => {
  const staging = join(scratch, 'parts-failing');
  const mount = await mountThroughProxy(staging, ['--write-part-size', '5']);
  t.teardown(() => mount.stop());
  const from = proxy.log().length;
  const path = join(mount.mountpoint, 'failing.bin');
  const writer = startWriter(path);
  t.teardown(() => writer.kill());
  t.is(await writer.write(0, PART + 1000, 4), 'ok');
  await until(() => partsStored(proxy.log().slice(from)).length === 1, 'part 1 stored');
  proxy.inject('write', FAILING);
  t.is(await writer.write(PART + 1000, 2 * PART, 5), 'ok');
  t.is(await writer.close(), 'EIO', 'close() reports the failed upload');
  t.deepEqual(proxy.unfinishedUploads(), [], 'the upload was aborted: no parts left');
  t.is(await objectBytes('failing.bin'), undefined, 'nothing shows in the bucket');
  const staged = await stagedCopies(staging);
  t.is(staged.length, 1);
  t.true((await readFile(staged[0])).equals(writer.expected()), 'the staged copy holds every byte');

  proxy.clear('write');
  const reopen = await run(process.execPath, ['-e', OPEN_CLOSE, path]);
  t.is(reopen.code, 0, `the next close uploads: ${reopen.stdout} ${reopen.stderr}`);
  t.true((await objectBytes('failing.bin'))?.equals(writer.expected()), 'S3 holds every byte');
  t.deepEqual(proxy.unfinishedUploads(), []);
});
