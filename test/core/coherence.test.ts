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
