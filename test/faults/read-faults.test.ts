// Reads under injected S3 faults: transient ones are retried and return correct bytes,
// persistent ones are EIO within the retry budget, bodies cut short are never served or
// cached, and the same mount works again once the server recovers.
import test from 'ava';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { join } from 'node:path';
import { startFaultProxy, type FaultProxy } from '../../scripts/fault-proxy.js';
import { seedClient, startS3Endpoint, type S3Endpoint } from '../../scripts/local-s3.js';
import { mountBucket, run, type Mount } from '../helpers/mount.js';
import { patternBytes } from '../helpers/pattern.js';

const SIZE = 3 * 1024 * 1024 + 17;
let endpoint: S3Endpoint;
let proxy: FaultProxy;
let mount: Mount;
const expected = patternBytes(SIZE, 42);

test.before(async () => {
  endpoint = await startS3Endpoint();
  const client = seedClient(endpoint);
  for (const name of ['transient', 'persistent', 'cut', 'reset']) {
    await client.send(new PutObjectCommand({ Bucket: endpoint.bucket, Key: `${name}.bin`, Body: expected, ContentLength: SIZE }));
  }
  proxy = await startFaultProxy(endpoint.endpoint);
  // The emulator is reached only through the proxy; 3 attempts per request.
  mount = await mountBucket({ ...endpoint, endpoint: proxy.url }, { args: ['--max-attempts', '3'] });
});

test.after.always(async () => {
  await mount?.stop();
  await proxy?.stop();
  await endpoint?.stop();
});

async function readAll(name: string): Promise<{ code: number; bytes: Buffer; stderr: string; seconds: number }> {
  const started = performance.now();
  const result = await run('sh', ['-c', `base64 -w0 < ${join(mount.mountpoint, name)}`], { timeoutMs: 200_000 });
  return { code: result.code, bytes: Buffer.from(result.stdout, 'base64'), stderr: result.stderr, seconds: (performance.now() - started) / 1000 };
}

test.serial('503 SlowDown and 500 on some GETs are retried: the bytes are right', async (t) => {
  proxy.queue({ kind: 'status', status: 503, code: 'SlowDown' }, { kind: 'status', status: 500, code: 'InternalError' }, { kind: 'status', status: 503, code: 'SlowDown' });
  const before = proxy.counts().injected;
  const result = await readAll('transient.bin');
  t.is(result.code, 0, result.stderr);
  t.true(result.bytes.equals(expected));
  t.is(proxy.counts().injected - before, 3);
});

test.serial('connection resets are retried', async (t) => {
  proxy.queue({ kind: 'reset' }, { kind: 'reset' });
  const result = await readAll('reset.bin');
  t.is(result.code, 0, result.stderr);
  t.true(result.bytes.equals(expected));
});

test.serial('a persistent fault is EIO within the retry budget; the mount works again after', async (t) => {
  proxy.always({ kind: 'status', status: 500, code: 'InternalError' });
  const failed = await readAll('persistent.bin');
  t.not(failed.code, 0);
  t.regex(failed.stderr, /Input\/output error/);
  // 3 attempts of at most 20 s each, plus backoff: the README's bound is 142 s per operation.
  t.true(failed.seconds < 142, `EIO after ${failed.seconds} s`);
  proxy.always(undefined);
  const recovered = await readAll('persistent.bin');
  t.is(recovered.code, 0, recovered.stderr);
  t.true(recovered.bytes.equals(expected), 'no remount needed, and no error was cached');
});

test.serial('bodies cut short are detected, never served or cached', async (t) => {
  proxy.always({ kind: 'cut' });
  const failed = await readAll('cut.bin');
  t.not(failed.code, 0);
  t.regex(failed.stderr, /Input\/output error/);
  proxy.always(undefined);
  const whole = await readAll('cut.bin');
  t.is(whole.code, 0, whole.stderr);
  t.true(whole.bytes.equals(expected));
});
