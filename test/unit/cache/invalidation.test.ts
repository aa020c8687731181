import test from 'ava';
import { block, cacheWith, countingLoader, key } from './fixture.js';

async function fill(cache: ReturnType<typeof cacheWith>['cache']) {
  await cache.metadata.fetch(key('head', 'dir/a'), async () => ({ v: 'head a' }));
  await cache.blocks.fetch(block('dir/a', 'e1', 0), async () => Buffer.from('block a'));
  await cache.blocks.fetch(block('dir/a', 'e2', 0), async () => Buffer.from('block a, other etag'));
  await cache.metadata.fetch(key('list', 'dir/', ''), async () => ({ v: 'page' }));
  await cache.metadata.fetch(key('dir', 'dir/'), async () => ({ v: 'listing' }));
  await cache.metadata.fetch(key('head', 'dir/sub/b'), async () => ({ v: 'head b' }));
  await cache.metadata.fetch(key('head', 'other'), async () => ({ v: 'other' }));
  await cache.metadata.fetch(key('head', 'dir/a', undefined, 'second-bucket'), async () => ({ v: 'other bucket' }));
}

test('invalidateKey drops every entry of that key, whatever its operation or ETag', async (t) => {
  const { cache } = cacheWith();
  await fill(cache);
  t.is(cache.invalidateKey('b', 'dir/a'), 3);
  t.is(cache.metadata.peek(key('head', 'dir/a')), undefined);
  t.false(cache.blocks.has(block('dir/a', 'e1', 0)));
  t.truthy(cache.metadata.peek(key('dir', 'dir/')), 'the directory listing is another key');
  t.truthy(cache.metadata.peek(key('head', 'dir/a', undefined, 'second-bucket')), 'other buckets are untouched');
  t.is(cache.invalidateKey('b', 'dir/'), 2);
  t.is(cache.metadata.peek(key('list', 'dir/', '')), undefined);
});

test('invalidatePrefix drops everything under it, and nothing else', async (t) => {
  const { cache } = cacheWith();
  await fill(cache);
  t.is(cache.invalidatePrefix('b', 'dir/'), 6);
  t.truthy(cache.metadata.peek(key('head', 'other')));
  t.truthy(cache.metadata.peek(key('head', 'dir/a', undefined, 'second-bucket')));
});

test("invalidating a bucket's whole prefix, and clear", async (t) => {
  const { cache } = cacheWith();
  await fill(cache);
  t.is(cache.invalidatePrefix('b', ''), 7);
  t.truthy(cache.metadata.peek(key('head', 'dir/a', undefined, 'second-bucket')));
  await fill(cache);
  cache.clear();
  t.is(cache.stats().metadata.entries, 0);
  t.is(cache.stats().content.entries, 0);
});

test('a load in flight when its key is invalidated answers its callers but is not kept', async (t) => {
  const { cache } = cacheWith();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const stale = cache.metadata.fetch(key('head', 'k'), async () => {
    await gate;
    return { v: 'before the change' };
  });
  cache.invalidateKey('b', 'k');
  const loader = countingLoader();
  const fresh = cache.metadata.fetch(key('head', 'k'), loader.load);
  release();
  t.deepEqual(await stale, { v: 'before the change' });
  t.deepEqual(await fresh, { n: 1 }, 'a fetch after the change does not join the old load');
  t.deepEqual(await cache.metadata.fetch(key('head', 'k'), loader.load), { n: 1 }, 'the fresh answer is the one kept');
});
