// Metadata on disk on its own: entries come back after a restart with their wall-clock expiry,
// drops hold across a restart (also for stores still waiting to be written), damaged entries
// and a damaged database are caught and counted, the byte bound holds in LRU order kept
// across a restart, listings are stored compressed, and the files are private.

import { copyFile, mkdtemp, open, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import Database from 'better-sqlite3';
import { DiskMetadataTier, METADATA_FILE, metadataRowOf } from '../../src/cache/disk/disk-metadata-tier.js';
import type { CacheKey, MetadataOp } from '../../src/cache/types.js';
import { silentLogger } from '../../src/log.js';

const KIB = 1024;
const START = 1_800_000_000_000;

function key(op: MetadataOp, name: string, params?: string): CacheKey {
  return { op, bucket: 'b', key: name, params };
}

function wallClock() {
  let now = START;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

async function directory(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 's3mount-meta-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function open_(dir: string, options: { maxBytes?: number; now?: () => number; compression?: 'zstd' | 'none'; flushQuietMs?: number } = {}) {
  return new DiskMetadataTier(
    {
      directory: dir,
      maxBytes: options.maxBytes ?? 1024 * KIB,
      compression: options.compression ?? 'zstd',
      now: options.now ?? (() => START),
      flushQuietMs: options.flushQuietMs,
    },
    silentLogger(),
  );
}

/** A stores-then-restart: what was set is written by close(), and a new tier opens the file. */
async function reopened(tier: DiskMetadataTier, dir: string, options: Parameters<typeof open_>[1] = {}): Promise<DiskMetadataTier> {
  await tier.close();
  return open_(dir, options);
}

const head = (name: string, mode = '33188') => ({ key: name, size: 3, etag: '"e"', lastModified: new Date(1_700_000_000_000), metadata: { mode } });

test('an entry comes back after a restart with its wall-clock expiry, and not once that has passed', async (t) => {
  const dir = await directory(t);
  const clock = wallClock();
  let tier = open_(dir, { now: clock.now });
  tier.set(key('head', 'a/x', '"e"@1700000000'), { value: head('a/x'), expiresAt: START + 30_000 });
  tier.set(key('dir', 'a/'), { value: { entries: new Map([['x', { type: 'file', mtime: new Date(5) }]]) }, expiresAt: START + 1_000 });
  t.deepEqual(await tier.get(key('head', 'a/x', '"e"@1700000000')), { value: head('a/x'), expiresAt: START + 30_000 }, 'answered while waiting to be written');
  tier = await reopened(tier, dir, { now: clock.now });
  t.is(tier.stats().entries, 2);
  t.deepEqual(await tier.get(key('head', 'a/x', '"e"@1700000000')), { value: head('a/x'), expiresAt: START + 30_000 });
  const listing = await tier.get(key('dir', 'a/'));
  t.deepEqual(listing?.value, { entries: new Map([['x', { type: 'file', mtime: new Date(5) }]]) });
  clock.advance(1_000);
  t.is(await tier.get(key('dir', 'a/')), undefined, 'expired');
  t.is(await tier.get(key('head', 'a/x')), undefined, 'another entry of the same key');
  const stats = tier.stats();
  t.is(stats.hits, 2);
  t.is(stats.misses, 2);
  t.is(stats.expired, 1);
  t.is(stats.entries, 1, 'the expired entry is gone from the file');
  await tier.close();
});

test('drops by key and by prefix, and clear, hold across a restart, also for stores still waiting', async (t) => {
  const dir = await directory(t);
  let tier = open_(dir);
  for (const name of ['d/a', 'd/b', 'd/sub/c', 'e/f', 'd']) tier.set(key('head', name), { value: head(name), expiresAt: START + 60_000 });
  tier.set(key('dir', 'd/'), { value: { entries: new Map() }, expiresAt: START + 60_000 });
  tier = await reopened(tier, dir);
  // Written, then stored again (waiting) and dropped at once: neither copy answers.
  tier.set(key('head', 'd/a'), { value: head('d/a', '33261'), expiresAt: START + 60_000 });
  tier.dropKey('b', 'd/a');
  t.is(await tier.get(key('head', 'd/a')), undefined, 'a get after the drop');
  tier.dropUnder('b', 'd/s');
  t.is(await tier.get(key('head', 'd/sub/c')), undefined);
  t.truthy(await tier.get(key('head', 'd/b')), 'outside the prefix: kept');
  t.truthy(await tier.get(key('head', 'd')), 'a key that is a prefix of others: kept');
  tier = await reopened(tier, dir);
  t.is(await tier.get(key('head', 'd/a')), undefined, 'still dropped after a restart');
  t.is(await tier.get(key('head', 'd/sub/c')), undefined);
  t.truthy(await tier.get(key('dir', 'd/')));
  tier.dropUnder('b', 'd/');
  t.is(await tier.get(key('dir', 'd/')), undefined);
  t.truthy(await tier.get(key('head', 'e/f')));
  tier.set(key('head', 'g'), { value: head('g'), expiresAt: START + 60_000 });
  tier.clear();
  t.is(tier.stats().entries, 0);
  tier = await reopened(tier, dir);
  t.is(tier.stats().entries, 0);
  t.is(await tier.get(key('head', 'e/f')), undefined);
  t.is(await tier.get(key('head', 'g')), undefined, 'a store waiting at clear is not written');
  await tier.close();
});

test('a flipped byte, a cut entry and an entry moved under another identity are dropped and counted', async (t) => {
  const dir = await directory(t);
  let tier = open_(dir);
  for (const name of ['a', 'b', 'c', 'd']) tier.set(key('head', name), { value: head(name), expiresAt: START + 60_000 });
  await tier.close();
  const db = new Database(join(dir, METADATA_FILE));
  const row = (name: string) => metadataRowOf(key('head', name));
  const data = (name: string) => (db.prepare('SELECT data FROM entries WHERE id = ?').get(row(name)) as { data: Buffer }).data;
  const flipped = Buffer.from(data('a'));
  flipped[flipped.length - 3] ^= 1;
  db.prepare('UPDATE entries SET data = ? WHERE id = ?').run(flipped, row('a'));
  db.prepare('UPDATE entries SET data = ? WHERE id = ?').run(data('b').subarray(0, 20), row('b'));
  db.prepare('UPDATE entries SET data = ? WHERE id = ?').run(data('d'), row('c'));
  db.close();
  tier = open_(dir);
  for (const name of ['a', 'b', 'c']) t.is(await tier.get(key('head', name)), undefined, name);
  t.deepEqual((await tier.get(key('head', 'd')))?.value, head('d'));
  const stats = tier.stats();
  t.is(stats.errors, 3);
  t.is(stats.misses, 3);
  t.is(stats.entries, 1, 'the damaged entries are removed');
  await tier.close();
});

test('a damaged database file is started anew, counted, and the tier goes on', async (t) => {
  const dir = await directory(t);
  let tier = open_(dir);
  for (let i = 0; i < 200; i++) tier.set(key('head', `k${i}`), { value: head(`k${i}`), expiresAt: START + 60_000 });
  await tier.close();
  const handle = await open(join(dir, METADATA_FILE), 'r+');
  await handle.write(Buffer.alloc(8192, 0x5a), 0, undefined, 0);
  await handle.close();
  tier = open_(dir);
  t.is(tier.stats().errors, 1);
  t.is(tier.stats().entries, 0);
  tier.set(key('head', 'new'), { value: head('new'), expiresAt: START + 60_000 });
  tier = await reopened(tier, dir);
  t.truthy(await tier.get(key('head', 'new')));
  await tier.close();
});

test('the byte bound holds, least recently used out first, the order kept across a restart', async (t) => {
  const dir = await directory(t);
  const bound = 16 * KIB;
  const padded = (name: string) => ({ ...head(name), metadata: { note: `${name}:${'x'.repeat(900)}` } });
  let tier = open_(dir, { maxBytes: bound, compression: 'none' });
  for (let i = 0; i < 10; i++) tier.set(key('head', `old${i}`), { value: padded(`old${i}`), expiresAt: START + 60_000 });
  tier = await reopened(tier, dir, { maxBytes: bound, compression: 'none' });
  // The first one written is used again: it becomes the most recent.
  t.truthy(await tier.get(key('head', 'old0')));
  tier = await reopened(tier, dir, { maxBytes: bound, compression: 'none' });
  for (let i = 0; i < 8; i++) tier.set(key('head', `new${i}`), { value: padded(`new${i}`), expiresAt: START + 60_000 });
  tier = await reopened(tier, dir, { maxBytes: bound, compression: 'none' });
  const stats = tier.stats();
  t.true((stats.storedBytes ?? 0) <= bound, `${stats.storedBytes} bytes for a bound of ${bound}`);
  t.true((stats.storedBytes ?? 0) > bound / 2);
  t.truthy(await tier.get(key('head', 'old0')), 'used after the others: kept');
  t.is(await tier.get(key('head', 'old1')), undefined, 'least recently used: out');
  t.truthy(await tier.get(key('head', 'new7')));
  tier.resize(4 * KIB);
  t.true((tier.stats().storedBytes ?? 0) <= 4 * KIB);
  t.true(tier.stats().evictions > 0);
  tier.set(key('head', 'huge'), { value: { ...head('huge'), metadata: { note: 'y'.repeat(2 * KIB) } }, expiresAt: START + 60_000 });
  t.is(await tier.get(key('head', 'huge')), undefined, 'an entry above a quarter of the bound is not kept');
  await tier.close();
});

test('a listing of 1,000 keys is stored compressed; its files are private', async (t) => {
  const dir = await directory(t);
  const tier = open_(dir);
  const entries = new Map<string, object>();
  for (let i = 0; i < 1000; i++) {
    const name = `photo-${String(i).padStart(5, '0')}.jpg`;
    entries.set(name, {
      type: 'file',
      key: `album/${name}`,
      size: 100_000 + i,
      etag: `"${(i * 7919).toString(16).padStart(32, '0')}"`,
      mtime: new Date(1_700_000_000_000 + i),
    });
  }
  tier.set(key('dir', 'album/'), { value: { entries }, expiresAt: START + 60_000 });
  await tier.close();
  const again = open_(dir);
  const stats = again.stats();
  t.log(`1,000-key listing: ${stats.bytes} bytes held in ${stats.storedBytes} bytes`);
  t.true((stats.storedBytes ?? 0) * 3 < stats.bytes, 'compressed at least 3×');
  const found = (await again.get(key('dir', 'album/')))?.value as { entries: Map<string, object> } | undefined;
  t.deepEqual(found?.entries, entries);
  t.is((await stat(join(dir, METADATA_FILE))).mode & 0o777, 0o600);
  await again.close();
});

test('the tier knows at once which keys it may hold: waiting stores, rows written, rows of an earlier mount', async (t) => {
  const dir = await directory(t);
  let tier = open_(dir);
  const a = key('head', 'a/x', '"e"@1700000000');
  t.false(tier.mayHold(a), 'nothing stored');
  tier.set(a, { value: head('a/x'), expiresAt: START + 30_000 });
  t.true(tier.mayHold(a), 'waiting to be written');
  t.false(tier.mayHold(key('head', 'a/x', '"f"@1700000000')), 'another version');
  tier = await reopened(tier, dir);
  t.true(tier.mayHold(a), 'a row an earlier mount wrote');
  t.false(tier.mayHold(key('head', 'a/y')));
  // Replaced in place: the row's size is counted once.
  const before = tier.stats().storedBytes;
  tier.set(a, { value: head('a/x'), expiresAt: START + 40_000 });
  tier = await reopened(tier, dir);
  t.is(tier.stats().entries, 1);
  t.is(tier.stats().storedBytes, before);
  await tier.close();
  t.false(tier.mayHold(a), 'closed: holds nothing');
});

test('a store replacing a written entry removes the old row at once: a crash before the flush never brings it back', async (t) => {
  const dir = await directory(t);
  let tier = open_(dir, { flushQuietMs: 60_000 });
  const listing = key('dir', 'd/');
  tier.set(listing, { value: { entries: new Map([['gone', { type: 'file', mtime: new Date(5) }]]) }, expiresAt: START + 60_000 });
  tier = await reopened(tier, dir, { flushQuietMs: 60_000 });
  t.teardown(() => tier.close());
  // The mount edits the listing with its own change (a file removed); the store waits for
  // the pause, and the process is killed before it: the files as they are now are what the
  // next mount finds (copied, since the database is locked by the tier still open).
  tier.set(listing, { value: { entries: new Map() }, expiresAt: START + 60_000 });
  const afterCrash = await directory(t);
  for (const name of await readdir(dir)) await copyFile(join(dir, name), join(afterCrash, name));
  const next = open_(afterCrash);
  t.teardown(() => next.close());
  t.is(await next.get(listing), undefined, 'the listing from before the change is not answered after the crash');
});

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

test('stores that keep coming are written once they pause, in slices that let the event loop turn', async (t) => {
  const dir = await directory(t);
  // A pause of 2 s, so that a loaded machine's late timers never make one of the 30 ms below.
  const tier = open_(dir, { flushQuietMs: 2_000 });
  t.teardown(() => tier.close());
  // A burst as a cold `ls -l` makes: stores every few milliseconds for longer than the pause.
  for (let batch = 0; batch < 10; batch++) {
    for (let i = 0; i < 100; i++) tier.set(key('head', `d/f${batch}-${i}`), { value: head(`d/f${batch}-${i}`), expiresAt: START + 60_000 });
    await pause(30);
    t.is(tier.stats().entries, 0, `nothing written while stores keep coming (after batch ${batch})`);
  }
  t.truthy(await tier.get(key('head', 'd/f0-0')), 'a store waiting is answered');
  // Once they pause the flush begins; seen between turns of the event loop, it is partly done.
  const seen: number[] = [];
  const deadline = Date.now() + 10_000;
  while (tier.stats().entries < 1_000 && Date.now() < deadline) {
    await turn();
    seen.push(tier.stats().entries);
  }
  t.is(tier.stats().entries, 1_000, 'all written after the pause');
  t.true(
    seen.some((entries) => entries > 0 && entries < 1_000),
    `written in slices: ${[...new Set(seen)].join(', ')}`,
  );
  t.truthy(await tier.get(key('head', 'd/f9-99')));
});

test('a flush that stores coming again interrupt waits for their pause', async (t) => {
  const dir = await directory(t);
  const tier = open_(dir, { flushQuietMs: 2_000 });
  t.teardown(() => tier.close());
  const store = (name: string) => tier.set(key('head', name), { value: head(name), expiresAt: START + 60_000 });
  for (let i = 0; i < 1_000; i++) store(`first/${i}`);
  const until = async (done: () => boolean) => {
    const deadline = Date.now() + 10_000;
    while (!done() && Date.now() < deadline) await turn();
  };
  await until(() => tier.stats().entries > 0);
  const begun = tier.stats().entries;
  t.true(begun > 0 && begun < 1_000, `the flush began with a slice: ${begun}`);
  for (let i = 0; i < 10; i++) store(`again/${i}`);
  for (let i = 0; i < 10; i++) await turn();
  t.is(tier.stats().entries, begun, 'no slice while stores come again');
  await until(() => tier.stats().entries === 1_010);
  t.is(tier.stats().entries, 1_010, 'all written after the next pause');
});

test('stores waiting past a byte bound are written while stores keep coming', async (t) => {
  const dir = await directory(t);
  const tier = open_(dir, { maxBytes: 256 * 1024 * KIB, compression: 'none', flushQuietMs: 2_000 });
  t.teardown(() => tier.close());
  const big = (name: string) => ({ ...head(name), metadata: { mode: '33188', note: 'x'.repeat(200 * KIB) } });
  // Four entries of about 200 KiB every 30 ms: the bound of 4 MiB waiting is passed in the sixth batch.
  const written: number[] = [];
  for (let batch = 0; batch < 8; batch++) {
    for (let i = 0; i < 4; i++) tier.set(key('head', `big/${batch}-${i}`), { value: big(`big/${batch}-${i}`), expiresAt: START + 60_000 });
    await pause(30);
    written.push(tier.stats().entries);
  }
  t.deepEqual(written.slice(0, 5), [0, 0, 0, 0, 0], 'under the bound, stores wait for a pause');
  t.true(written[7] > 0, `past it, they are written before the burst ends: ${written.join(', ')}`);
});
