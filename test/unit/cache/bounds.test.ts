import test from 'ava';
import { block, cacheWith, countingLoader, key } from './fixture.js';

test('metadata is bounded by entries, least recently used out first', async (t) => {
  const { cache } = cacheWith({ maxMetadataEntries: 3 });
  for (const name of ['a', 'b', 'c']) await cache.metadata.fetch(key('head', name), async () => ({ name }));
  await cache.metadata.fetch(key('head', 'a'), async () => ({ name: 'reloaded' }));
  await cache.metadata.fetch(key('head', 'd'), async () => ({ name: 'd' }));
  t.deepEqual(cache.metadata.peek(key('head', 'a')), { name: 'a' }, 'recently used a stays');
  t.is(cache.metadata.peek(key('head', 'b')), undefined, 'b was least recently used');
  t.truthy(cache.metadata.peek(key('head', 'c')));
  t.is(cache.stats().metadata.entries, 3);
  t.is(cache.stats().byOp.head.evictions, 1);
});

test('content is bounded by bytes', async (t) => {
  const { cache } = cacheWith({ maxContentBytes: 1_000 });
  for (let i = 0; i < 5; i++) await cache.blocks.fetch(block('obj', 'etag', i), async () => Buffer.alloc(300, i));
  const stats = cache.stats();
  t.is(stats.content.entries, 3);
  t.is(stats.content.bytes, 900);
  t.is(stats.byOp.block.evictions, 2);
  t.false(cache.blocks.has(block('obj', 'etag', 0)));
  t.is((await cache.blocks.fetch(block('obj', 'etag', 4), () => Promise.reject(new Error('not cached'))))[0], 4);
});

test('a value larger than the whole bound is returned but not kept', async (t) => {
  const { cache } = cacheWith({ maxContentBytes: 100 });
  const big = await cache.blocks.fetch(block('huge', 'e', 0), async () => Buffer.alloc(500));
  t.is(big.length, 500);
  t.is(cache.stats().content.entries, 0);
  t.is(cache.stats().content.bytes, 0);
});

test('configure shrinks bounds at once and changes TTLs for new entries', async (t) => {
  const { cache, clock } = cacheWith({ maxMetadataEntries: 10, maxContentBytes: 1_000, ttlMs: 1_000 });
  for (let i = 0; i < 10; i++) await cache.metadata.fetch(key('head', `k${i}`), async () => ({ i }));
  for (let i = 0; i < 3; i++) await cache.blocks.fetch(block('o', 'e', i), async () => Buffer.alloc(300));
  cache.configure({ maxMetadataEntries: 4, maxContentBytes: 600 });
  t.is(cache.stats().metadata.entries, 4);
  t.truthy(cache.metadata.peek(key('head', 'k9')), 'the most recent entries stay');
  t.is(cache.metadata.peek(key('head', 'k0')), undefined);
  t.is(cache.stats().content.bytes, 600);
  cache.configure({ ttlMs: 10_000 });
  const loader = countingLoader();
  await cache.metadata.fetch(key('head', 'fresh'), loader.load);
  clock.advance(5_000);
  await cache.metadata.fetch(key('head', 'fresh'), loader.load);
  t.is(loader.calls(), 1);
  t.is(cache.config.ttlMs, 10_000);
});
