// The lookup of a name that no cached listing holds and nothing is cached about: one LIST with
// the name as prefix and "/" as delimiter shows the object, the directory and s3fs's
// `name_$folder$` marker at once. A new name costs that LIST alone; what other writers made is
// still found; a page cut short, or an invalidation while the page was on its way, leaves the
// answer to the usual requests.

import test from 'ava';
import { NAME_PAGE_KEYS } from '../../src/fs/names/name-page.js';
import { errno, setupCore } from '../support/core.js';

type Fs = ReturnType<typeof setupCore>['fs'];

async function writeFile(fs: Fs, path: string, data: string): Promise<void> {
  const handle = await fs.create(path, 0o644);
  await fs.write(handle, Buffer.from(data), 0);
  await fs.flush(handle);
  await fs.release(handle);
}

const NEGATIVE_TTL = { negativeTtlMs: 60_000 };

test('a new name where no listing is cached costs one LIST, and the new file its PUT', async (t) => {
  const { calls, fs, settled } = setupCore(NEGATIVE_TTL);
  for (let i = 0; i < 8; i++) {
    const before = { ...calls };
    // The kernel looks the name up before creating it (open with O_CREAT), and again after.
    t.is(await errno(fs.getattr(`/new-${i}.bin`)), 'ENOENT');
    t.is(await errno(fs.getattr(`/new-${i}.bin`)), 'ENOENT');
    await writeFile(fs, `/new-${i}.bin`, `file ${i}`);
    t.is((await fs.getattr(`/new-${i}.bin`)).size, `file ${i}`.length);
    await settled();
    t.deepEqual({ head: calls.head - before.head, list: calls.list - before.list, put: calls.put - before.put }, { head: 0, list: 1, put: 1 }, `file ${i}`);
  }
});

test('the LIST of a name finds what other writers made, in the requests the usual lookup would make', async (t) => {
  const { store, calls, fs, settled } = setupCore(NEGATIVE_TTL);
  const meta = (mode: number) => ({ mode: String(mode), uid: '7', gid: '8', mtime: '1700000000' });
  store.putObject('file', 'bytes', meta(0o100600));
  store.putObject('marked/', '', meta(0o040700));
  store.putObject('marked/inside', 'i');
  store.putObject('implicit/inside', 'i');
  store.putObject('folder_$folder$', '', meta(0o040750));
  store.putObject('dirobject', '', meta(0o040710), { contentType: 'application/x-directory' });
  store.putObject('shadowed', 'file under a directory');
  store.putObject('shadowed/inside', 'i');
  // Other keys starting with the names, which the pages show too.
  for (const neighbour of ['file.bak', 'file2/x', 'marked.txt', 'folder-old', 'implicit_', 'dirobject0']) store.putObject(neighbour, 'n');

  const cases: Array<[string, string, number, number]> = [
    // name, what it is (type and mode), HEADs after the one LIST
    ['file', 'file 100600 7:8', 1, 1],
    ['marked', 'dir 40700 7:8', 1, 1],
    ['implicit', 'dir 40755 1000:1000', 1, 1],
    ['folder', 'dir 40750 7:8', 1, 1],
    ['dirobject', 'dir 40710 7:8', 1, 1],
    // A directory shadows the file: its marker is HEADed, and the file in case it is an s3fs directory object.
    ['shadowed', 'dir 40755 1000:1000', 1, 2],
  ];
  for (const [name, shown, lists, heads] of cases) {
    await settled();
    const before = { ...calls };
    const attr = await fs.getattr(`/${name}`);
    const isDir = (attr.mode & 0o170000) === 0o040000;
    t.is(`${isDir ? 'dir' : 'file'} ${attr.mode.toString(8)} ${attr.uid}:${attr.gid}`, shown, name);
    await settled();
    t.deepEqual({ list: calls.list - before.list, head: calls.head - before.head }, { list: lists, head: heads }, name);
    // Asked again: everything is cached, as after the usual lookup.
    const again = { ...calls };
    t.is((await fs.getattr(`/${name}`)).mode, attr.mode, `${name} again`);
    await settled();
    t.is(calls.list + calls.head - again.list - again.head, 0, `${name} again costs nothing`);
  }
  t.is((await fs.getattr('/file')).size, 5);
  t.deepEqual((await fs.readdir('/implicit')).map((entry) => entry.name).sort(), ['.', '..', 'inside']);
});

test('a name among more keys starting with it than one page holds is looked up the usual way', async (t) => {
  const { store, calls, fs, settled } = setupCore(NEGATIVE_TTL);
  for (let i = 0; i <= NAME_PAGE_KEYS; i++) store.putObject(`n${String(i).padStart(4, '0')}`, 'n');
  store.putObject('n_$folder$', '');
  const before = { ...calls };
  // The page, cut short, may not show n_$folder$: the HEAD of n and the probe of n/, then the HEAD of the marker, find it.
  const attr = await fs.getattr('/n');
  t.is(attr.mode & 0o170000, 0o040000);
  await settled();
  t.deepEqual({ list: calls.list - before.list, head: calls.head - before.head }, { list: 2, head: 2 });

  const missing = { ...calls };
  t.is(await errno(fs.getattr('/n0')), 'ENOENT');
  await settled();
  t.deepEqual({ list: calls.list - missing.list, head: calls.head - missing.head }, { list: 2, head: 2 });
});

test('without a negative TTL every lookup asks S3 again: a name created by another writer after its ENOENT is found', async (t) => {
  const { store, calls, fs } = setupCore({ negativeTtlMs: 0 });
  t.is(await errno(fs.getattr('/later')), 'ENOENT');
  store.putObject('later/inside', 'x');
  t.is((await fs.getattr('/later')).mode & 0o170000, 0o040000);
  t.is(await errno(fs.getattr('/gone')), 'ENOENT');
  const before = calls.list;
  t.is(await errno(fs.getattr('/gone')), 'ENOENT');
  t.is(calls.list - before, 1, 'not kept: listed again');
});

test('the answers of a name page on its way when the name was invalidated are not kept', async (t) => {
  const { store, faults, fs, invalidation } = setupCore(NEGATIVE_TTL);
  let answered!: () => void;
  const held = new Promise<void>((resolve) => (answered = resolve));
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  faults.afterCall = async (operation, key) => {
    if (operation !== 'list' || key !== 'raced') return;
    faults.afterCall = undefined;
    answered();
    await gate;
  };
  const racing = errno(fs.getattr('/raced'));
  await held;
  // Another writer creates the name and says so (an S3 event, another mount, cache invalidate)
  // after S3 answered the LIST and before the answer arrived.
  store.putObject('raced', 'new');
  invalidation.changed('raced', 'control');
  release();
  t.is(await racing, 'ENOENT', 'the answer of its time');
  t.is((await fs.getattr('/raced')).size, 3, 'not kept past the invalidation');
});
