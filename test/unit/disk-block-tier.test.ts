// The disk tier on its own: what it stores it reads back, across a restart, in LRU order;
// invalidation, clear and the bound; leftovers of an interrupted write are removed.

import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { BlockId } from '../../src/cache/block-cache.js';
import { DiskBlockTier } from '../../src/cache/disk/disk-block-tier.js';
import { silentLogger } from '../../src/log.js';

const KIB = 1024;

function block(key: string, index = 0, etag = '"e1"'): BlockId {
  return { bucket: 'b', key, etag, unitSize: 4 * KIB, index };
}

function bytesOf(seed: number, size = 4 * KIB): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed * 7) & 0xff;
  return bytes;
}

async function tierIn(
  t: { teardown(fn: () => Promise<void>): void },
  options: { maxBytes?: number; compression?: 'zstd' | 'none'; directory?: string; now?: () => number } = {},
) {
  const directory = options.directory ?? (await mkdtemp(join(tmpdir(), 's3mount-tier-')));
  const tier = new DiskBlockTier(
    { directory, maxBytes: options.maxBytes ?? 1024 * KIB, compression: options.compression ?? 'zstd', now: options.now },
    silentLogger(),
  );
  await tier.scanned;
  t.teardown(async () => {
    await tier.close();
    if (!options.directory) await rm(directory, { recursive: true, force: true });
  });
  return { tier, directory };
}

test('what is written is read back, copied: the caller may reuse its buffer at once', async (t) => {
  const { tier } = await tierIn(t);
  const bytes = bytesOf(1);
  tier.write(block('a'), bytes);
  bytes.fill(0);
  await tier.close();
  t.true(tier.has(block('a')));
  t.deepEqual(await tier.read(block('a')), bytesOf(1));
  t.false(tier.has(block('a', 0, '"e2"')), 'another version is another block');
  t.is(await tier.read(block('a', 1)), undefined);
  const into = Buffer.alloc(8 * KIB);
  t.deepEqual(await tier.read(block('a'), into), bytesOf(1));
  t.deepEqual(into.subarray(0, 4 * KIB), bytesOf(1));
  t.like(tier.stats(), { entries: 1, bytes: 4 * KIB, hits: 2, misses: 1, errors: 0 });
});

test('a restart finds the blocks, in least recently used order, and removes interrupted writes', async (t) => {
  let now = Date.now();
  const directory = await mkdtemp(join(tmpdir(), 's3mount-tier-'));
  t.teardown(() => rm(directory, { recursive: true, force: true }));
  const first = new DiskBlockTier({ directory, maxBytes: 1024 * KIB, compression: 'none', now: () => now }, silentLogger());
  await first.scanned;
  for (const name of ['a', 'b', 'c']) {
    first.write(block(name), bytesOf(name.charCodeAt(0)));
    await first.close();
    now += 120_000;
  }
  // Reading a touches it: it becomes the most recent, across the restart too.
  await first.read(block('a'));
  await first.close();
  const shard = (await readdir(join(directory, 'blocks')))[0];
  const objectDir = join(directory, 'blocks', shard, (await readdir(join(directory, 'blocks', shard)))[0]);
  const stray = join(objectDir, 'x.tmp-1');
  await writeFile(stray, 'half a write');

  const second = new DiskBlockTier({ directory, maxBytes: 2 * (4 * KIB + 100), compression: 'none' }, silentLogger());
  await second.scanned;
  t.teardown(() => second.close());
  t.is(second.stats().entries, 2, 'the bound holds at start');
  t.false(second.has(block('b')), 'b was least recently used');
  t.true(second.has(block('a')));
  t.true(second.has(block('c')));
  t.deepEqual(await second.read(block('a')), bytesOf(97));
  t.is(second.stats().evictions, 1);
  t.false((await readdir(objectDir).catch(() => [] as string[])).includes('x.tmp-1'), 'a half-written file is removed');
});

test('invalidation by key and by prefix, and clear, reach the files', async (t) => {
  const { tier, directory } = await tierIn(t);
  for (const key of ['dir/a', 'dir/b', 'other']) tier.write(block(key), bytesOf(key.length));
  await tier.close();
  t.is(tier.invalidateKey('b', 'dir/a'), 1);
  t.false(tier.has(block('dir/a')));
  t.is(tier.invalidatePrefix('b', 'dir/'), 1);
  t.true(tier.has(block('other')));
  tier.clear();
  await tier.close();
  t.is(tier.stats().entries, 0);
  const again = new DiskBlockTier({ directory, maxBytes: 1024 * KIB, compression: 'zstd' }, silentLogger());
  await again.scanned;
  t.is(again.stats().entries, 0, 'nothing dropped comes back after a restart');
  await again.close();
});

test('a read whose block is invalidated while its file is being opened is a miss, not an error', async (t) => {
  const { tier, directory } = await tierIn(t);
  tier.write(block('a'), bytesOf(1));
  await tier.close();
  // The invalidation's unlink, done before the read's open reaches the disk (seen on a mount
  // as "dropped a block that cannot be trusted" during git work in a cloned repository).
  const files = (await readdir(directory, { recursive: true })).filter((file) => file.includes('-L'));
  t.is(files.length, 1);
  await rm(join(directory, files[0]));
  const reading = tier.read(block('a'));
  t.is(tier.invalidateKey('b', 'a'), 1);
  t.is(await reading, undefined);
  t.like(tier.stats(), { errors: 0, misses: 1 });
});

test('blocks on their way when their object is dropped, and the next version written at once, make no errors', async (t) => {
  const { tier } = await tierIn(t);
  for (let round = 0; round < 60; round++) {
    for (let index = 0; index < 4; index++) tier.write(block('key', index, `"old${round}"`), bytesOf(index));
    await tier.close();
    // More blocks of the old version on their way when the object changes.
    for (let index = 4; index < 12; index++) tier.write(block('key', index, `"old${round}"`), bytesOf(index));
    await new Promise((resolve) => setImmediate(resolve));
    tier.invalidateKey('b', 'key');
    for (let index = 0; index < 8; index++) tier.write(block('key', index, `"new${round}"`), bytesOf(index + round));
    await tier.close();
    for (let index = 0; index < 8; index++) {
      t.deepEqual(await tier.read(block('key', index, `"new${round}"`)), bytesOf(index + round), `round ${round}, block ${index}`);
    }
  }
  t.is(tier.stats().errors, 0, 'a block of a dropped version that lost its directory is no error');
});

test('right after a restart, a read of one object finds its blocks without waiting for the scan of all the others', async (t) => {
  const directory = await mkdtemp(join(tmpdir(), 's3mount-tier-'));
  t.teardown(() => rm(directory, { recursive: true, force: true }));
  const before = new DiskBlockTier({ directory, maxBytes: 64 * 1024 * KIB, compression: 'none' }, silentLogger());
  await before.scanned;
  for (let i = 0; i < 1500; i++) before.write(block(`other/${i}`), bytesOf(i, 16));
  before.write(block('wanted', 0), bytesOf(1));
  before.write(block('wanted', 1), bytesOf(2));
  await before.close();
  const after = new DiskBlockTier({ directory, maxBytes: 64 * 1024 * KIB, compression: 'none' }, silentLogger());
  t.teardown(() => after.close());
  let scanned = false;
  void after.scanned.then(() => (scanned = true));
  await after.ready?.('b', 'wanted');
  t.false(scanned, 'the scan of 1,500 other objects is still running');
  t.true(after.has(block('wanted', 0)) && after.has(block('wanted', 1)), 'the object asked for is indexed');
  t.deepEqual(await after.read(block('wanted', 1)), bytesOf(2));
  await after.scanned;
  t.is(after.stats().entries, 1502, 'the scan then indexes everything, the object asked for once');
  t.is(after.ready?.('b', 'wanted'), undefined, 'once scanned, nothing to wait for');
  t.is(after.stats().bytes, 1500 * 16 + 2 * 4 * KIB);
});
