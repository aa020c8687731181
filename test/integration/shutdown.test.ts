// Ending a mount while it is in use: `umount` of a busy mount is refused and the mount goes on;
// SIGTERM with a file still open for writing saves what was written before it goes away.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import test from 'ava';
import { type S3Endpoint, seedClient, startS3Endpoint, testPrefix } from '../../scripts/local-s3.js';
import { isMounted, mountBucket, mountStats, run } from '../support/mount.js';
import { mountThroughProxy } from '../support/proxied-mount.js';

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

const target = () => (prefix ? `${endpoint.bucket}:${prefix}` : endpoint.bucket);

async function objectText(key: string): Promise<string | undefined> {
  try {
    const response = await client.send(new GetObjectCommand({ Bucket: endpoint.bucket, Key: prefix + key }));
    return await response.Body!.transformToString();
  } catch {
    return undefined;
  }
}

/** A process that writes `text` to `file` and keeps it open (no close, so no flush) until killed. */
async function openWriter(file: string, text: string): Promise<ChildProcess> {
  const writer = spawn(
    process.execPath,
    [
      '-e',
      `const fs = require('fs'); const fd = fs.openSync(process.argv[1], 'w'); fs.writeSync(fd, process.argv[2]); setTimeout(() => {}, 120000);`,
      file,
      text,
    ],
    { stdio: 'ignore' },
  );
  const deadline = Date.now() + 20_000;
  for (;;) {
    const size = await stat(file).then(
      (info) => info.size,
      () => 0,
    );
    if (size === text.length) return writer;
    if (Date.now() > deadline) throw new Error('the write never reached the mount');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test.serial('umount of a busy mount is refused and the mount goes on; the file is saved at its close', async (t) => {
  const mount = await mountBucket(endpoint, { target: target() });
  t.teardown(() => mount.stop());
  const writer = await openWriter(join(mount.mountpoint, 'busy.txt'), 'kept open');
  t.teardown(() => void writer.kill('SIGKILL'));
  const refused = await run('umount', [mount.mountpoint]);
  t.not(refused.code, 0);
  t.regex(refused.stderr, /busy/);
  t.true(await isMounted(mount.mountpoint), 'still mounted');
  t.is((await run('ls', [mount.mountpoint])).code, 0, 'and still serving');
  // The writer ends: its descriptor is closed by the kernel, which flushes it.
  writer.kill('SIGKILL');
  await new Promise((resolve) => writer.once('exit', resolve));
  let saved = await objectText('busy.txt');
  for (let waited = 0; saved === undefined && waited < 100; waited++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    saved = await objectText('busy.txt');
  }
  t.is(saved, 'kept open');
});

// SIGHUP (a terminal closed under `s3mount -f`) ended the process at once, leaving a dead
// mount ("Transport endpoint is not connected") and the bytes only in the staging directory.
for (const signal of ['SIGTERM', 'SIGHUP'] as const) {
  test.serial(`${signal} with a file still open for writing saves its bytes, then the mount goes away`, async (t) => {
    const mount = await mountBucket(endpoint, { target: target() });
    t.teardown(() => mount.stop());
    const name = `open-at-${signal.toLowerCase()}.txt`;
    const writer = await openWriter(join(mount.mountpoint, name), `written before ${signal}`);
    t.teardown(() => void writer.kill('SIGKILL'));
    t.is(await objectText(name), undefined, 'nothing uploaded yet: the file was never closed');
    const exited = new Promise<number | null>((resolve) => mount.child.once('exit', (code) => resolve(code)));
    mount.child.kill(signal);
    t.is(await exited, 0, `the mount process ends cleanly: ${mount.logs().slice(-2000)}`);
    t.is(await objectText(name), `written before ${signal}`, 'the bytes were uploaded before the mount went away');
    t.false(await isMounted(mount.mountpoint), 'unmounted (lazily: the writer still holds its descriptor)');
  });
}

test.serial('SIGTERM while an upload is in flight: the close() that started it succeeds and the bytes are in S3', async (t) => {
  const proxied = await mountThroughProxy(async () => {});
  t.teardown(() => proxied.stop());
  const { proxy, mount } = proxied;
  const slowClient = seedClient(proxied.endpoint);
  const slowPrefix = testPrefix(proxied.endpoint);
  // Every PUT waits 2 s at the proxy, so the upload is still on its way when SIGTERM comes.
  proxy.inject('write', { kind: 'delay', ms: 2000 });
  const from = proxy.log().length;
  // open, write, close: one flush, whose upload is the only PUT (a shell redirection would
  // flush the empty file first, on the close of a dup).
  const copy = run(process.execPath, [
    '-e',
    `require('fs').writeFileSync(process.argv[1], 'uploaded during shutdown')`,
    join(mount.mountpoint, 'in-flight.txt'),
  ]);
  const deadline = Date.now() + 20_000;
  while (
    !proxy
      .log()
      .slice(from)
      .some((request) => request.operation === 'write' && request.status === 0)
  ) {
    if (Date.now() > deadline) return t.fail('the upload never started');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const exited = new Promise<number | null>((resolve) => mount.child.once('exit', (code) => resolve(code)));
  mount.child.kill('SIGTERM');
  const closed = await copy;
  t.is(closed.code, 0, `close() waited for its upload and succeeded: ${closed.stderr}`);
  t.is(await exited, 0);
  const response = await slowClient.send(new GetObjectCommand({ Bucket: proxied.endpoint.bucket, Key: `${slowPrefix}in-flight.txt` }));
  t.is(await response.Body!.transformToString(), 'uploaded during shutdown');
});

test.serial('unmounted from outside, then SIGTERM at once: the mount ends cleanly and keeps what it cached', async (t) => {
  for (let i = 0; i < 20; i++) await client.send(new PutObjectCommand({ Bucket: endpoint.bucket, Key: `${prefix}outside-unmount/f${i}`, Body: 'x' }));
  const cacheDir = await mkdtemp(join(tmpdir(), 's3mount-it-shutdown-'));
  t.teardown(() => rm(cacheDir, { recursive: true, force: true }));
  const first = await mountBucket(endpoint, { target: target(), cacheDir });
  t.teardown(() => first.stop());
  t.is((await run('ls', ['-l', join(first.mountpoint, 'outside-unmount')])).code, 0);
  const exited = new Promise<number | null>((resolve) => first.child.once('exit', (code) => resolve(code)));
  // The mount notices an unmount from outside within a second; SIGTERM comes before that.
  t.is((await run('fusermount', ['-u', first.mountpoint])).code, 0);
  first.child.kill('SIGTERM');
  t.is(await exited, 0, `the mount process ends cleanly: ${first.logs().slice(-2000)}`);
  const second = await mountBucket(endpoint, { target: target(), cacheDir });
  t.teardown(() => second.stop());
  const before = (await mountStats(second.mountpoint)).s3.head.count;
  t.is((await run('ls', ['-l', join(second.mountpoint, 'outside-unmount')])).code, 0);
  t.is((await mountStats(second.mountpoint)).s3.head.count - before, 0, 'the HEAD answers were saved to disk before the process left');
});
