// Uploads under injected faults: a failed upload is EIO at close(), nothing partial appears
// in the bucket, the bytes stay staged, and the unmount uploads them once S3 is back.
import test from 'ava';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFaultProxy, type FaultProxy } from '../../scripts/fault-proxy.js';
import { seedClient, startS3Endpoint, type S3Endpoint } from '../../scripts/local-s3.js';
import { mountBucket, run } from '../helpers/mount.js';

let endpoint: S3Endpoint;
let client: S3Client;
let proxy: FaultProxy;
let staging: string;

test.before(async () => {
  endpoint = await startS3Endpoint();
  client = seedClient(endpoint);
  proxy = await startFaultProxy(endpoint.endpoint);
  staging = await mkdtemp(join(tmpdir(), 's3mount-write-faults-'));
});

test.after.always(async () => {
  await proxy?.stop();
  await endpoint?.stop();
  if (staging) await rm(staging, { recursive: true, force: true });
});

async function objectText(key: string): Promise<string | undefined> {
  try {
    const response = await client.send(new GetObjectCommand({ Bucket: endpoint.bucket, Key: key }));
    return await response.Body?.transformToString();
  } catch {
    return undefined;
  }
}

test('a failing upload is EIO at close, keeps the bytes, and the unmount saves them', async (t) => {
  const mount = await mountBucket({ ...endpoint, endpoint: proxy.url }, { args: ['--max-attempts', '2', '--staging-dir', staging] });
  t.teardown(() => mount.stop());
  proxy.always({ kind: 'status', status: 500, code: 'InternalError' }, 'write');
  // A writer that checks close(), as careful programs do (a shell ignores close errors).
  const writer = `const fs = require('fs'); const fd = fs.openSync(process.argv[1], 'w'); fs.writeSync(fd, 'must not be lost'); try { fs.closeSync(fd); } catch (e) { console.log(e.code); process.exit(1); }`;
  const write = await run(process.execPath, ['-e', writer, join(mount.mountpoint, 'precious.txt')]);
  t.not(write.code, 0, 'close() reports the failed upload');
  t.is(write.stdout.trim(), 'EIO');
  t.is(await objectText('precious.txt'), undefined, 'nothing partial is visible in the bucket');
  t.true((await readdir(staging)).some((name) => name.endsWith('.data')), 'the bytes stay staged');
  t.is((await run('cat', [join(mount.mountpoint, 'precious.txt')])).stdout, 'must not be lost', 'and readable through the mount');
  proxy.always(undefined, 'write');
  await mount.stop();
  t.is(await objectText('precious.txt'), 'must not be lost', 'the unmount uploaded them');
  t.deepEqual((await readdir(staging)).filter((name) => name.endsWith('.data')), []);
});
