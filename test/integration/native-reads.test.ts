// Reads answered inside the FUSE binding (scripts/fuse-native-read-cache.h) on real mounts:
// once a handle has read blocks held on disk, later reads of them are answered there (counted
// by the binding), with the same bytes, by that handle and by any later one that read bytes of
// the same version; the blocks leaving the disk cache take the registrations away; an object
// replaced between opens reads new bytes.

import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import test from 'ava';
import { type S3Endpoint, seedClient, startS3Endpoint, testPrefix } from '../../scripts/local-s3.js';
import type { NativeReadsStats } from '../../src/fuse/native-reads.js';
import { CLI, type Mount, mountBucket, mountStats, run } from '../support/mount.js';
import { patternBytes } from '../support/pattern.js';

const MIB = 1024 * 1024;
// 6 MiB objects stream (above a quarter of 8 MiB); 1.5 MiB ones go through the block cache.
const MOUNT_ARGS = ['--max-cache-size', '8', '--metadata-ttl', '600'];
const KERNEL_TTL_MS = 1000;

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
const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function put(key: string, body: Buffer): Promise<void> {
  await client.send(new PutObjectCommand({ Bucket: endpoint.bucket, Key: prefix + key, Body: body, ContentLength: body.length }));
}

async function nativeReads(mount: Mount): Promise<NativeReadsStats> {
  const native = (await mountStats(mount.mountpoint)).nativeReads;
  if (!native) throw new Error('the mount has no native reads in its FUSE binding (see its log)');
  return native;
}

/** Waits (bounded) until `check` holds for the mount's stats; fails saying what it waited for. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(50);
  }
}

async function diskBlocks(mount: Mount): Promise<number> {
  return (await mountStats(mount.mountpoint)).cache.tiers.find((tier) => tier.tier === 'blocks/disk')?.entries ?? 0;
}

async function must(command: string, ...args: string[]): Promise<string> {
  const result = await run(command, args);
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

/** SHA-256 of a file read whole by one process (one handle). */
async function sha256sum(path: string): Promise<string> {
  return (await must('sha256sum', path)).split(' ')[0];
}

/** Reads `path` whole through the mount once, and waits until its blocks are on disk. */
async function onDisk(mount: Mount, path: string, blocks: number): Promise<void> {
  await must('cat', path);
  await until(`${blocks} blocks are on disk`, async () => (await diskBlocks(mount)) >= blocks);
  // Out of the kernel's page cache, so the next reads reach the mount.
  await must('dd', `if=${path}`, 'iflag=nocache', 'count=0', 'status=none');
}

/** One descriptor held open by a child process, read on command. */
class HeldReader {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: Interface;
  private readonly answers: string[] = [];
  private waiting?: (line: string) => void;

  constructor(path: string) {
    this.child = spawn(process.execPath, [join('test', 'support', 'held-reader.mjs'), path]);
    this.lines = createInterface({ input: this.child.stdout });
    this.lines.on('line', (line) => {
      const waiting = this.waiting;
      this.waiting = undefined;
      if (waiting) waiting(line);
      else this.answers.push(line);
    });
  }

  private next(): Promise<string> {
    const line = this.answers.shift();
    if (line !== undefined) return Promise.resolve(line);
    return new Promise((resolve) => (this.waiting = resolve));
  }

  async ready(): Promise<void> {
    await this.next();
  }

  /** The bytes, or the error code. */
  async read(offset: number, length: number): Promise<Buffer | string> {
    this.child.stdin.write(`read ${offset} ${length}\n`);
    const answer = JSON.parse(await this.next()) as { bytes?: string; error?: string };
    return answer.bytes !== undefined ? Buffer.from(answer.bytes, 'base64') : (answer.error as string);
  }

  async close(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.stdin.write('close\n');
    await exited;
  }
}

const KIB = 1024;

/**
 * Opens `path` in a held reader, reads its first 128 KiB (a sequential read: the blocks it
 * touches and two after are registered once checked), and waits until `blocks` are registered.
 */
async function registered(mount: Mount, path: string, bytes: Buffer, blocks: number): Promise<HeldReader> {
  const reader = new HeldReader(path);
  await reader.ready();
  const first = await reader.read(0, 128 * KIB);
  if (typeof first === 'string' || !first.equals(bytes.subarray(0, 128 * KIB)))
    throw new Error(`first read: ${typeof first === 'string' ? first : 'other bytes'}`);
  await until(`${blocks} blocks are registered`, async () => (await nativeReads(mount)).blocks >= blocks);
  return reader;
}

test('reads of blocks on disk a handle read are answered in the binding, with the same bytes, for later handles of that version too', async (t) => {
  const mount = await mountBucket(endpoint, { target: target(), args: MOUNT_ARGS });
  try {
    const streamed = patternBytes(6 * MIB + 12345, 1);
    const cached = patternBytes(MIB + MIB / 2, 2);
    await put('streamed.bin', streamed);
    await put('cached.bin', cached);
    const streamedPath = join(mount.mountpoint, 'streamed.bin');
    const cachedPath = join(mount.mountpoint, 'cached.bin');
    await onDisk(mount, streamedPath, 7);
    await onDisk(mount, cachedPath, 9);
    // A streaming reader registers blocks as its stream reads them from disk.
    t.is(await sha256sum(streamedPath), sha(streamed), 'the streamed object reads back the same bytes');
    const reader = await registered(mount, cachedPath, cached, 2);
    try {
      // Out of the kernel's page cache again: the next reads reach the mount, and the binding.
      await must('dd', `if=${cachedPath}`, 'iflag=nocache', 'count=0', 'status=none');
      const before = await nativeReads(mount);
      t.deepEqual(await reader.read(128 * KIB, cached.length), cached.subarray(128 * KIB), 'the cached object reads back the same bytes');
      const after = await nativeReads(mount);
      t.true(after.served > before.served, `reads answered in the binding: ${after.served - before.served}`);
      t.true(after.servedBytes > before.servedBytes);
      t.is(after.fallbacks, 0);
    } finally {
      await reader.close();
    }
    // Registrations belong to the object's version: a handle opened after the first was
    // released is answered from them once it has read bytes of that version, with nothing
    // registered again.
    const kept = await nativeReads(mount);
    t.true(kept.blocks >= 2, 'the blocks stay registered after the release');
    const later = new HeldReader(cachedPath);
    try {
      await later.ready();
      t.deepEqual(await later.read(0, 128 * KIB), cached.subarray(0, 128 * KIB));
      await must('dd', `if=${cachedPath}`, 'iflag=nocache', 'count=0', 'status=none');
      const before = await nativeReads(mount);
      t.deepEqual(await later.read(MIB, MIB / 2), cached.subarray(MIB), 'a later handle reads the same bytes');
      const after = await nativeReads(mount);
      t.true(after.served > before.served, `reads of the later handle answered in the binding: ${after.served - before.served}`);
    } finally {
      await later.close();
    }
  } finally {
    await mount.stop();
  }
});

test('blocks leaving the disk cache while a handle holds them registered are read the usual way, with the same bytes', async (t) => {
  const mount = await mountBucket(endpoint, { target: target(), args: MOUNT_ARGS });
  try {
    // Two whole blocks: a bound of 1 MiB (15/16 of it for blocks) holds neither.
    const bytes = patternBytes(2 * MIB, 3);
    await put('evicted.bin', bytes);
    const path = join(mount.mountpoint, 'evicted.bin');
    await onDisk(mount, path, 2);
    const reader = await registered(mount, path, bytes, 2);
    try {
      const before = await nativeReads(mount);
      // A bound smaller than one block pushes every block out of the disk: the binding lets go of them.
      await must(process.execPath, CLI, 'cache', 'configure', mount.mountpoint, '--max-disk-cache-size', '1');
      const after = await nativeReads(mount);
      t.is(after.blocks, 0, 'no block file stays registered once it left the disk cache');
      t.is(after.dropped - before.dropped, before.blocks);
      t.is(await diskBlocks(mount), 0);
      await must('dd', `if=${path}`, 'iflag=nocache', 'count=0', 'status=none');
      t.deepEqual(await reader.read(128 * KIB, bytes.length), bytes.subarray(128 * KIB));
    } finally {
      await reader.close();
    }
  } finally {
    await mount.stop();
  }
});

test('an object replaced between opens reads the new bytes, in the binding too', async (t) => {
  const mount = await mountBucket(endpoint, { target: target(), args: MOUNT_ARGS });
  try {
    const first = patternBytes(MIB + MIB / 2, 4);
    const second = patternBytes(MIB + MIB / 2, 5);
    await put('replaced.bin', first);
    const path = join(mount.mountpoint, 'replaced.bin');
    await onDisk(mount, path, 2);
    const old = await registered(mount, path, first, 2);
    await old.close();
    await put('replaced.bin', second);
    await must(process.execPath, CLI, 'cache', 'invalidate', mount.mountpoint, 'replaced.bin');
    // The kernel's own copy of the attributes runs out, so the next open sees the new version.
    await sleep(KERNEL_TTL_MS + 200);
    t.is(await sha256sum(path), sha(second), 'a handle opened after the replacement reads the new object');
    await until('the new version is on disk', async () => (await diskBlocks(mount)) >= 2);
    await must('dd', `if=${path}`, 'iflag=nocache', 'count=0', 'status=none');
    const reader = await registered(mount, path, second, 2);
    try {
      await must('dd', `if=${path}`, 'iflag=nocache', 'count=0', 'status=none');
      const served = (await nativeReads(mount)).served;
      t.deepEqual(await reader.read(128 * KIB, second.length), second.subarray(128 * KIB), 'and so does the next, read in the binding');
      t.true((await nativeReads(mount)).served > served);
    } finally {
      await reader.close();
    }
  } finally {
    await mount.stop();
  }
});
