import test from 'ava';
import { cacheWith, countingLoader, key } from './fixture.js';

test('entries live for the default TTL, then load again and count as expired', async (t) => {
  const { cache, clock } = cacheWith({ ttlMs: 1_000 });
  const loader = countingLoader();
  t.deepEqual(await cache.metadata.fetch(key('head', 'a'), loader.load), { n: 1 });
  clock.advance(999);
  t.deepEqual(await cache.metadata.fetch(key('head', 'a'), loader.load), { n: 1 });
  clock.advance(2);
  t.deepEqual(await cache.metadata.fetch(key('head', 'a'), loader.load), { n: 2 });
  const stats = cache.stats().byOp.head;
  t.is(stats.hits, 1);
  t.is(stats.misses, 2);
  t.is(stats.expired, 1);
});

test('a per-operation TTL overrides the default, a per-entry TTL overrides both, ttlFor wins', async (t) => {
  const { cache, clock } = cacheWith({ ttlMs: 1_000, opTtlMs: { list: 5_000 } });
  const head = countingLoader();
  const list = countingLoader();
  const entry = countingLoader();
  const chosen = countingLoader();
  await cache.metadata.fetch(key('head', 'x'), head.load);
  await cache.metadata.fetch(key('list', 'x/'), list.load);
  await cache.metadata.fetch(key('head', 'y'), entry.load, { ttlMs: 10_000 });
  await cache.metadata.fetch(key('head', 'z'), chosen.load, { ttlMs: 10_000, ttlFor: () => 100 });
  clock.advance(2_000);
  await cache.metadata.fetch(key('head', 'x'), head.load);
  await cache.metadata.fetch(key('list', 'x/'), list.load);
  await cache.metadata.fetch(key('head', 'y'), entry.load);
  await cache.metadata.fetch(key('head', 'z'), chosen.load);
  t.is(head.calls(), 2, 'default TTL passed');
  t.is(list.calls(), 1, 'per-operation TTL still running');
  t.is(entry.calls(), 1, 'per-entry TTL still running');
  t.is(chosen.calls(), 2, 'ttlFor chose 100 ms');
  clock.advance(4_000);
  await cache.metadata.fetch(key('list', 'x/'), list.load);
  t.is(list.calls(), 2);
});

test('a TTL of 0 returns the value without keeping it', async (t) => {
  const { cache } = cacheWith();
  const loader = countingLoader();
  await cache.metadata.fetch(key('head', 'n'), loader.load, { ttlFor: () => 0 });
  await cache.metadata.fetch(key('head', 'n'), loader.load, { ttlFor: () => 0 });
  t.is(loader.calls(), 2);
  t.is(cache.stats().metadata.entries, 0);
});

test('peek answers only fresh entries and counts hits', async (t) => {
  const { cache, clock } = cacheWith({ ttlMs: 100 });
  t.is(cache.metadata.peek(key('dir', 'd/')), undefined);
  cache.metadata.set(key('dir', 'd/'), { listing: true });
  t.deepEqual(cache.metadata.peek(key('dir', 'd/')), { listing: true });
  clock.advance(101);
  t.is(cache.metadata.peek(key('dir', 'd/')), undefined);
  t.is(cache.stats().byOp.dir.hits, 1);
});
