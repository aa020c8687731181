// A custom endpoint behind TLS (MinIO behind TLS, R2...): a TLS-terminating proxy on loopback
// with a certificate made for this run, in front of the emulator. The mount trusts it through
// NODE_EXTRA_CA_CERTS, as a user with a private CA would; both read paths (the lean client, and
// the SDK forced with S3MOUNT_TEST_SDK_PATH=1) read, list, stat and write through it. Without
// the CA the mount refuses the endpoint, naming the certificate.

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net, { type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import test from 'ava';
import { type S3Endpoint, seedClient, startS3Endpoint, testPrefix } from '../../scripts/local-s3.js';
import { mountBucket, run } from '../support/mount.js';
import { patternBytes } from '../support/pattern.js';

const SIZE = 3 * 1024 * 1024 + 5;
const expected = patternBytes(SIZE, 11);
let endpoint: S3Endpoint;
let client: S3Client;
let prefix: string;
let scratch: string;
let tlsUrl: string;
let caFile: string;
let tlsConnections = 0;
let closeProxy: () => Promise<void>;

test.before(async () => {
  endpoint = await startS3Endpoint();
  client = seedClient(endpoint);
  prefix = testPrefix(endpoint);
  await client.send(new PutObjectCommand({ Bucket: endpoint.bucket, Key: `${prefix}dir/big.bin`, Body: expected, ContentLength: SIZE }));
  await client.send(new PutObjectCommand({ Bucket: endpoint.bucket, Key: `${prefix}dir/small.txt`, Body: 'small\n' }));

  // A self-signed certificate for 127.0.0.1, valid for this run only.
  scratch = await mkdtemp(join(tmpdir(), 's3mount-tls-'));
  caFile = join(scratch, 'cert.pem');
  const keyFile = join(scratch, 'key.pem');
  await promisify(execFile)('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    caFile,
    '-days',
    '1',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
  ]);

  const upstream = new URL(endpoint.endpoint);
  const sockets = new Set<Socket>();
  const server = tls.createServer({ key: await readFile(keyFile), cert: await readFile(caFile) }, (secure) => {
    tlsConnections++;
    const plain =
      upstream.protocol === 'https:'
        ? tls.connect({ host: upstream.hostname, port: Number(upstream.port || 443), servername: upstream.hostname })
        : net.connect({ host: upstream.hostname, port: Number(upstream.port || 80) });
    for (const socket of [secure, plain]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    secure.pipe(plain).pipe(secure);
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  tlsUrl = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  closeProxy = async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
});

test.after.always(async () => {
  await closeProxy?.();
  client?.destroy();
  await endpoint?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const target = () => (prefix ? `${endpoint.bucket}:${prefix}` : endpoint.bucket);

for (const [path, sdkPath] of [
  ['lean', '0'],
  ['sdk', '1'],
] as const) {
  test.serial(`${path} path: a mount over https reads byte-exact, lists, stats and writes through the TLS endpoint`, async (t) => {
    process.env.NODE_EXTRA_CA_CERTS = caFile;
    process.env.S3MOUNT_TEST_SDK_PATH = sdkPath;
    const connectionsBefore = tlsConnections;
    const mount = await mountBucket({ ...endpoint, endpoint: tlsUrl }, { target: target(), args: ['--max-attempts', '2'] });
    t.teardown(() => mount.stop());
    const listed = await run('ls', [join(mount.mountpoint, 'dir')]);
    t.is(listed.code, 0, listed.stderr);
    t.deepEqual(listed.stdout.trim().split('\n'), ['big.bin', 'small.txt']);
    const stat = await run('stat', ['-c', '%s', join(mount.mountpoint, 'dir', 'big.bin')]);
    t.is(stat.stdout.trim(), String(SIZE));
    const read = await run('sh', ['-c', `base64 -w0 < ${join(mount.mountpoint, 'dir', 'big.bin')}`]);
    t.is(read.code, 0, read.stderr);
    t.true(Buffer.from(read.stdout, 'base64').equals(expected), 'bytes exact');
    const written = await run('sh', ['-c', `printf 'over tls\\n' > ${join(mount.mountpoint, `written-${path}.txt`)}`]);
    t.is(written.code, 0, written.stderr);
    const back = await client.send(new GetObjectCommand({ Bucket: endpoint.bucket, Key: `${prefix}written-${path}.txt` }));
    t.is(await back.Body?.transformToString(), 'over tls\n');
    t.true(tlsConnections > connectionsBefore, 'the mount went through the TLS endpoint');
  });
}

test.serial('without the CA the mount refuses the endpoint, naming the certificate', async (t) => {
  delete process.env.NODE_EXTRA_CA_CERTS;
  process.env.S3MOUNT_TEST_SDK_PATH = '0';
  const error = await t.throwsAsync(mountBucket({ ...endpoint, endpoint: tlsUrl }, { target: target(), args: ['--max-attempts', '1'] }));
  t.regex(String(error), /certificate/i);
});
