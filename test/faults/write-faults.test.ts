// Uploads under injected faults: a failed upload is EIO at close(), nothing partial appears
// in the bucket, the bytes stay staged, and the unmount uploads them once S3 is back.
import test from 'ava';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFaultProxy, type FaultProxy } from '../../scripts/fault-proxy.js';
import { seedClient, startS3Endpoint, testPrefix, type S3Endpoint } from '../../scripts/local-s3.js';
import { mountBucket, run } from '../helpers/mount.js';

const FAILING = { kind: 'status', status: 500, code: 'InternalError' } as const;
// A writer that checks close(), as careful programs do (a shell ignores close errors): copies
// the file argv[1] to argv[2], prints the error code and exits 1 when close() fails.
const WRITER = `const fs = require('fs'); const fd = fs.openSync(process.argv[2], 'w'); fs.writeSync(fd, fs.readFileSync(process.argv[1])); try { fs.closeSync(fd); } catch (e) { console.log(e.code); process.exit(1); }`;

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

function mountThroughProxy(staging: string) {
  return mountBucket({ ...endpoint, endpoint: proxy.url }, { target: prefix ? `${endpoint.bucket}:${prefix}` : endpoint.bucket, args: ['--max-attempts', '2', '--staging-dir', staging] });
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
  const faulted = proxy.log().slice(from).filter((r) => r.fault !== undefined).length;
  proxy.clear('write');
  await mount.stop();
  t.is((await objectBytes('precious.txt'))?.toString(), 'must not be lost', 'the unmount uploaded them');
  t.deepEqual(await stagedCopies(staging), []);
  t.log(`PUTs faulted ${faulted}; close() EIO; 16 bytes compared after the unmount`);
});
