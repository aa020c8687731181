import test from 'ava';
import { block, cacheWith, key } from './fixture.js';

test('concurrent misses for one entry make one loader call', async (t) => {
  const { cache } = cacheWith();
  let calls = 0;
  const load = async () => {
    calls++;
    await new Promise((resolve) => setTimeout(resolve, 10));
    return { value: 42 };
  };
  const answers = await Promise.all(Array.from({ length: 10 }, () => cache.metadata.fetch(key('head', 'hot'), load)));
  t.is(calls, 1);
  t.true(answers.every((answer) => answer.value === 42));
  const stats = cache.stats().byOp.head;
  t.is(stats.misses, 1);
  t.is(stats.coalesced, 9);
});

test('an error reaches every waiter, is not cached, and the next fetch loads again', async (t) => {
  const { cache } = cacheWith();
  let calls = 0;
  const failing = async () => {
    calls++;
    await new Promise((resolve) => setTimeout(resolve, 5));
    throw new Error('SlowDown');
  };
  const results = await Promise.allSettled(Array.from({ length: 3 }, () => cache.metadata.fetch(key('list', 'p/'), failing)));
  t.true(results.every((result) => result.status === 'rejected'));
  t.is(calls, 1);
  t.is(cache.stats().byOp.list.loadErrors, 1);
  t.is(cache.stats().metadata.entries, 0);
  t.deepEqual(await cache.metadata.fetch(key('list', 'p/'), async () => ({ ok: true })), { ok: true });
});

test('a failure inside the cache is bypassed: the loader answers and the call succeeds', async (t) => {
  const { cache } = cacheWith();
  const value = await cache.metadata.fetch(key('head', 'o'), async () => Buffer.from('bytes'), {
    sizeOf: () => {
      throw new Error('broken size calculation');
    },
  });
  t.is(value.toString(), 'bytes');
  t.is(cache.stats().bypassed, 1);
});

test('has tells whether a fetch would load: not for a cached entry or one loading, counting nothing', async (t) => {
  const { cache } = cacheWith();
  t.false(cache.blocks.has(block('k')));
  let release!: () => void;
  const loading = cache.blocks.fetch(block('k'), () => new Promise<Buffer>((resolve) => (release = () => resolve(Buffer.from('bytes')))));
  t.true(cache.blocks.has(block('k')), 'a load in flight would be joined');
  release();
  await loading;
  t.true(cache.blocks.has(block('k')), 'now cached');
  const failing = cache.blocks.fetch(block('bad'), async () => Promise.reject(new Error('fault')));
  await t.throwsAsync(failing);
  t.false(cache.blocks.has(block('bad')), 'a failed load leaves nothing');
  const stats = cache.stats().byOp.block;
  t.is(stats.hits, 0);
  t.is(stats.misses, 2);
});
