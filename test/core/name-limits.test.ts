// Names and keys longer than Linux or S3 can hold: refused with ENAMETOOLONG when an entry is
// made (as a local disk refuses them), never stored under a name the mount could not show, and
// never left for S3 to refuse once the bytes are written. A lookup of a name too long is
// ENAMETOOLONG too, not "no such file".

import test from 'ava';
import { errno, setupCore } from '../support/core.js';

const LONG = 'n'.repeat(256);
/** Four directory levels of 250 bytes: keys below them have 1004 bytes (with the slashes) before the name. */
const DEEP = `/${['a', 'b', 'c', 'd'].map((letter) => letter.repeat(250)).join('/')}`;

async function mkdirs(fs: ReturnType<typeof setupCore>['fs'], path: string): Promise<void> {
  let at = '';
  for (const part of path.split('/').filter(Boolean)) {
    at += `/${part}`;
    await fs.mkdir(at, 0o755);
  }
}

test('a name over 255 bytes is ENAMETOOLONG for every way of making an entry, and for its lookup', async (t) => {
  const { fs, store } = setupCore();
  store.putObject('old.txt', 'kept');
  await fs.mkdir('/dir', 0o755);
  t.is(await errno(fs.getattr(`/${LONG}`)), 'ENAMETOOLONG');
  t.is(await errno(fs.create(`/${LONG}`, 0o644)), 'ENAMETOOLONG');
  t.is(await errno(fs.mkdir(`/${LONG}`, 0o755)), 'ENAMETOOLONG');
  t.is(await errno(fs.symlink('old.txt', `/${LONG}`)), 'ENAMETOOLONG');
  t.is(await errno(fs.mknod(`/${LONG}`, 0o010644, 0)), 'ENAMETOOLONG');
  t.is(await errno(fs.rename('/old.txt', `/${LONG}`)), 'ENAMETOOLONG');
  t.is(await errno(fs.rename('/dir', `/${LONG}`)), 'ENAMETOOLONG');
  // 255 bytes is a name like any other.
  const handle = await fs.create(`/${'n'.repeat(255)}`, 0o644);
  await fs.flush(handle);
  await fs.release(handle);
  t.deepEqual(store.keys().sort(), ['dir/', 'n'.repeat(255), 'old.txt'].sort());
});

test("a key over S3's 1,024 bytes is ENAMETOOLONG where it would be made; 1,024 is stored", async (t) => {
  const { fs, store } = setupCore();
  await mkdirs(fs, DEEP);
  // 1004 bytes before the name: a name of 20 makes a key of 1024.
  const fits = `${DEEP}/${'f'.repeat(20)}`;
  const handle = await fs.create(fits, 0o644);
  await fs.write(handle, Buffer.from('x'), 0);
  await fs.flush(handle);
  await fs.release(handle);
  t.true(store.keys().includes(fits.slice(1)));
  t.is(Buffer.byteLength(fits.slice(1)), 1024);
  const over = `${DEEP}/${'f'.repeat(21)}`;
  t.is(await errno(fs.create(over, 0o644)), 'ENAMETOOLONG');
  t.is(await errno(fs.symlink('x', over)), 'ENAMETOOLONG');
  t.is(await errno(fs.mknod(over, 0o010644, 0)), 'ENAMETOOLONG');
  t.is(await errno(fs.rename(fits, over)), 'ENAMETOOLONG');
  // A directory's key is its marker's, with the slash: 1023 bytes of path is 1024 of key.
  t.is(await errno(fs.mkdir(`${DEEP}/${'g'.repeat(20)}`, 0o755)), 'ENAMETOOLONG');
  await fs.mkdir(`${DEEP}/${'g'.repeat(19)}`, 0o755);
  t.true(store.keys().every((key) => Buffer.byteLength(key) <= 1024));
  t.true(store.keys().includes(fits.slice(1)), 'the file refused a new name keeps its own');
});

test('a directory rename that would push a key under it past 1,024 bytes moves nothing', async (t) => {
  const { fs, store } = setupCore();
  await mkdirs(fs, DEEP);
  const file = `${DEEP}/${'f'.repeat(18)}`;
  const handle = await fs.create(file, 0o644);
  await fs.flush(handle);
  await fs.release(handle);
  const before = store.keys().sort();
  // "a"×250 → "a"×253: the file's key would be 1025 bytes.
  t.is(await errno(fs.rename(`/${'a'.repeat(250)}`, `/${'a'.repeat(253)}`)), 'ENAMETOOLONG');
  t.deepEqual(store.keys().sort(), before);
  t.is((await fs.getattr(file)).size, 0);
  // Two bytes longer still fits: renamed whole.
  await fs.rename(`/${'a'.repeat(250)}`, `/${'a'.repeat(252)}`);
  t.true(store.keys().every((key) => key.startsWith('a'.repeat(252))));
});

test("a file, link or special file named like s3fs's `name_$folder$` marker is EPERM, a directory by that name is made", async (t) => {
  const { fs, store } = setupCore();
  store.putObject('old.txt', 'kept');
  await fs.mkdir('/dir', 0o755);
  const marker = '/dir/a_$folder$';
  // Stored, such an object reads back as the directory `a`: the entry would be nowhere to be seen.
  t.is(await errno(fs.create(marker, 0o644)), 'EPERM');
  t.is(await errno(fs.symlink('old.txt', marker)), 'EPERM');
  t.is(await errno(fs.mknod(marker, 0o010644, 0)), 'EPERM');
  t.is(await errno(fs.rename('/old.txt', marker)), 'EPERM');
  t.is(store.getObject('old.txt')?.toString(), 'kept', 'a refused rename moves nothing');
  t.deepEqual(
    store.keys().filter((key) => key.startsWith('dir/')),
    ['dir/'],
  );
  t.deepEqual(
    (await fs.readdir('/dir')).map((entry) => entry.name),
    ['.', '..'],
  );
  await fs.mkdir(marker, 0o755);
  await fs.rename('/dir/a_$folder$', '/dir/b_$folder$');
  t.deepEqual(
    (await fs.readdir('/dir')).map((entry) => entry.name),
    ['.', '..', 'b_$folder$'],
  );
  t.is((await fs.getattr('/dir/b_$folder$')).mode & 0o170000, 0o040000);
  // The suffix alone is an ordinary name (s3fs's rule needs a name before it).
  const handle = await fs.create('/dir/_$folder$', 0o644);
  await fs.release(handle);
  t.is((await fs.getattr('/dir/_$folder$')).mode & 0o170000, 0o100000);
});
