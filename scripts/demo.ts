// `make demo`: a local S3 emulator with a sample bucket, mounted with s3mount, shown with
// ls, cat and find, then served until Ctrl-C (or, with --exit, unmounted at once).

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { seedClient, startS3Endpoint } from './local-s3.js';
import { runShown, unmountWithRetries, waitForMount } from './mounts.js';

const exitAfterShowing = process.argv.includes('--exit');
// The command users run: it adds the malloc tunable that speeds up cold reads.
const s3mount = resolve('bin/s3mount');

const endpoint = await startS3Endpoint({ bucket: 'demo-bucket' });
const client = seedClient(endpoint);
const put = (key: string, body: string | Buffer) =>
  client.send(new PutObjectCommand({ Bucket: endpoint.bucket, Key: key, Body: body, ContentLength: Buffer.byteLength(body) }));

console.log(`local S3 emulator at ${endpoint.endpoint}, seeding bucket ${endpoint.bucket} ...`);
await put('README.txt', 'This bucket is served by a local S3 emulator and mounted by s3mount.\n');
await put('docs/guide/getting-started.md', '# Getting started\n\nEvery object is a file; every prefix is a directory.\n');
await put('docs/guide/caching.md', '# Caching\n\nMetadata, listings and content are cached with TTLs and bounds.\n');
await put('photos/2024/holiday/beach.txt', 'imagine a beach\n');
await put('empty-folder/', '');
const sample = Buffer.alloc(4 * 1024 * 1024, 'abcdefghijklmnopqrstuvwxyz\n');
await new Upload({ client, params: { Bucket: endpoint.bucket, Key: 'data/sample-4MiB.txt', Body: sample } }).done();
const smallFiles = Array.from({ length: 3000 }, (_, i) => `logs/entry-${String(i).padStart(4, '0')}.log`);
for (let i = 0; i < smallFiles.length; i += 200) await Promise.all(smallFiles.slice(i, i + 200).map((key) => put(key, `log line of ${key}\n`)));
console.log(`seeded ${smallFiles.length + 6} objects`);

const mountpoint = await mkdtemp(join(tmpdir(), 's3mount-demo-'));
// The emulator listens on a new port each run: a cache of its own, removed with the demo.
const cacheDir = await mkdtemp(join(tmpdir(), 's3mount-demo-cache-'));
const env = { ...process.env, AWS_ACCESS_KEY_ID: endpoint.accessKeyId, AWS_SECRET_ACCESS_KEY: endpoint.secretAccessKey, AWS_REGION: endpoint.region };
const server = spawn(
  s3mount,
  [endpoint.bucket, mountpoint, '-f', '--endpoint-url', endpoint.endpoint, '--force-path-style', '--log-level', 'warn', '--cache-dir', cacheDir],
  { env, stdio: ['ignore', 'inherit', 'inherit'] },
);
const serverExited = new Promise((done) => server.once('exit', done));

let cleaned = false;
async function cleanUp(): Promise<void> {
  if (cleaned) return;
  cleaned = true;
  await unmountWithRetries(mountpoint);
  await serverExited;
  await rm(mountpoint, { recursive: true, force: true });
  await rm(cacheDir, { recursive: true, force: true });
  await endpoint.stop();
}

try {
  await waitForMount(mountpoint, serverExited);
  console.log(`\nmounted s3://${endpoint.bucket} at ${mountpoint}\n`);
  await runShown('ls', ['-la', mountpoint]);
  await runShown('cat', [join(mountpoint, 'README.txt')]);
  await runShown('cat', [join(mountpoint, 'docs/guide/getting-started.md')]);
  await runShown('sh', ['-c', `find ${mountpoint} | head -n 12`]);
  await runShown('sh', [`-c`, `ls ${join(mountpoint, 'logs')} | wc -l`]);
  await runShown('sh', ['-c', `md5sum ${join(mountpoint, 'data/sample-4MiB.txt')}`]);
  await runShown('sh', ['-c', `ls -l ${join(mountpoint, 'logs')} > /dev/null && ls -l ${join(mountpoint, 'logs')} | tail -n 2`]);
  await runShown(s3mount, ['cache', 'stats', mountpoint]);
  if (exitAfterShowing) {
    await cleanUp();
    console.log('\nunmounted; demo done');
  } else {
    console.log(`\nserving ${mountpoint} — explore it from another shell; Ctrl-C to unmount and stop`);
    await new Promise<void>((done) => {
      process.once('SIGINT', done);
      process.once('SIGTERM', done);
    });
    await cleanUp();
    console.log('\nunmounted; bye');
  }
} catch (error) {
  console.error(`demo failed: ${(error as Error).message}`);
  await cleanUp();
  process.exit(1);
}
process.exit(0);
