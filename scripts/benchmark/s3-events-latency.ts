// How long after an S3 event notification is sent a mount with --s3-events-queue shows the
// change: fauxqs (S3 and SQS), a mount that listed and stat'ed everything with an hour of
// metadata TTL, then N changes by another writer (the SDK): overwrite, delete, create in
// turn. Each is timed from SendMessage of its raw S3 event to the moment `stat` (and a read,
// for overwrites and creates) through the mount shows it, polling every 5 ms. Run with the
// kernel's default 1 s attribute TTL and with 0 (the consumer's own latency).
//   node --import tsx scripts/benchmark/s3-events-latency.ts
//   EVENTS_CHANGES=300 EVENTS_KERNEL_TTLS=1 node --import tsx scripts/benchmark/s3-events-latency.ts

import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { type S3Endpoint, seedClient, startS3Endpoint } from '../local-s3.js';
import { unmountWithRetries, waitForMount } from '../mounts.js';

const CHANGES = Number(process.env.EVENTS_CHANGES ?? 100);
const KERNEL_TTLS = (process.env.EVENTS_KERNEL_TTLS ?? '1,0').split(',').map(Number);
const POLL_MS = 5;
const GIVE_UP_MS = 30_000;

type Kind = 'overwrite' | 'delete' | 'create';

function eventBody(eventName: string, bucket: string, key: string): string {
  const encoded = encodeURIComponent(key).replaceAll('%2F', '/').replaceAll('%20', '+');
  return JSON.stringify({
    Records: [{ eventVersion: '2.1', eventSource: 'aws:s3', eventName, s3: { s3SchemaVersion: '1.0', bucket: { name: bucket }, object: { key: encoded } } }],
  });
}

async function shows(path: string, kind: Kind, body: string): Promise<boolean> {
  try {
    const info = await stat(path);
    if (kind === 'delete') return false;
    return info.size === body.length && (await readFile(path, 'utf8')) === body;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    return kind === 'delete';
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function measure(ep: S3Endpoint, sqs: SQSClient, kernelTtl: number): Promise<Map<Kind | 'all', number[]>> {
  const s3 = seedClient(ep);
  const directory = `latency-ttl${kernelTtl}`;
  const { QueueUrl: queue } = await sqs.send(new CreateQueueCommand({ QueueName: `latency-${kernelTtl}-${Date.now()}` }));
  if (!queue) throw new Error('no queue');
  // Files 0..N-1 exist; overwrite and delete take existing ones, create takes new names.
  const existing = Array.from({ length: CHANGES }, (_, i) => `f${String(i).padStart(4, '0')}.txt`);
  for (const name of existing) await s3.send(new PutObjectCommand({ Bucket: ep.bucket, Key: `${directory}/${name}`, Body: 'version 1\n' }));

  const mountpoint = await mkdtemp(join(tmpdir(), 's3mount-latency-'));
  const cacheDir = await mkdtemp(join(tmpdir(), 's3mount-latency-cache-'));
  const child = spawn(
    process.execPath,
    [
      resolve('dist/cli.js'),
      `${ep.bucket}:${directory}`,
      mountpoint,
      '-f',
      '--endpoint-url',
      ep.endpoint,
      '--cache-dir',
      cacheDir,
      '--s3-events-queue',
      queue,
      '--metadata-ttl',
      '3600',
      '--negative-metadata-ttl',
      '3600',
      '--kernel-cache-ttl',
      String(kernelTtl),
    ],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, AWS_ACCESS_KEY_ID: ep.accessKeyId, AWS_SECRET_ACCESS_KEY: ep.secretAccessKey, AWS_REGION: ep.region },
    },
  );
  const exited = new Promise((done) => child.once('exit', done));
  await waitForMount(mountpoint, exited);
  const results = new Map<Kind | 'all', number[]>([
    ['all', []],
    ['overwrite', []],
    ['delete', []],
    ['create', []],
  ]);
  try {
    const created = existing.map((name) => name.replace('f', 'new '));
    // Everything the changes touch is cached first: listed, stat'ed, read, or known absent.
    for (const name of existing) await readFile(join(mountpoint, name));
    for (const name of created) await stat(join(mountpoint, name)).catch(() => undefined);
    for (let i = 0; i < CHANGES; i++) {
      const kind: Kind = (['overwrite', 'delete', 'create'] as const)[i % 3];
      const name = kind === 'create' ? created[i] : existing[i];
      const key = `${directory}/${name}`;
      const body = `version 2 of ${name}, ${'x'.repeat(i % 17)}\n`;
      if (kind === 'delete') await s3.send(new DeleteObjectCommand({ Bucket: ep.bucket, Key: key }));
      else await s3.send(new PutObjectCommand({ Bucket: ep.bucket, Key: key, Body: body }));
      const path = join(mountpoint, name);
      const started = performance.now();
      await sqs.send(
        new SendMessageCommand({ QueueUrl: queue, MessageBody: eventBody(kind === 'delete' ? 'ObjectRemoved:Delete' : 'ObjectCreated:Put', ep.bucket, key) }),
      );
      while (!(await shows(path, kind, body))) {
        if (performance.now() - started > GIVE_UP_MS) throw new Error(`change ${i} (${kind} ${name}) never showed`);
        await new Promise((done) => setTimeout(done, POLL_MS));
      }
      const ms = performance.now() - started;
      results.get('all')?.push(ms);
      results.get(kind)?.push(ms);
    }
  } finally {
    await unmountWithRetries(mountpoint);
    await exited;
    await rm(mountpoint, { recursive: true, force: true });
    await rm(cacheDir, { recursive: true, force: true });
    s3.destroy();
  }
  return results;
}

const ep = await startS3Endpoint();
const sqs = new SQSClient({ endpoint: ep.endpoint, region: ep.region, credentials: { accessKeyId: ep.accessKeyId, secretAccessKey: ep.secretAccessKey } });
try {
  console.log(`| kernel TTL | changes | p50 ms | p90 ms | p99 ms | max ms | within 1 s |`);
  console.log('|---|---|---:|---:|---:|---:|---:|');
  for (const ttl of KERNEL_TTLS) {
    const results = await measure(ep, sqs, ttl);
    for (const [kind, times] of results) {
      const sorted = [...times].sort((a, b) => a - b);
      const cells = [50, 90, 99, 100].map((p) => percentile(sorted, p).toFixed(0));
      const within = sorted.filter((ms) => ms <= 1000).length;
      console.log(`| ${ttl} s | ${sorted.length} ${kind === 'all' ? '(all)' : kind} | ${cells.join(' | ')} | ${within} |`);
    }
  }
} finally {
  sqs.destroy();
  await ep.stop();
}
