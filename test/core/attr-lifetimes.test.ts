// What the core tells whoever keeps getattr answers outside it (the attribute cache in the FUSE
// binding): how long an answer known at once stays true, and every change no operation on the
// path brings (invalidations, changes held in memory that the bound pushed out).
import { constants } from 'node:fs';
import test from 'ava';
import type { AttrChange, AttrLifetime } from '../../src/fs/types.js';
import { setupCore as setup } from '../support/core.js';

const TTL = 60_000;

function clock() {
  const clock = { ms: 1_000_000, now: () => clock.ms };
  return clock;
}

test('an answer known from a cached listing lasts as long as the cache entries it comes from', async (t) => {
  const time = clock();
  const { store, fs } = setup({}, { ttlMs: TTL, now: time.now });
  store.putObject('dir/f', Buffer.from('abc'));
  await fs.readdir('/dir');
  time.ms += 10_000;
  // Its HEAD (what kind of object, mode, times) is asked now: remembered per version for a day.
  await fs.getattr('/dir/f');
  const lifetime: AttrLifetime = { ms: Number.POSITIVE_INFINITY };
  t.like(fs.attrIfKnown('/dir/f', lifetime), { size: 3 });
  t.is(lifetime.ms, TTL - 10_000, "the listing's time left");
  time.ms += 30_000;
  lifetime.ms = Number.POSITIVE_INFINITY;
  fs.attrIfKnown('/dir/f', lifetime);
  t.is(lifetime.ms, TTL - 40_000);
  time.ms += TTL;
  lifetime.ms = Number.POSITIVE_INFINITY;
  t.is(fs.attrIfKnown('/dir/f', lifetime), undefined, 'the listing expired');
  t.is(lifetime.ms, 0);
});

test('an answer getattr got from S3 lasts as long as the answer now known at once, when it is the same', async (t) => {
  const time = clock();
  const { store, fs } = setup({}, { ttlMs: TTL, now: time.now });
  store.putObject('dir/f', Buffer.from('abc'));
  await fs.readdir('/dir');
  time.ms += 5_000;
  const attr = await fs.getattr('/dir/f');
  t.is(fs.attrLifetimeMs('/dir/f', attr), TTL - 5_000);
  t.is(fs.attrLifetimeMs('/dir/f', { ...attr, size: 4 }), 0, 'not what the core answers now');
  t.is(fs.attrLifetimeMs('/dir/g', attr), 0, 'nothing known at once');
});

test('the attributes of a file being written are never kept', async (t) => {
  const { store, fs } = setup();
  store.putObject('dir/f', Buffer.from('abc'));
  await fs.readdir('/dir');
  await fs.getattr('/dir/f');
  const lifetime: AttrLifetime = { ms: Number.POSITIVE_INFINITY };
  fs.attrIfKnown('/dir/f', lifetime);
  t.true(lifetime.ms > 0);
  const handle = await fs.open('/dir/f', constants.O_WRONLY);
  lifetime.ms = Number.POSITIVE_INFINITY;
  t.like(fs.attrIfKnown('/dir/f', lifetime), { size: 3 });
  t.is(lifetime.ms, 0, 'open for writing');
  await fs.release(handle);
  const created = await fs.create('/dir/new', 0o644);
  lifetime.ms = Number.POSITIVE_INFINITY;
  t.like(fs.attrIfKnown('/dir/new', lifetime), { size: 0 });
  t.is(lifetime.ms, 0, 'created, not uploaded yet');
  await fs.release(created);
});

test('invalidations reach attribute watchers as mount paths, until they stop', (t) => {
  const { fs, invalidation } = setup({ prefix: 'm/' });
  const heard: AttrChange[] = [];
  const stop = fs.watchAttributes((change) => heard.push(change));
  invalidation.changed('m/dir/f');
  invalidation.changedTree('m/dir');
  invalidation.changedPath('/', false, 'control');
  invalidation.clear('control');
  invalidation.changed('elsewhere/f', 'remote');
  t.deepEqual(heard, [{ kind: 'path', path: '/dir/f' }, { kind: 'tree', path: '/dir' }, { kind: 'path', path: '/' }, { kind: 'all' }]);
  stop();
  invalidation.changed('m/dir/g');
  t.is(heard.length, 4);
});

test('a change held in memory that the bound pushes out reaches attribute watchers', async (t) => {
  const { store, fs } = setup({ maxLocalAttributes: 2 });
  for (const dir of ['d1', 'd2', 'd3']) store.putObject(`${dir}/keep`, Buffer.from(''));
  const heard: AttrChange[] = [];
  fs.watchAttributes((change) => heard.push(change));
  // Creating an entry moves its directory's times, held in memory.
  for (const dir of ['d1', 'd2', 'd3']) await fs.release(await fs.create(`/${dir}/x`, 0o644));
  // (The new files' uploads, which may run meanwhile, are invalidations of their own.)
  const uploads = (change: AttrChange) => change.kind === 'path' && change.path.endsWith('/x');
  t.deepEqual(
    heard.filter((change) => !uploads(change)),
    [{ kind: 'path', path: '/d1' }],
    "d1's times are S3's again",
  );
});
