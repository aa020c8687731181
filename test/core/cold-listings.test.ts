// A large directory's cached listing goes cold (kept compressed in memory) when unused for a
// while; whatever happens to it then (the mount's own changes written into it, another
// writer's change invalidating it, its TTL running out), the next `ls` and stat say what S3
// holds. On a manual clock; the sweep is called by the tests.
import test from 'ava';
import { COLD_AFTER_MS } from '../../src/cache/cold-codec.js';
import { setupCore } from '../support/core.js';
import { manualClock } from '../unit/cache/fixture.js';

type Core = ReturnType<typeof setupCore>;

// Above the size at which listings go cold (COLD_MIN_BYTES, at 370 bytes an entry).
const FILES = 1_000;

/** A core over a bucket holding `big/` with FILES files, its listing cached, then cold. */
async function coldListing(ttlMs = 3_600_000) {
  const clock = manualClock();
  const core = setupCore({}, { now: clock.now, ttlMs });
  for (let i = 0; i < FILES; i++) core.store.putObject(`big/f${String(i).padStart(4, '0')}`, `file ${i}`);
  await listed(core);
  await core.settled();
  coolDown(core, clock);
  return { ...core, clock };
}

/** A sweep (which sees what was used since the one before as used now), then the cold time. */
function coolDown(core: Core, clock: { advance(ms: number): void }): void {
  core.cache.compressIdle();
  clock.advance(COLD_AFTER_MS);
}

/** The names `ls big` shows. */
async function listed(core: Core): Promise<string[]> {
  return (await core.fs.readdir('/big')).map((entry) => entry.name).filter((name) => name !== '.' && name !== '..');
}

/** The names S3 holds under big/. */
function inBucket(core: Core): string[] {
  return core.store
    .keys()
    .filter((key) => key.startsWith('big/'))
    .map((key) => key.slice('big/'.length));
}

function memoryTier(core: Core) {
  const tier = core.cache.stats().tiers.find((each) => each.tier === 'metadata/memory');
  if (!tier) throw new Error('no metadata tier');
  return tier;
}

test('a cold listing answers ls again without S3, as it was, and is live again after', async (t) => {
  const core = await coldListing();
  const before = await listed(core);
  t.is((await core.fs.getattr('/big/f0500')).size, 'file 500'.length);
  await core.settled();
  coolDown(core, core.clock);
  t.is(core.cache.compressIdle(), 1);
  t.is(memoryTier(core).compressedEntries, 1);
  t.true((memoryTier(core).savedBytes ?? 0) > 0);
  const lists = core.calls.list;
  const heads = core.calls.head;
  t.deepEqual(await listed(core), before);
  t.is((await core.fs.getattr('/big/f0500')).size, 'file 500'.length);
  t.is(core.calls.list, lists, 'no LIST');
  t.is(core.calls.head, heads, 'no HEAD');
  t.is(memoryTier(core).compressedEntries, 0);
  t.is(memoryTier(core).decompressions, 1);
});

test("the mount's own changes to a cold listing are written into it: ls and stat say what S3 holds", async (t) => {
  const core = await coldListing();
  t.is(core.cache.compressIdle(), 1);
  const handle = await core.fs.create('/big/new', 0o644);
  await core.fs.write(handle, Buffer.from('new bytes'), 0);
  await core.fs.flush(handle);
  await core.fs.release(handle);
  await core.settled();
  t.is(core.cache.compressIdle(), 0, 'just edited: live');
  coolDown(core, core.clock);
  t.is(core.cache.compressIdle(), 1, 'cold again, with the new entry');
  await core.fs.unlink('/big/f0001');
  coolDown(core, core.clock);
  t.is(core.cache.compressIdle(), 1);
  await core.fs.rename('/big/f0002', '/big/renamed');
  await core.fs.mkdir('/big/sub', 0o755);
  coolDown(core, core.clock);
  t.is(core.cache.compressIdle(), 1);
  await core.settled();
  const lists = core.calls.list;
  t.deepEqual(
    (await listed(core)).sort(),
    inBucket(core)
      .map((name) => name.replace(/\/.*$/, ''))
      .sort(),
  );
  const names = await listed(core);
  t.true(names.includes('new') && names.includes('renamed') && names.includes('sub'));
  t.false(names.includes('f0001') || names.includes('f0002'));
  t.is(core.calls.list, lists, 'answered from the edited listing');
  t.is((await core.fs.getattr('/big/new')).size, 'new bytes'.length);
  t.is((await core.fs.getattr('/big/renamed')).size, 'file 2'.length);
});

test("another writer's change invalidating a cold listing: ls lists again and shows it", async (t) => {
  const core = await coldListing();
  t.is(core.cache.compressIdle(), 1);
  core.store.putObject('big/theirs', 'their bytes');
  core.store.deleteObject('big/f0003');
  core.invalidation.changed('big/theirs', 'remote');
  core.invalidation.changed('big/f0003', 'remote');
  t.is(memoryTier(core).compressedEntries, 0, 'the cold listing was dropped');
  const lists = core.calls.list;
  t.deepEqual((await listed(core)).sort(), inBucket(core).sort());
  t.true(core.calls.list > lists, 'listed again');
  t.is((await core.fs.getattr('/big/theirs')).size, 'their bytes'.length);
});

test('a cold listing expires with its TTL: ls then shows what another writer changed meanwhile', async (t) => {
  const ttlMs = 60_000;
  const core = await coldListing(ttlMs);
  t.is(core.cache.compressIdle(), 1);
  core.store.putObject('big/unannounced', 'x');
  t.false((await listed(core)).includes('unannounced'), 'within the TTL, the listing it had');
  coolDown(core, core.clock);
  t.is(core.cache.compressIdle(), 1);
  core.clock.advance(ttlMs - 2 * COLD_AFTER_MS + 1);
  t.deepEqual((await listed(core)).sort(), inBucket(core).sort());
  t.true((await listed(core)).includes('unannounced'));
});

test('cache clear drops a cold listing', async (t) => {
  const core = await coldListing();
  t.is(core.cache.compressIdle(), 1);
  core.store.putObject('big/later', 'x');
  core.invalidation.clear('control');
  t.is(memoryTier(core).compressedEntries, 0);
  t.true((await listed(core)).includes('later'));
});
