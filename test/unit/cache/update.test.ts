// Values edited in place (a mount's own changes written into cached listings): they keep the
// expiry of what they were learned from, and win over loads that were on their way.
import test from 'ava';
import { cacheWith, countingLoader, key } from './fixture.js';

test('an updated value keeps the expiry of the one it replaces, so edits never extend what S3 said', async (t) => {
  const { cache, clock } = cacheWith({ ttlMs: 1_000 });
  await cache.metadata.fetch(key('dir', 'd/'), async () => ({ names: ['a'] }));
  clock.advance(600);
  t.is(cache.metadata.remainingTtl(key('dir', 'd/')), 400);
  const updated = cache.metadata.update<{ names: string[] }>(key('dir', 'd/'), (listing) => ({ names: [...listing.names, 'b'] }));
  t.deepEqual(updated, { names: ['a', 'b'] });
  t.deepEqual(cache.metadata.peek(key('dir', 'd/')), { names: ['a', 'b'] });
  clock.advance(399);
  t.truthy(cache.metadata.peek(key('dir', 'd/')), 'still fresh 1 ms before the first answer expires');
  clock.advance(2);
  t.is(cache.metadata.peek(key('dir', 'd/')), undefined, 'gone when the first answer would have gone');
});

test('updating a value that is not cached stores nothing', async (t) => {
  const { cache } = cacheWith();
  let called = false;
  t.is(
    cache.metadata.update(key('dir', 'd/'), (value) => {
      called = true;
      return value;
    }),
    undefined,
  );
  t.false(called);
  t.is(cache.metadata.peek(key('dir', 'd/')), undefined);
});

test('an update cancels a load of the same entry in flight and counts as an invalidation', async (t) => {
  const { cache } = cacheWith();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const stale = cache.metadata.fetch(key('dir', 'd/'), async () => {
    await gate;
    return { names: ['before the change'] };
  });
  const before = cache.metadata.invalidations;
  cache.metadata.update(key('dir', 'd/'), (value) => value);
  t.is(cache.metadata.invalidations, before + 1, 'callers deriving values from answers on their way see a change');
  release();
  t.deepEqual(await stale, { names: ['before the change'] }, 'the load answers its callers');
  t.is(cache.metadata.peek(key('dir', 'd/')), undefined, 'but its answer, older than the change, is not kept');
  const loader = countingLoader();
  await cache.metadata.fetch(key('dir', 'd/'), loader.load);
  t.is(loader.calls(), 1);
});

test('a value set directly wins over a load of the same entry still on its way', async (t) => {
  const { cache } = cacheWith();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const stale = cache.metadata.fetch(key('head', 'k'), async () => {
    await gate;
    return { v: 'asked before the upload' };
  });
  cache.metadata.set(key('head', 'k'), { v: 'what the upload stored' });
  release();
  await stale;
  t.deepEqual(cache.metadata.peek(key('head', 'k')), { v: 'what the upload stored' });
});
