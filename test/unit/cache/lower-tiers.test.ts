// Metadata tiers below memory: asked on a memory miss before the loader, filling the tiers
// above them, holding what loads answer with a wall-clock expiry, and dropping what
// invalidations drop.
import test from 'ava';
import { createCaches } from '../../../src/cache/caches.js';
import { decodeEntry, encodeEntry } from '../../../src/cache/entry-codec.js';
import type { LowerTier, StoredEntry } from '../../../src/cache/lower-tier.js';
import type { CacheKey, TierStats } from '../../../src/cache/types.js';
import { silentLogger } from '../../../src/log.js';
import { countingLoader, key, manualClock } from './fixture.js';

/** A lower tier in a map, holding encoded values as a disk or shared tier would. */
class MapTier implements LowerTier {
  readonly entries = new Map<string, { text: string; expiresAt: number; bucket: string; key: string }>();
  gets = 0;
  constructor(readonly name: string) {}
  async get(key: CacheKey): Promise<StoredEntry | undefined> {
    this.gets++;
    const held = this.entries.get(id(key));
    const value = held && decodeEntry(held.text);
    return value && { value, expiresAt: held.expiresAt };
  }
  set(key: CacheKey, entry: StoredEntry): void {
    this.entries.set(id(key), { text: encodeEntry(entry.value), expiresAt: entry.expiresAt, bucket: key.bucket, key: key.key });
  }
  dropKey(bucket: string, key: string): void {
    for (const [name, held] of this.entries) if (held.bucket === bucket && held.key === key) this.entries.delete(name);
  }
  dropUnder(bucket: string, prefix: string): void {
    for (const [name, held] of this.entries) if (held.bucket === bucket && held.key.startsWith(prefix)) this.entries.delete(name);
  }
  clear(): void {
    this.entries.clear();
  }
  stats(): TierStats {
    return { tier: this.name, entries: this.entries.size, bytes: 0, evictions: 0, expired: 0 };
  }
  async close(): Promise<void> {}
}

const id = (key: CacheKey) => `${key.op} ${key.bucket} ${key.key} ${key.params ?? ''}`;

function cachesOver(...lower: MapTier[]) {
  const clock = manualClock();
  const wall = manualClock(1_700_000_000_000);
  const advance = (ms: number) => {
    clock.advance(ms);
    wall.advance(ms);
  };
  const caches = createCaches({ ttlMs: 1_000, opTtlMs: {}, maxMetadataEntries: 100, maxContentBytes: 1_000, now: clock.now }, silentLogger(), {
    metadata: lower,
    wallNow: wall.now,
  });
  return { caches, advance, wallNow: wall.now };
}

test('a miss in memory is answered by a lower tier without the loader, and memory keeps it', async (t) => {
  const disk = new MapTier('metadata/disk');
  const { caches, wallNow } = cachesOver(disk);
  disk.set(key('dir', 'd/'), { value: { entries: new Map([['a', { mtime: new Date(5) }]]) }, expiresAt: wallNow() + 500 });
  const loader = countingLoader();
  const value = (await caches.metadata.fetch(key('dir', 'd/'), loader.load)) as unknown as { entries: Map<string, { mtime: Date }> };
  t.is(loader.calls(), 0);
  t.deepEqual(value.entries.get('a')?.mtime, new Date(5));
  t.truthy(caches.metadata.peek(key('dir', 'd/')), 'kept in memory');
  t.is(disk.gets, 1);
});

test('what a lower tier answers lives in memory only as long as it had left', async (t) => {
  const disk = new MapTier('metadata/disk');
  const { caches, advance, wallNow } = cachesOver(disk);
  disk.set(key('head', 'k'), { value: { v: 'old' }, expiresAt: wallNow() + 300 });
  await caches.metadata.fetch(key('head', 'k'), async () => ({ v: 'loaded' }));
  advance(299);
  t.truthy(caches.metadata.peek(key('head', 'k')));
  advance(2);
  t.is(caches.metadata.peek(key('head', 'k')), undefined);
  // Expired below as well: the loader answers.
  t.deepEqual(await caches.metadata.fetch(key('head', 'k'), async () => ({ v: 'loaded' })), { v: 'loaded' });
});

test('a loaded value goes down to every lower tier with its wall-clock expiry', async (t) => {
  const disk = new MapTier('metadata/disk');
  const shared = new MapTier('metadata/shared');
  const { caches, wallNow } = cachesOver(disk, shared);
  const loader = countingLoader();
  await caches.metadata.fetch(key('list', 'd/', ''), loader.load, { ttlMs: 700 });
  t.is(loader.calls(), 1);
  for (const tier of [disk, shared]) {
    const held = [...tier.entries.values()];
    t.is(held.length, 1);
    t.is(held[0].expiresAt, wallNow() + 700);
  }
  // Direct stores go down too.
  caches.metadata.set(key('head', 'x'), { v: 1 });
  t.is(disk.entries.size, 2);
});

test('a hit in a deeper tier fills the tiers above it', async (t) => {
  const disk = new MapTier('metadata/disk');
  const shared = new MapTier('metadata/shared');
  const { caches, wallNow } = cachesOver(disk, shared);
  shared.set(key('head', 'k'), { value: { v: 'shared' }, expiresAt: wallNow() + 500 });
  t.deepEqual(await caches.metadata.fetch(key('head', 'k'), async () => ({ v: 'loaded' })), { v: 'shared' });
  t.is(disk.entries.size, 1);
  t.is(disk.entries.values().next().value?.expiresAt, wallNow() + 500);
});

test('invalidations and clear reach the lower tiers', async (t) => {
  const disk = new MapTier('metadata/disk');
  const { caches } = cachesOver(disk);
  const loader = countingLoader();
  await caches.metadata.fetch(key('head', 'dir/a'), loader.load);
  await caches.metadata.fetch(key('dir', 'dir/'), loader.load);
  await caches.metadata.fetch(key('head', 'other'), loader.load);
  caches.invalidateKey('b', 'dir/a');
  t.is(disk.entries.size, 2);
  await caches.metadata.fetch(key('head', 'dir/a'), loader.load);
  t.is(loader.calls(), 4, 'fetched again, not answered from below');
  caches.invalidatePrefix('b', 'dir/');
  t.is(disk.entries.size, 1);
  caches.clear();
  t.is(disk.entries.size, 0);
});

test('a load overtaken by an invalidation is not kept below', async (t) => {
  const disk = new MapTier('metadata/disk');
  const { caches } = cachesOver(disk);
  let release!: () => void;
  const loading = caches.metadata.fetch(key('head', 'k'), () => new Promise<object>((resolve) => (release = () => resolve({ v: 'old' }))));
  await new Promise((resolve) => setImmediate(resolve));
  caches.invalidateKey('b', 'k');
  release();
  t.deepEqual(await loading, { v: 'old' });
  t.is(disk.entries.size, 0);
  t.is(caches.metadata.peek(key('head', 'k')), undefined);
});

test('lower tiers answer a hit in the counters; the loader is a miss', async (t) => {
  const disk = new MapTier('metadata/disk');
  const { caches, wallNow } = cachesOver(disk);
  disk.set(key('head', 'k'), { value: { v: 1 }, expiresAt: wallNow() + 500 });
  await caches.metadata.fetch(key('head', 'k'), async () => ({ v: 2 }));
  await caches.metadata.fetch(key('head', 'j'), async () => ({ v: 2 }));
  const { head } = caches.stats().byOp;
  t.is(head.hits, 1);
  t.is(head.misses, 1);
  t.deepEqual(
    caches.stats().tiers.map((tier) => tier.tier),
    ['metadata/memory', 'metadata/disk', 'blocks/memory'],
  );
});

test('the entry codec keeps dates, maps and bytes, and refuses what is not a well-formed object', (t) => {
  const value = { entries: new Map([['a', { type: 'file', mtime: new Date(1_700_000_000_123), size: 3 }]]), bytes: Buffer.from('hi'), when: new Date(0) };
  t.deepEqual(decodeEntry(encodeEntry(value)), value);
  for (const bad of ['', 'not json', '3', 'null', '"text"', '{"$date":"soon"}', '{"a":{"$map":[1,2]}}', '{"a":{"$b64":7}}']) {
    t.is(decodeEntry(bad), undefined, bad);
  }
});

test('an update in place reaches the lower tiers with the expiry it had; one memory does not hold drops them there', async (t) => {
  const disk = new MapTier('metadata/disk');
  const { caches, advance, wallNow } = cachesOver(disk);
  await caches.metadata.fetch(key('dir', 'd/'), async () => ({ names: ['a'] }));
  advance(400);
  caches.metadata.update<{ names: string[] }>(key('dir', 'd/'), (listing) => ({ names: [...listing.names, 'b'] }));
  const held = [...disk.entries.values()].find((entry) => entry.key === 'd/');
  t.is(held?.expiresAt, wallNow() + 600, 'the expiry of the answer it was learned from');
  t.deepEqual(decodeEntry(held?.text ?? ''), { names: ['a', 'b'] });

  // Held below only (another mount put it there, or memory let it go): it cannot be edited, so it goes.
  disk.set(key('dir', 'e/'), { value: { names: ['x'] }, expiresAt: wallNow() + 500 });
  t.is(
    caches.metadata.update(key('dir', 'e/'), (value) => value),
    undefined,
  );
  const loader = countingLoader();
  await caches.metadata.fetch(key('dir', 'e/'), loader.load);
  t.is(loader.calls(), 1, 'listed again rather than answered from the tier below');
});

test('recall answers from memory, else from a lower tier (kept in memory), and never loads', async (t) => {
  const disk = new MapTier('metadata/disk');
  const { caches, wallNow } = cachesOver(disk);
  t.is(await caches.metadata.recall(key('head', 'k', 'v1')), undefined, 'held nowhere: undefined, no loader to call');
  disk.set(key('head', 'k', 'v1'), { value: { v: 'disk' }, expiresAt: wallNow() + 500 });
  t.deepEqual(await caches.metadata.recall(key('head', 'k', 'v1')), { v: 'disk' });
  t.deepEqual(caches.metadata.peek(key('head', 'k', 'v1')), { v: 'disk' }, 'kept in memory');
  const gets = disk.gets;
  t.deepEqual(await caches.metadata.recall(key('head', 'k', 'v1')), { v: 'disk' });
  t.is(disk.gets, gets, 'the second recall is answered by memory');
  disk.set(key('head', 'old'), { value: { v: 'expired' }, expiresAt: wallNow() });
  t.is(await caches.metadata.recall(key('head', 'old')), undefined, 'an expired entry is not answered');
  t.is(caches.stats().byOp.head.misses, 0, 'a recall counts no miss: the fetch that follows does');
});

test('concurrent recalls of one key make one lookup below', async (t) => {
  const disk = new MapTier('metadata/disk');
  const { caches, wallNow } = cachesOver(disk);
  disk.set(key('head', 'k'), { value: { v: 1 }, expiresAt: wallNow() + 500 });
  const answers = await Promise.all([1, 2, 3].map(() => caches.metadata.recall(key('head', 'k'))));
  t.deepEqual(answers, [{ v: 1 }, { v: 1 }, { v: 1 }]);
  t.is(disk.gets, 1);
});

test('a recall overtaken by an invalidation answers nothing and keeps nothing', async (t) => {
  const disk = new MapTier('metadata/disk');
  const { caches, wallNow } = cachesOver(disk);
  disk.set(key('head', 'k'), { value: { v: 'old' }, expiresAt: wallNow() + 500 });
  let release!: () => void;
  const slowGet = disk.get.bind(disk);
  disk.get = async (cacheKey) => {
    await new Promise<void>((resolve) => (release = resolve));
    return slowGet(cacheKey);
  };
  const recalling = caches.metadata.recall(key('head', 'k'));
  await new Promise((resolve) => setImmediate(resolve));
  caches.invalidateKey('b', 'other');
  release();
  t.is(await recalling, undefined);
  t.is(caches.metadata.peek(key('head', 'k')), undefined);
});

test('an answer fetched or set memory-only is neither asked of nor written to the tiers below', async (t) => {
  const disk = new MapTier('metadata/disk');
  const { caches } = cachesOver(disk);
  const loader = countingLoader();
  t.deepEqual(await caches.metadata.fetch(key('head', 'a'), loader.load, { memoryOnly: true }), { n: 1 });
  t.is(disk.gets, 0);
  t.is(disk.entries.size, 0);
  caches.metadata.set(key('head', 'b'), { size: 2 }, { memoryOnly: true });
  t.is(disk.entries.size, 0);
  // Memory holds both; without the option the same fetch asks below and keeps it there.
  t.deepEqual(caches.metadata.peek(key('head', 'a')), { n: 1 });
  await caches.metadata.fetch(key('head', 'c'), loader.load);
  t.is(disk.gets, 1);
  t.is(disk.entries.size, 1);
});

test('a tier that knows it holds nothing under a key is not asked for it; one that may hold it is', async (t) => {
  const disk = new MapTier('metadata/disk');
  // Knows its entries, as the disk tier knows its rows.
  const knowing = Object.assign(disk, { mayHold: (cacheKey: CacheKey) => disk.entries.has(id(cacheKey)) });
  const { caches, wallNow } = cachesOver(knowing);
  t.is(await caches.metadata.recall(key('head', 'k', 'v1')), undefined);
  const loader = countingLoader();
  t.deepEqual(await caches.metadata.fetch(key('head', 'a'), loader.load), { n: 1 });
  t.is(disk.gets, 0, 'neither the recall nor the fetch asked below');
  t.is(caches.stats().byOp.head.misses, 1, 'the fetch counts its miss as before');
  disk.set(key('head', 'k', 'v2'), { value: { v: 'disk' }, expiresAt: wallNow() + 500 });
  t.deepEqual(await caches.metadata.recall(key('head', 'k', 'v2')), { v: 'disk' });
  t.is(disk.gets, 1);
});

test('the entry codec encodes as JSON.stringify would, dates, maps and bytes tagged, at any depth', (t) => {
  const value = {
    list: [new Date(5), undefined, { deep: new Map<string, unknown>([['k', [Buffer.from('x'), new Date(6)]]]) }],
    gone: undefined,
    url: new URL('http://h/p'),
    n: null,
  };
  const text = encodeEntry(value);
  t.is(text, '{"list":[{"$date":5},null,{"deep":{"$map":[["k",[{"$b64":"eA=="},{"$date":6}]]]}}],"url":"http://h/p","n":null}');
  t.deepEqual(decodeEntry(text), { list: [new Date(5), null, { deep: new Map([['k', [Buffer.from('x'), new Date(6)]]]) }], url: 'http://h/p', n: null });
});
