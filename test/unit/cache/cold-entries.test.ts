// Large metadata entries left unused for a while are kept compressed in the memory tier and
// decoded on their next use; TTLs, invalidations and edits behave as for live entries, and an
// entry that does not decode is dropped, never answered. On a manual clock; sweeps are called.
import { randomBytes } from 'node:crypto';
import test from 'ava';
import { createMemoryCaches } from '../../../src/cache/caches.js';
import type { ColdCodec, ColdSettings } from '../../../src/cache/cold-codec.js';
import { MemoryTier } from '../../../src/cache/memory-tier.js';
import type { CacheConfig } from '../../../src/cache/types.js';
import { silentLogger } from '../../../src/log.js';
import { countingLoader, key, manualClock } from './fixture.js';

interface Items {
  items: string[];
}

const AFTER_MS = 10_000;
const MIN_BYTES = 1_000;

/** Weighs `{ items }` at 100 bytes an item; JSON as the encoding. `failDecode`/`failEncode` make it fail (throw). */
function jsonCodec(faults: { failDecode?: boolean; failEncode?: boolean } = {}): ColdCodec {
  return {
    weigh: (_op, value) => (Array.isArray((value as Items).items) ? (value as Items).items.length * 100 : undefined),
    encode: (_op, value) => {
      if (faults.failEncode) throw new Error('cannot encode');
      return Buffer.from(JSON.stringify(value));
    },
    decode: (_op, bytes) => {
      if (faults.failDecode) throw new Error('cannot decode');
      return JSON.parse(bytes.toString()) as object;
    },
  };
}

function coldCache(codec = jsonCodec(), config: Partial<CacheConfig> = {}) {
  const clock = manualClock();
  const cold: ColdSettings = { codec, afterMs: AFTER_MS, minBytes: MIN_BYTES, sweepMs: 0 };
  const cache = createMemoryCaches(
    { ttlMs: 60_000, opTtlMs: {}, maxMetadataEntries: 100, maxContentBytes: 1_000, now: clock.now, ...config },
    silentLogger(),
    cold,
  );
  const tier = () => {
    const stats = cache.stats().tiers.find((each) => each.tier === 'metadata/memory');
    if (!stats) throw new Error('no metadata tier');
    return stats;
  };
  return { cache, clock, tier };
}

/** A value of `n` items (100 bytes each by the codec), compressible. */
const items = (n: number, tag = 'x'): Items => ({ items: Array.from({ length: n }, (_, i) => `${tag}-item-${i}`) });

test('an entry unused for the cold time is kept compressed, counted at its compressed size, and comes back equal on use', async (t) => {
  const { cache, clock, tier } = coldCache();
  const dir = key('dir', 'big/');
  cache.metadata.set(dir, items(100));
  t.is(cache.compressIdle(), 0, 'just used: stays live');
  clock.advance(AFTER_MS);
  t.is(cache.compressIdle(), 1);
  const cold = tier();
  t.is(cold.compressedEntries, 1);
  t.is(cold.entries, 1, 'still one entry against the entry bound');
  t.true((cold.compressedBytes ?? 0) > 0 && (cold.compressedBytes ?? 0) < 100 * 100);
  t.is(cold.savedBytes, 100 * 100 - (cold.compressedBytes ?? 0));
  t.true(cache.metadata.has(dir));
  t.deepEqual(cache.metadata.peek(dir), items(100));
  const hot = tier();
  t.is(hot.compressedEntries, 0);
  t.is(hot.compressedBytes, 0);
  t.is(hot.savedBytes, 0);
  t.is(hot.decompressions, 1);
  // Used again: live, the same object on every use until it goes cold again.
  t.is(cache.metadata.peek(dir), cache.metadata.peek(dir));
  t.is(cache.compressIdle(), 0, 'used just now');
});

test('use refreshes an entry: only one unused for the whole cold time goes cold', async (t) => {
  const { cache, clock, tier } = coldCache();
  const used = key('dir', 'used/');
  const idle = key('dir', 'idle/');
  cache.metadata.set(used, items(50));
  cache.metadata.set(idle, items(50));
  clock.advance(AFTER_MS - 1);
  cache.metadata.peek(used);
  clock.advance(1);
  t.is(cache.compressIdle(), 1);
  t.is(tier().compressedEntries, 1);
  t.is(tier().decompressions, 0);
  // The fetch of the cold one is a hit: no loader call.
  const loader = countingLoader();
  t.deepEqual(await cache.metadata.fetch(idle, loader.load), items(50));
  t.is(loader.calls(), 0);
  t.is(tier().decompressions, 1);
});

test('an entry used since the last sweep counts as used at that sweep: never cold sooner than the cold time after its last use', async (t) => {
  const { cache, clock } = coldCache();
  const dir = key('dir', 'big/');
  cache.metadata.set(dir, items(100));
  clock.advance(AFTER_MS / 2);
  t.is(cache.compressIdle(), 0);
  clock.advance(1_000);
  cache.metadata.peek(dir);
  clock.advance(AFTER_MS / 2 - 1_000);
  t.is(cache.compressIdle(), 0, 'used 4 s ago, seen used now');
  clock.advance(AFTER_MS - 1);
  t.is(cache.compressIdle(), 0);
  clock.advance(1);
  t.is(cache.compressIdle(), 1, 'unused since the sweep that saw it used, the cold time ago');
});

test('small entries, values the codec does not weigh and entries that do not compress to half stay live', async (t) => {
  const incompressible: ColdCodec = { ...jsonCodec(), weigh: () => 10 };
  const { cache, clock, tier } = coldCache({ ...jsonCodec(), weigh: (op, value) => (op === 'head' ? undefined : jsonCodec().weigh(op, value)) });
  cache.metadata.set(key('dir', 'small/'), items(5));
  cache.metadata.set(key('head', 'big'), items(100));
  clock.advance(AFTER_MS);
  t.is(cache.compressIdle(), 0);
  t.is(tier().compressedEntries, 0);
  const other = coldCache({ ...incompressible, weigh: () => MIN_BYTES });
  other.cache.metadata.set(key('dir', 'random/'), { items: [randomBytes(1_500).toString('base64')] });
  other.clock.advance(AFTER_MS);
  t.is(other.cache.compressIdle(), 0, 'would not save half its weight');
  t.is(other.tier().compressedEntries, 0);
});

test('a cold entry expires when it would have: as a live entry stored at the same time', async (t) => {
  const { cache, clock, tier } = coldCache(jsonCodec(), { ttlMs: 30_000 });
  const dir = key('dir', 'big/');
  const twin = key('dir', 'small/');
  cache.metadata.set(dir, items(100));
  cache.metadata.set(twin, items(1));
  clock.advance(AFTER_MS);
  t.is(cache.compressIdle(), 1);
  t.is(cache.metadata.remainingTtl(dir), cache.metadata.remainingTtl(twin));
  clock.advance(30_000 - AFTER_MS);
  t.true(cache.metadata.has(twin));
  t.true(cache.metadata.has(dir));
  t.is(tier().compressedEntries, 1);
  clock.advance(1);
  t.false(cache.metadata.has(twin));
  t.false(cache.metadata.has(dir));
  t.is(cache.metadata.peek(dir), undefined, 'expired with its twin');
  t.is(tier().compressedEntries, 0, 'an expired cold entry no longer counts');
  t.is(tier().compressedBytes, 0);
});

test('an invalidated or cleared cold entry is gone: the next fetch loads', async (t) => {
  const { cache, clock, tier } = coldCache();
  const dir = key('dir', 'big/');
  const sub = key('dir', 'big/sub/');
  cache.metadata.set(dir, items(100));
  cache.metadata.set(sub, items(100));
  clock.advance(AFTER_MS);
  t.is(cache.compressIdle(), 2);
  cache.invalidateKey('b', 'big/');
  t.is(cache.metadata.peek(dir), undefined);
  t.is(tier().compressedEntries, 1);
  const loader = countingLoader();
  t.deepEqual(await cache.metadata.fetch(dir, loader.load), { n: 1 });
  cache.invalidatePrefix('b', 'big/');
  t.is(cache.metadata.peek(sub), undefined);
  t.is(tier().compressedEntries, 0);
  t.is(tier().savedBytes, 0);
  cache.metadata.set(dir, items(100));
  clock.advance(AFTER_MS);
  t.is(cache.compressIdle(), 1);
  cache.clear();
  t.is(cache.metadata.peek(dir), undefined);
  t.is(tier().compressedEntries, 0);
});

test('an edit of a cold entry edits what it held and keeps its expiry; the edit is what the next use sees, also after going cold again', async (t) => {
  const { cache, clock } = coldCache(jsonCodec(), { ttlMs: 60_000 });
  const dir = key('dir', 'big/');
  cache.metadata.set(dir, items(100));
  clock.advance(AFTER_MS);
  t.is(cache.compressIdle(), 1);
  const edited = cache.metadata.update<Items>(dir, (value) => {
    value.items.push('new');
    return value;
  });
  t.is(edited?.items.length, 101);
  t.is(cache.metadata.remainingTtl(dir), 60_000 - AFTER_MS, 'the expiry it had');
  t.deepEqual(cache.metadata.peek<Items>(dir)?.items.at(-1), 'new');
  t.is(cache.compressIdle(), 0, 'used since the last sweep');
  clock.advance(AFTER_MS);
  t.is(cache.compressIdle(), 1);
  // Edited in place while live, as listing edits do, then cold again.
  const again = cache.metadata.update<Items>(dir, (value) => {
    value.items.splice(0, 1);
    return value;
  });
  t.is(again?.items.length, 100);
  clock.advance(AFTER_MS);
  t.is(cache.compressIdle(), 1);
  t.deepEqual(cache.metadata.peek<Items>(dir), { items: [...items(100).items.slice(1), 'new'] });
});

test('an entry that does not decode is dropped and counted, never answered: the next fetch loads it', async (t) => {
  const faults = { failDecode: false };
  const { cache, clock, tier } = coldCache(jsonCodec(faults));
  const dir = key('dir', 'big/');
  cache.metadata.set(dir, items(100));
  clock.advance(AFTER_MS);
  t.is(cache.compressIdle(), 1);
  faults.failDecode = true;
  t.is(cache.metadata.peek(dir), undefined);
  t.false(cache.metadata.has(dir));
  t.is(tier().errors, 1);
  t.is(tier().entries, 0);
  t.is(tier().compressedEntries, 0);
  const loader = countingLoader();
  t.deepEqual(await cache.metadata.fetch(dir, loader.load), { n: 1 });
  t.is(loader.calls(), 1);
  t.is(cache.stats().bypassed, 0, 'a miss, not a failure of the cache');
});

test('an edit of a cold entry that does not decode edits nothing: the entry is dropped', async (t) => {
  const faults = { failDecode: false };
  const { cache, clock } = coldCache(jsonCodec(faults));
  const dir = key('dir', 'big/');
  cache.metadata.set(dir, items(100));
  clock.advance(AFTER_MS);
  cache.compressIdle();
  faults.failDecode = true;
  let called = false;
  t.is(
    cache.metadata.update<Items>(dir, (value) => {
      called = true;
      return value;
    }),
    undefined,
  );
  t.false(called);
  t.false(cache.metadata.has(dir));
});

test('an entry that cannot be encoded stays live and is not tried again', async (t) => {
  const { cache, clock, tier } = coldCache(jsonCodec({ failEncode: true }));
  const dir = key('dir', 'big/');
  cache.metadata.set(dir, items(100));
  clock.advance(AFTER_MS);
  t.is(cache.compressIdle(), 0);
  t.is(tier().errors, 1);
  t.deepEqual(cache.metadata.peek(dir), items(100));
  clock.advance(AFTER_MS);
  t.is(cache.compressIdle(), 0);
  t.is(tier().errors, 1, 'not tried again');
});

test('a cold entry pushed out by the entry bound or replaced by a set no longer counts', async (t) => {
  const { cache, clock, tier } = coldCache(jsonCodec(), { maxMetadataEntries: 2 });
  cache.metadata.set(key('dir', 'a/'), items(100));
  cache.metadata.set(key('dir', 'b/'), items(100));
  clock.advance(AFTER_MS);
  t.is(cache.compressIdle(), 2);
  cache.metadata.set(key('dir', 'b/'), items(20, 'y'));
  t.is(tier().compressedEntries, 1);
  cache.metadata.set(key('head', 'c'), { small: true });
  t.is(cache.metadata.peek(key('dir', 'a/')), undefined, 'evicted');
  t.is(tier().compressedEntries, 0);
  t.is(tier().compressedBytes, 0);
  t.deepEqual(cache.metadata.peek(key('dir', 'b/')), items(20, 'y'));
  cache.configure({ maxMetadataEntries: 1 });
  t.is(tier().compressedEntries, 0);
});

test('a memory tier bounded by bytes does not take cold settings (its bound would count the live size)', (t) => {
  const cold: ColdSettings = { codec: jsonCodec(), afterMs: 1, minBytes: 1, sweepMs: 0 };
  t.throws(() => new MemoryTier({ name: 'blocks/memory', boundBy: 'bytes', bound: 1_000, cold }), { message: /bounded by entries/ });
  t.notThrows(() => new MemoryTier({ name: 'metadata/memory', boundBy: 'entries', bound: 1_000, cold }));
});
