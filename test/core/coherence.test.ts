// The core's side of coherence (issue 11): what the kernel asks again every second
// (--kernel-cache-ttl 1) stays cheap.
import test from 'ava';
import { errno, setupCore as setup } from '../support/core.js';

test('a directory known from its cached probe is looked up again without a HEAD', async (t) => {
  // No negative caching: a HEAD answering "no such key" is asked again every time.
  const { store, calls, fs } = setup({ negativeTtlMs: 0 });
  store.putObject('dir/a.txt', Buffer.from('a'));
  t.is((await fs.getattr('/dir')).mode & 0o170000, 0o040000);
  const heads = calls.head;
  for (let i = 0; i < 5; i++) t.is((await fs.getattr('/dir')).mode & 0o170000, 0o040000);
  t.is(calls.head, heads, 'the kernel looking the directory up again costs no HEAD');
});

test('a listing fetched again that shows another version than the cached HEAD answer is believed: the object is asked again', async (t) => {
  const { store, calls, fs, invalidation } = setup();
  store.putObject('dir/f', Buffer.from('AAAA'));
  await fs.readdir('/dir');
  t.is((await fs.getattr('/dir/f')).size, 4);
  // Another writer replaces it; `s3mount cache invalidate MOUNT/dir` drops the listing only.
  store.putObject('dir/f', Buffer.from('BBBBBB'));
  invalidation.changedPath('/dir', false, 'control');
  await fs.getattr('/dir');
  const heads = calls.head;
  await fs.readdir('/dir');
  t.is((await fs.getattr('/dir/f')).size, 6, 'ls -l shows the version the listing shows');
  t.is(calls.head - heads, 1, 'one HEAD of dir/f');
  t.is((await fs.getattr('/dir/f')).size, 6);
});

test('a change that finds its object removed by another writer (ENOENT) forgets it: ls and stat stop showing it at once', async (t) => {
  const { store, fs } = setup();
  for (const name of ['chmod', 'rename', 'keep']) store.putObject(`gone/${name}`, Buffer.from('x'));
  t.is((await fs.readdir('/gone')).length, 5);
  for (const name of ['chmod', 'rename']) {
    await fs.getattr(`/gone/${name}`);
    store.deleteObject(`gone/${name}`);
  }
  t.is(await errno(fs.chmod('/gone/chmod', 0o600)), 'ENOENT');
  t.is(await errno(fs.rename('/gone/rename', '/gone/renamed')), 'ENOENT');
  t.deepEqual((await fs.readdir('/gone')).map((entry) => entry.name).sort(), ['.', '..', 'keep']);
  for (const name of ['chmod', 'rename']) t.is(await errno(fs.getattr(`/gone/${name}`)), 'ENOENT', name);
});

test('a metadata change in the second of the upload shows once the TTL ran out, though ETag and Last-Modified stay', async (t) => {
  const TTL = 60_000;
  const cacheClock = { ms: 1_000_000 };
  // S3's clock and the mount's wall clock, the same here.
  let wall = 1_700_000_000_100;
  // "No such key" kept long: the directory's own lookup (is `dir` a file too?) asks nothing again.
  const options = { wallNow: () => wall, negativeTtlMs: 100 * TTL };
  const { store, calls, fs } = setup(options, { ttlMs: TTL, now: () => cacheClock.ms }, { now: () => new Date(wall) });
  store.putObject('dir/f', Buffer.from('abc'), { mode: String(0o100644) });
  await fs.readdir('/dir');
  wall += 100;
  t.is((await fs.getattr('/dir/f')).mode & 0o7777, 0o644);
  // Another writer's chmod (a copy onto itself, as s3fs makes right after an upload) in the
  // same second: the listing shows the same ETag and Last-Modified (to the second) as before.
  wall += 100;
  await store.copy('dir/f', 'dir/f', { metadata: { mode: String(0o100600) } });
  cacheClock.ms += TTL + 1;
  wall += TTL + 1;
  // As `ls -l` asks: the listing, then a stat of each entry.
  await fs.readdir('/dir');
  t.is((await fs.getattr('/dir/f')).mode & 0o7777, 0o600, 'the new mode, after the TTL');
  // A HEAD sent once that second was over (and a second more, for clocks apart) is kept for a
  // day: the object is not asked again when its listing expires.
  cacheClock.ms += TTL + 1;
  wall += TTL + 1;
  await fs.readdir('/dir');
  await fs.getattr('/dir/f');
  const heads = calls.head;
  cacheClock.ms += TTL + 1;
  wall += TTL + 1;
  await fs.readdir('/dir');
  t.is((await fs.getattr('/dir/f')).mode & 0o7777, 0o600);
  t.is(calls.head, heads, 'no HEAD of the unchanged version');
});
