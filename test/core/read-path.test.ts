// The filesystem core over the in-memory store: no FUSE, no network.

import { constants } from 'node:fs';
import test from 'ava';
import { SlabPool } from '../../src/fs/read/slab-pool.js';
import { CORE_BLOCK, errno, readBytes, setupCore as setup } from '../support/core.js';
import { patternBytes } from '../support/pattern.js';

const BLOCK = CORE_BLOCK;

const names = (entries: Array<{ name: string }>) => entries.map((e) => e.name).sort();

test('files, markers, implicit directories and shadowing', async (t) => {
  const { store, fs } = setup();
  store.putObject('a.txt', Buffer.from('hello'));
  store.putObject('marker/', Buffer.alloc(0));
  store.putObject('deep/x/y.txt', Buffer.from('y'));
  store.putObject('clash', Buffer.from('file'));
  store.putObject('clash/inner', Buffer.from('inner'));
  t.deepEqual(names(await fs.readdir('/')), ['.', '..', 'a.txt', 'clash', 'deep', 'marker'].sort());
  const file = await fs.getattr('/a.txt');
  t.is(file.mode, 0o100644);
  t.is(file.size, 5);
  t.is(file.uid, 1000);
  t.is((await fs.getattr('/marker')).mode, 0o040755);
  t.is((await fs.getattr('/deep/x')).mode, 0o040755);
  t.is((await fs.getattr('/clash')).mode, 0o040755);
  t.is(await errno(fs.getattr('/nope')), 'ENOENT');
  t.is(await errno(fs.readdir('/a.txt')), 'ENOTDIR');
});

test('getattr after readdir: one HEAD per listed object, never two for one version, no LIST', async (t) => {
  const { store, calls, fs } = setup();
  for (let i = 0; i < 2500; i++) store.putObject(`dir/f${i}`, Buffer.from(String(i)));
  const headCalls = calls.head;
  await fs.readdir('/dir');
  const listCalls = calls.list;
  for (let i = 0; i < 2500; i++) t.is((await fs.getattr(`/dir/f${i}`)).size, String(i).length);
  t.is(await errno(fs.getattr('/dir/missing')), 'ENOENT');
  t.is(calls.head - headCalls, 1 + 2500, 'the lookup of dir; listings carry no metadata: each object HEADed once');
  t.is(calls.list, listCalls);
});

test('a listing of 2,500 keys takes three pages', async (t) => {
  const { store, calls, fs } = setup();
  for (let i = 0; i < 2500; i++) store.putObject(`dir/f${String(i).padStart(4, '0')}`, Buffer.from('x'));
  store.putObject('dir/sub/deeper', Buffer.from('x'));
  const before = calls.list;
  const entries = await fs.readdir('/dir');
  t.is(entries.length, 2 + 2500 + 1);
  // The directory's own getattr used a one-key probe; the listing itself three pages.
  t.is(calls.list - before, 1 + 3);
  t.is(entries.find((e) => e.name === 'sub')?.mode, 0o040755);
});

test('names that cannot be file names are left out', async (t) => {
  const { store, fs } = setup();
  store.putObject('w//double', Buffer.from('x'));
  store.putObject('w/./dot', Buffer.from('x'));
  store.putObject('w/../up', Buffer.from('x'));
  store.putObject(`w/${'n'.repeat(256)}`, Buffer.from('x'));
  store.putObject('w/ok', Buffer.from('x'));
  t.deepEqual(names(await fs.readdir('/w')), ['.', '..', 'ok']);
});

test('a mount prefix is the root', async (t) => {
  const { store, fs } = setup({ prefix: 'p/q/' });
  store.putObject('p/q/in.txt', Buffer.from('in'));
  store.putObject('p/out.txt', Buffer.from('out'));
  t.deepEqual(names(await fs.readdir('/')), ['.', '..', 'in.txt']);
  const handle = await fs.open('/in.txt', constants.O_RDONLY);
  t.is((await readBytes(fs, handle, 0, 100)).toString(), 'in');
});

test('reads return exact bytes across blocks and fetch only the blocks touched', async (t) => {
  const { store, calls, fs } = setup();
  const bytes = patternBytes(10 * BLOCK + 123, 3);
  store.putObject('big', bytes);
  const handle = await fs.open('/big', constants.O_RDONLY);
  const before = calls.getRange;
  const middle = await readBytes(fs, handle, 3 * BLOCK + 10, 2 * BLOCK);
  t.true(middle.equals(bytes.subarray(3 * BLOCK + 10, 5 * BLOCK + 10)));
  t.is(calls.getRange - before, 1, 'one GET for the three blocks');
  const tail = await readBytes(fs, handle, 10 * BLOCK, 4096);
  t.is(tail.length, 123);
  t.true(tail.equals(bytes.subarray(10 * BLOCK)));
  t.is((await readBytes(fs, handle, bytes.length + 10, 10)).length, 0);
  // Blocks already read are served from the cache.
  const again = calls.getRange;
  await readBytes(fs, handle, 3 * BLOCK, BLOCK);
  t.is(calls.getRange, again);
  await fs.release(handle);
  t.is(await errno(readBytes(fs, handle, 0, 1)), 'EBADF');
});

test('concurrent reads of one block make one GET', async (t) => {
  const { store, calls, fs } = setup();
  store.putObject('f', patternBytes(BLOCK, 1));
  const handle = await fs.open('/f', constants.O_RDONLY);
  const before = calls.getRange;
  await Promise.all(Array.from({ length: 10 }, (_, i) => readBytes(fs, handle, i * 100, 100)));
  t.is(calls.getRange - before, 1);
});

test('sequential reads prefetch ahead', async (t) => {
  const { store, calls, settled, fs } = setup({ maxPrefetchBlocks: 4 });
  const bytes = patternBytes(16 * BLOCK, 9);
  store.putObject('seq', bytes);
  const handle = await fs.open('/seq', constants.O_RDONLY);
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += 128 * 1024) chunks.push(await readBytes(fs, handle, offset, 128 * 1024));
  t.true(Buffer.concat(chunks).equals(bytes));
  // Counted once the prefetches the reads started are over, not while they may still be going.
  await settled();
  // Prefetches ask for several blocks per GET, and no block is fetched twice.
  t.true(calls.getRange < 16, `${calls.getRange} GETs for 16 blocks`);
  t.true(calls.getRange >= 4);
});

test('an object replaced under an open handle: read whole in its new version before the first byte, EIO after', async (t) => {
  const { store, fs } = setup();
  store.putObject('v', Buffer.from('version one'));
  const handle = await fs.open('/v', constants.O_RDONLY);
  store.putObject('v', Buffer.from('version two!'));
  // No byte served yet: the handle moves to the version S3 holds now, size included.
  t.is((await readBytes(fs, handle, 0, 100)).toString(), 'version two!');
  t.is((await fs.getattr('/v')).size, 12);
  // Bytes of a version served, then replaced: never a mix of two versions.
  const big = (fill: string) => Buffer.alloc(2 * CORE_BLOCK, fill);
  store.putObject('w', big('a'));
  const reader = await fs.open('/w', constants.O_RDONLY);
  t.true((await readBytes(fs, reader, 0, 100)).equals(big('a').subarray(0, 100)));
  store.putObject('w', big('b'));
  t.is(await errno(readBytes(fs, reader, CORE_BLOCK, 100)), 'EIO');
  const reopened = await fs.open('/w', constants.O_RDONLY);
  t.true((await readBytes(fs, reopened, CORE_BLOCK, 100)).equals(big('b').subarray(0, 100)));
});

test('a handle opened on a version the mount served before may get its bytes from the kernel pages: a replacement is EIO to it, not a mix', async (t) => {
  const { store, fs, invalidation } = setup();
  store.putObject('p', Buffer.from('0123456789'));
  const first = await fs.open('/p', constants.O_RDONLY);
  t.is((await readBytes(fs, first, 0, 100)).toString(), '0123456789');
  await fs.release(first);
  // cat again: libfuse's auto_cache keeps the kernel's pages (same size and mtime), so this
  // handle's first bytes ("0123") come from them and never reach the mount.
  const second = await fs.open('/p', constants.O_RDONLY);
  store.putObject('p', Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZ'));
  invalidation.changedPath('/p', false, 'control');
  // The kernel, seeing the new size and mtime, drops its pages and asks for the rest.
  t.is(await errno(readBytes(fs, second, 0, 100)), 'EIO');
  const third = await fs.open('/p', constants.O_RDONLY);
  t.is((await readBytes(fs, third, 0, 100)).toString(), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ');
});

test('a file replaced by a rename through the mount opens at once: the kernel has no pages of the old version under that name', async (t) => {
  // A kernel TTL of an hour: an open that waited for the kernel to forget would not end here.
  const { store, fs } = setup({ kernelTtlMs: 3_600_000 });
  store.putObject('target', Buffer.from('old bytes'));
  const reader = await fs.open('/target', constants.O_RDONLY);
  t.is((await readBytes(fs, reader, 0, 100)).toString(), 'old bytes');
  await fs.release(reader);
  // mv tmp target, as sed -i, editors and git's lock files replace a file.
  const writer = await fs.create('/tmp.txt', 0o644);
  await fs.write(writer, Buffer.from('new'), 0);
  await fs.flush(writer);
  await fs.release(writer);
  await fs.rename('/tmp.txt', '/target');
  const waited = new Promise<'waited'>((resolve) => setTimeout(() => resolve('waited'), 10_000).unref());
  const opened = await Promise.race([fs.open('/target', constants.O_RDONLY), waited]);
  if (opened === 'waited') return t.fail('the open waited for the kernel to forget pages it cannot hold');
  t.is((await readBytes(fs, opened, 0, 100)).toString(), 'new');
  await fs.release(opened);
});

test('a file rewritten in place through the mount while a handle reads it: the reader reads on in the new bytes, as on a local disk', async (t) => {
  const { store, fs } = setup();
  const big = (fill: string) => Buffer.alloc(3 * CORE_BLOCK, fill);
  store.putObject('rw', big('a'));
  const reader = await fs.open('/rw', constants.O_RDONLY);
  t.true((await readBytes(fs, reader, 0, 100)).equals(big('a').subarray(0, 100)));
  // cp onto it: open with O_TRUNC, write, close (one file, not a replacement).
  const writer = await fs.open('/rw', constants.O_WRONLY | constants.O_TRUNC);
  await fs.write(writer, big('b'), 0);
  await fs.flush(writer);
  await fs.release(writer);
  t.true((await readBytes(fs, reader, 2 * CORE_BLOCK, 100)).equals(big('b').subarray(0, 100)), 'no EIO: the rewrite');
  // chmod copies the object onto itself (a new ETag, the same bytes): the reader goes on.
  await fs.chmod('/rw', 0o600);
  t.true((await readBytes(fs, reader, CORE_BLOCK, 100)).equals(big('b').subarray(0, 100)), 'no EIO after chmod');
  // A replacement from outside still fails a handle that returned bytes.
  const other = await fs.open('/rw', constants.O_RDONLY);
  t.is((await readBytes(fs, other, 0, 1)).toString(), 'b');
  store.putObject('rw', big('c'));
  t.is(await errno(readBytes(fs, other, 2 * CORE_BLOCK + 1, 100)), 'EIO');
});

test('a reader of a file also open for writing follows its hiding (rm while open) and its unlink: no EIO', async (t) => {
  const { store, fs } = setup();
  const big = (fill: string) => Buffer.alloc(3 * CORE_BLOCK, fill);
  for (const name of ['hidden', 'unlinked']) {
    store.putObject(`both/${name}`, big('a'));
    const reader = await fs.open(`/both/${name}`, constants.O_RDONLY);
    t.is((await readBytes(fs, reader, 0, 1)).toString(), 'a');
    const writer = await fs.open(`/both/${name}`, constants.O_WRONLY);
    await fs.write(writer, Buffer.from('b'), 0);
    // What libfuse sends for `rm` when it counted the opens, and when it had not yet.
    if (name === 'hidden') await fs.rename(`/both/${name}`, '/both/.fuse_hidden0007');
    else await fs.unlink(`/both/${name}`);
    t.true((await readBytes(fs, reader, 2 * CORE_BLOCK, 100)).equals(big('a').subarray(0, 100)), `${name}: the reader reads on`);
    await fs.release(writer);
    await fs.release(reader);
    if (name === 'hidden') await fs.unlink('/both/.fuse_hidden0007');
    t.deepEqual(
      store.keys().filter((key) => key.startsWith('both/')),
      [],
      `${name}: nothing left`,
    );
  }
});

test('a file replaced by a rename while open for reading (libfuse had not counted the open) reads whole', async (t) => {
  const { store, fs } = setup();
  const bytes = patternBytes(3 * CORE_BLOCK, 11);
  store.putObject('over/target', bytes);
  store.putObject('over/source', Buffer.from('the new file'));
  const reader = await fs.open('/over/target', constants.O_RDONLY);
  await fs.rename('/over/source', '/over/target');
  t.is((await fs.getattr('/over/target')).size, 12);
  t.true((await readBytes(fs, reader, 0, 4 * CORE_BLOCK)).equals(bytes), 'the old file, whole');
  await fs.release(reader);
  t.deepEqual(
    store.keys().filter((key) => key.startsWith('over/')),
    ['over/target'],
  );
  t.is(store.getObject('over/target')?.toString(), 'the new file');
});

test('a rename followed while the first read is under way: the handle reads on from the new name', async (t) => {
  const { store, faults, fs } = setup();
  const bytes = patternBytes(3 * CORE_BLOCK, 12);
  store.putObject('mv/a', bytes);
  const reader = await fs.open('/mv/a', constants.O_RDONLY);
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  let holding = false;
  faults.afterCall = async (operation, key) => {
    if (operation === 'getRange' && key === 'mv/a' && !holding) {
      holding = true;
      await held;
    }
  };
  const first = readBytes(fs, reader, 0, 100);
  while (!holding) await new Promise((resolve) => setImmediate(resolve));
  // libfuse hides the file (rm while open) while the first read's answer is on its way.
  await fs.rename('/mv/a', '/mv/.fuse_hidden0009');
  release();
  t.true((await first).equals(bytes.subarray(0, 100)));
  t.true((await readBytes(fs, reader, 2 * CORE_BLOCK, 100)).equals(bytes.subarray(2 * CORE_BLOCK, 2 * CORE_BLOCK + 100)), 'no EIO');
});

test('a handle moved to a shorter version answers short only where the new end is, and EIO past it', async (t) => {
  const { store, fs } = setup();
  store.putObject('s', Buffer.alloc(4 * CORE_BLOCK, 'o'));
  const handle = await fs.open('/s', constants.O_RDONLY);
  store.putObject('s', Buffer.from('short'));
  // The kernel, still holding the old size, sends read-ahead requests in parallel: the one
  // past the new end must not answer short (the kernel would take its offset as the end).
  const [past, first] = await Promise.all([errno(readBytes(fs, handle, 2 * CORE_BLOCK, CORE_BLOCK)), readBytes(fs, handle, 0, CORE_BLOCK)]);
  t.is(first.toString(), 'short');
  t.is(past, 'EIO');
  t.is((await readBytes(fs, handle, 5, 100)).length, 0, 'the read at the new end answers nothing');
  // A handle opened on the new version reads past its end as usual.
  const fresh = await fs.open('/s', constants.O_RDONLY);
  t.is((await readBytes(fs, fresh, CORE_BLOCK, 100)).length, 0);
});

test('an object removed by another writer behind a cached listing: reads are EIO, and the name leaves the listing', async (t) => {
  const { store, fs } = setup();
  const bytes = Buffer.alloc(2 * CORE_BLOCK, 'a');
  store.putObject('gone/read', bytes);
  store.putObject('gone/unread', bytes);
  store.putObject('gone/stays', 'x');
  t.deepEqual(names(await fs.readdir('/gone')), ['.', '..', 'read', 'stays', 'unread']);
  const reader = await fs.open('/gone/read', constants.O_RDONLY);
  t.true((await readBytes(fs, reader, 0, 100)).equals(bytes.subarray(0, 100)));
  const unread = await fs.open('/gone/unread', constants.O_RDONLY);
  store.deleteObject('gone/read');
  store.deleteObject('gone/unread');
  // The GET with the version's ETag finds no key: a read(2) error, not ENOENT, whether the
  // handle served bytes already or not (there is no version to move to).
  t.is(await errno(readBytes(fs, reader, CORE_BLOCK, 100)), 'EIO');
  t.is(await errno(readBytes(fs, unread, 0, 100)), 'EIO');
  // The listing that still named them was dropped: the next lookup and listing ask S3.
  t.deepEqual(names(await fs.readdir('/gone')), ['.', '..', 'stays']);
  t.is(await errno(fs.getattr('/gone/read')), 'ENOENT');
});

test('a file renamed while open for reading (as libfuse hides one removed while open) reads on whole from its new name', async (t) => {
  const { store, fs } = setup();
  const bytes = Buffer.from(Array.from({ length: 3 * CORE_BLOCK }, (_, i) => i % 251));
  store.putObject('hide/open', bytes);
  store.putObject('hide/fresh', bytes);
  const started = await fs.open('/hide/open', constants.O_RDONLY);
  t.true((await readBytes(fs, started, 0, 100)).equals(bytes.subarray(0, 100)));
  const unread = await fs.open('/hide/fresh', constants.O_RDONLY);
  // What `rm` of an open file does through libfuse 2: a rename to a hidden name.
  await fs.rename('/hide/open', '/hide/.fuse_hidden0001');
  await fs.rename('/hide/fresh', '/hide/.fuse_hidden0002');
  t.is(store.getObject('hide/open'), undefined);
  t.true((await readBytes(fs, started, CORE_BLOCK, 3 * CORE_BLOCK)).equals(bytes.subarray(CORE_BLOCK)), 'a handle that returned bytes reads the rest');
  t.true((await readBytes(fs, unread, 0, 3 * CORE_BLOCK)).equals(bytes), 'a handle that had read nothing reads it all');
});

test('a file opened for reading, rewritten through the mount before any byte was read, then hidden (rm while open): the handle reads the rewrite', async (t) => {
  const { store, fs } = setup();
  store.putObject('hide/rewritten', Buffer.from('the first version'));
  const reader = await fs.open('/hide/rewritten', constants.O_RDONLY);
  // Another process copies a new version onto the name (cp truncates and writes the same file).
  const writer = await fs.open('/hide/rewritten', constants.O_WRONLY | constants.O_TRUNC);
  await fs.write(writer, Buffer.from('the second, longer version'), 0);
  await fs.flush(writer);
  await fs.release(writer);
  // A third removes the name while the reader holds it open: libfuse hides it.
  await fs.rename('/hide/rewritten', '/hide/.fuse_hidden0003');
  t.is((await readBytes(fs, reader, 0, 100)).toString(), 'the second, longer version', 'as a local disk: the rewrite, whole, no EIO');
});

test('a file unlinked while open for reading (libfuse had not counted the open yet) reads whole; removed at its last release', async (t) => {
  const { store, fs } = setup();
  const bytes = patternBytes(3 * CORE_BLOCK + 5, 13);
  store.putObject('race/f', bytes);
  store.putObject('race/other', Buffer.from('x'));
  const reader = await fs.open('/race/f', constants.O_RDONLY);
  // The unlink comes as a real unlink, not libfuse's rename to a hidden name.
  await fs.unlink('/race/f');
  t.is(await errno(fs.getattr('/race/f')), 'ENOENT', 'the name is gone at once');
  t.true((await readBytes(fs, reader, 0, 4 * CORE_BLOCK)).equals(bytes), 'as a local disk: the open file reads whole, no EIO');
  await fs.release(reader);
  t.deepEqual(
    store.keys().filter((key) => key.startsWith('race/')),
    ['race/other'],
    'the hidden copy is removed at the last release',
  );
  t.deepEqual(names(await fs.readdir('/race')), ['.', '..', 'other']);
});

test('an unlink that arrives while an open of the same name is still answering waits for it, and the new handle reads whole', async (t) => {
  const { store, faults, fs } = setup();
  store.putObject('race/g', Buffer.from('the bytes of g'));
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  let holding = false;
  faults.beforeCall = async (operation, key) => {
    if (key === 'race/g' && (operation === 'head' || operation === 'list') && !holding) {
      holding = true;
      await held;
    }
  };
  const opening = fs.open('/race/g', constants.O_RDONLY);
  while (!holding) await new Promise((resolve) => setImmediate(resolve));
  const unlinking = fs.unlink('/race/g');
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.truthy(store.getObject('race/g'), 'the unlink waits for the open under way');
  release();
  const handle = await opening;
  await unlinking;
  t.is((await readBytes(fs, handle, 0, 100)).toString(), 'the bytes of g');
  await fs.release(handle);
  t.deepEqual(
    store.keys().filter((key) => key.startsWith('race/')),
    [],
  );
});

test('a read-only mount refuses every change with EROFS', async (t) => {
  const { store, calls, fs } = setup({ readOnly: true });
  store.putObject('r', Buffer.from('r'));
  t.is(await errno(fs.open('/r', constants.O_WRONLY)), 'EROFS');
  t.is(await errno(fs.open('/r', constants.O_RDONLY | constants.O_TRUNC)), 'EROFS');
  t.is(await errno(fs.access('/r', constants.W_OK)), 'EROFS');
  t.is(await errno(fs.access('/r', constants.R_OK)), 'no error');
  t.is(await errno(fs.open('/', constants.O_RDONLY)), 'EISDIR');
  t.is(await errno(fs.create('/new', 0o644)), 'EROFS');
  t.is(await errno(fs.unlink('/r')), 'EROFS');
  t.is(await errno(fs.mkdir('/d', 0o755)), 'EROFS');
  t.is(await errno(fs.rename('/r', '/s')), 'EROFS');
  t.is(await errno(fs.chmod('/r', 0o600)), 'EROFS');
  t.is(await errno(fs.truncate('/r', 0)), 'EROFS');
  t.is(await errno(fs.symlink('r', '/l')), 'EROFS');
  t.is(calls.put + calls.delete + calls.copy, 0);
});

test('S3 failures map to errno and are not cached', async (t) => {
  const { store, faults, fs } = setup();
  store.putObject('x', Buffer.from('x'));
  // The lookup of a name nothing is cached about lists the name, then HEADs what it found.
  faults.failNext('list', 'AccessDenied');
  t.is(await errno(fs.getattr('/x')), 'EACCES');
  faults.failNext('head', 'AccessDenied');
  t.is(await errno(fs.getattr('/x')), 'EACCES');
  faults.failNext('head', 'Other');
  t.is(await errno(fs.getattr('/x')), 'EIO');
  t.is((await fs.getattr('/x')).size, 1);
});

test('negative answers are cached only when a negative TTL is set', async (t) => {
  const off = setup({ negativeTtlMs: 0 });
  await errno(off.fs.getattr('/later'));
  off.store.putObject('later', Buffer.from('now'));
  t.is((await off.fs.getattr('/later')).size, 3);

  const on = setup({ negativeTtlMs: 60_000 });
  await errno(on.fs.getattr('/later'));
  on.store.putObject('later', Buffer.from('now'));
  t.is(await errno(on.fs.getattr('/later')), 'ENOENT');
});

test("opening a directory's files in listing order fetches the next ones ahead", async (t) => {
  const { store, calls, settled, fs } = setup();
  const name = (i: number) => `f${String(i).padStart(3, '0')}`;
  for (let i = 0; i < 100; i++) store.putObject(`scan/${name(i)}`, Buffer.from(`file ${i}`));
  await fs.readdir('/scan');
  const read = async (i: number) => {
    const handle = await fs.open(`/scan/${name(i)}`, constants.O_RDONLY);
    const data = await readBytes(fs, handle, 0, 100);
    await fs.release(handle);
    return data.toString();
  };
  t.is(await read(0), 'file 0');
  t.is(await read(1), 'file 1');
  // Each count is taken once the prefetches started so far are over.
  await settled();
  t.is(calls.getRange, 2, 'no prefetch before a streak');
  t.is(await read(2), 'file 2');
  await settled();
  t.is(calls.getRange, 3 + 64, 'the third open in order fetches the next 64 small files');
  for (let i = 3; i < 10; i++) t.is(await read(i), `file ${i}`);
  await settled();
  // Files 3-9 were hits; each open kept 64 files requested ahead, up to file 73.
  t.is(calls.getRange, 3 + 64 + 7);
  const before = calls.getRange;
  t.is(await read(90), 'file 90');
  t.is(await read(5), 'file 5');
  await settled();
  t.is(calls.getRange, before + 1, 'a jump ends the streak: only the file read is fetched');
});

/** Records the ranges of every GET, and how many were in flight at most. */
function recordGets(store: ReturnType<typeof setup>['store'], delayMs = 0) {
  const ranges: Array<[number, number]> = [];
  let inFlight = 0;
  const record = { ranges, most: 0 };
  const original = store.getRange.bind(store);
  store.getRange = async (key, start, end, options) => {
    ranges.push([start, end]);
    record.most = Math.max(record.most, ++inFlight);
    try {
      if (delayMs) await new Promise((resolve) => setTimeout(resolve, delayMs));
      return await original(key, start, end, options);
    } finally {
      inFlight--;
    }
  };
  return record;
}

test('a small read at a random offset fetches only the pieces it touches', async (t) => {
  const PIECE = BLOCK / 8;
  const { store, settled, fs } = setup({ pieceSize: PIECE, maxPrefetchBlocks: 4 });
  // Far enough apart that no read looks like the continuation of another.
  // Reads more than 4 MiB apart (the default read-ahead is 1 MiB): none looks like the
  // continuation of another.
  const bytes = patternBytes(160 * BLOCK, 5);
  store.putObject('r', bytes);
  const gets = recordGets(store);
  const handle = await fs.open('/r', constants.O_RDONLY);
  const at = 40 * BLOCK + 3 * PIECE + 100;
  t.true((await readBytes(fs, handle, at, 4096)).equals(bytes.subarray(at, at + 4096)));
  t.deepEqual(gets.ranges, [[40 * BLOCK + 3 * PIECE, 40 * BLOCK + 4 * PIECE]], 'one GET of one piece');
  // Across a piece boundary: both pieces in one GET.
  const across = 120 * BLOCK + 2 * PIECE - 10;
  t.true((await readBytes(fs, handle, across, 20)).equals(bytes.subarray(across, across + 20)));
  t.deepEqual(gets.ranges[1], [120 * BLOCK + PIECE, 120 * BLOCK + 3 * PIECE]);
  t.true((await readBytes(fs, handle, at + 10, 100)).equals(bytes.subarray(at + 10, at + 110)));
  t.is(gets.ranges.length, 2, 'the first piece is cached');
  // A handle reading from the start takes whole blocks.
  const sequential = await fs.open('/r', constants.O_RDONLY);
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += 16 * 1024) chunks.push(await readBytes(fs, sequential, offset, 16 * 1024));
  t.true(Buffer.concat(chunks).equals(bytes));
  await settled();
  for (const [start, end] of gets.ranges.slice(2)) t.true(start % BLOCK === 0 && (end - start) % BLOCK === 0, `block-aligned GET ${start}-${end}`);
  // Once a whole block is cached, a random read inside it uses it.
  const count = gets.ranges.length;
  t.true((await readBytes(fs, handle, 150 * BLOCK + 7, 50)).equals(bytes.subarray(150 * BLOCK + 7, 150 * BLOCK + 57)));
  t.is(gets.ranges.length, count);
});

test('a sequential reader keeps several GETs of a few blocks in flight', async (t) => {
  const { store, settled, fs } = setup({ maxPrefetchBlocks: 8, maxRequestBlocks: 2 });
  const bytes = patternBytes(32 * BLOCK, 8);
  store.putObject('s', bytes);
  const gets = recordGets(store, 5);
  const handle = await fs.open('/s', constants.O_RDONLY);
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += 32 * 1024) chunks.push(await readBytes(fs, handle, offset, 32 * 1024));
  t.true(Buffer.concat(chunks).equals(bytes));
  await settled();
  t.true(gets.most >= 3, `${gets.most} GETs in flight at most`);
  for (const [start, end] of gets.ranges) t.true(end - start <= 2 * BLOCK, `GET ${start}-${end} within 2 blocks`);
  const fetched = gets.ranges.reduce((sum, [start, end]) => sum + end - start, 0);
  t.is(fetched, bytes.length, 'every byte fetched once');
});

test('a large object read sequentially streams through reusable slabs, not the cache', async (t) => {
  const slabs = new SlabPool(4 * BLOCK, 16 * BLOCK);
  const { store, settled, fs, cache } = setup({ maxPrefetchBlocks: 8, maxRequestBlocks: 4, slabs, streamAbove: 8 * BLOCK, readAheadBytes: BLOCK / 2 });
  const bytes = patternBytes(64 * BLOCK + 100, 4);
  store.putObject('big', bytes);
  store.putObject('small', bytes.subarray(0, 8 * BLOCK));
  const gets = recordGets(store, 1);
  const handle = await fs.open('/big', constants.O_RDONLY);
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += 32 * 1024) chunks.push(await readBytes(fs, handle, offset, 32 * 1024));
  t.true(Buffer.concat(chunks).equals(bytes), 'bytes exact');
  // Counted, and the slabs checked, once no GET of the stream is under way.
  await settled();
  const fetched = gets.ranges.reduce((sum, [start, end]) => sum + end - start, 0);
  t.is(fetched, bytes.length, 'every byte fetched once');
  for (const [start, end] of gets.ranges) t.true(end - start <= 4 * BLOCK, `GET ${start}-${end} fits a slab`);
  t.is(cache.stats().content.entries, 0, 'nothing of it in the cache');
  t.true(slabs.stats().slabs <= 4, `${slabs.stats().slabs} slabs made for 17 slabs' worth of bytes`);
  await fs.release(handle);
  t.is(slabs.stats().idle, slabs.stats().slabs, 'every slab is back in the pool once the handle is closed');
  // An object within the bound still goes through the cache.
  const small = await fs.open('/small', constants.O_RDONLY);
  t.true((await readBytes(fs, small, 0, 8 * BLOCK)).equals(bytes.subarray(0, 8 * BLOCK)));
  t.true(cache.stats().content.entries > 0);
});

test('blocks missing on both sides of one being loaded take a GET each: no byte twice', async (t) => {
  const { store, fs } = setup();
  const bytes = patternBytes(6 * BLOCK, 2);
  store.putObject('gap', bytes);
  const gets = recordGets(store, 5);
  const one = await fs.open('/gap', constants.O_RDONLY);
  const two = await fs.open('/gap', constants.O_RDONLY);
  // Block 2 starts loading for one handle; the other then asks for blocks 1-3.
  const middle = readBytes(fs, one, 2 * BLOCK + 10, 10);
  const around = readBytes(fs, two, BLOCK, 3 * BLOCK);
  t.true((await middle).equals(bytes.subarray(2 * BLOCK + 10, 2 * BLOCK + 20)));
  t.true((await around).equals(bytes.subarray(BLOCK, 4 * BLOCK)));
  t.deepEqual(
    gets.ranges.sort((a, b) => a[0] - b[0]),
    [
      [BLOCK, 2 * BLOCK],
      [2 * BLOCK, 3 * BLOCK],
      [3 * BLOCK, 4 * BLOCK],
    ],
  );
});

test('reads arriving out of order, as the kernel sends them, stay one stream: no block fetched twice', async (t) => {
  const slabs = new SlabPool(4 * BLOCK, 24 * BLOCK);
  const { store, settled, fs, cache } = setup({ maxPrefetchBlocks: 8, maxRequestBlocks: 4, slabs, streamAbove: 8 * BLOCK, readAheadBytes: BLOCK });
  const bytes = patternBytes(48 * BLOCK, 6);
  store.putObject('shuffled', bytes);
  const gets = recordGets(store, 1);
  const handle = await fs.open('/shuffled', constants.O_RDONLY);
  const CHUNK = 16 * 1024;
  const offsets = Array.from({ length: bytes.length / CHUNK }, (_, i) => i * CHUNK);
  // Eight reads in flight, answered in a scrambled order, each group ahead of the last.
  const out = Buffer.alloc(bytes.length);
  for (let group = 0; group < offsets.length; group += 8) {
    const batch = offsets.slice(group, group + 8);
    const order = [batch[3], batch[0], batch[7], batch[1], batch[5], batch[2], batch[6], batch[4]].filter((o) => o !== undefined);
    await Promise.all(order.map(async (offset) => (await readBytes(fs, handle, offset, CHUNK)).copy(out, offset)));
  }
  t.true(out.equals(bytes));
  await settled();
  const fetched = gets.ranges.reduce((sum, [start, end]) => sum + end - start, 0);
  t.is(fetched, bytes.length, 'every byte fetched once');
  t.is(cache.stats().content.entries, 0, 'nothing of it in the cache');
  await fs.release(handle);
  t.is(slabs.stats().idle, slabs.stats().slabs);
});

test('a file open for reading in a directory that is renamed reads on whole from its new name', async (t) => {
  const { store, fs } = setup();
  const bytes = patternBytes(3 * CORE_BLOCK + 7, 17);
  store.putObject('tree/sub/started', bytes);
  store.putObject('tree/sub/unread', bytes);
  const started = await fs.open('/tree/sub/started', constants.O_RDONLY);
  t.true((await readBytes(fs, started, 0, 100)).equals(bytes.subarray(0, 100)));
  const unread = await fs.open('/tree/sub/unread', constants.O_RDONLY);
  await fs.rename('/tree', '/moved');
  t.deepEqual(
    store.keys().filter((key) => key.startsWith('tree')),
    [],
  );
  t.true((await readBytes(fs, started, CORE_BLOCK, 3 * CORE_BLOCK)).equals(bytes.subarray(CORE_BLOCK)), 'a handle that returned bytes reads the rest');
  t.true((await readBytes(fs, unread, 0, 4 * CORE_BLOCK)).equals(bytes), 'a handle that had read nothing reads it all');
});

test('a reader of a file that another handle rewrites through the mount reads the unsaved bytes, as on a local disk (tail -f)', async (t) => {
  const { store, fs } = setup();
  store.putObject('log', Buffer.from('start\n'));
  const reader = await fs.open('/log', constants.O_RDONLY);
  t.is((await readBytes(fs, reader, 0, 100)).toString(), 'start\n');
  // `>>` from another process: written, not closed yet.
  const writer = await fs.open('/log', constants.O_WRONLY);
  await fs.write(writer, Buffer.from('second\n'), 6);
  t.is((await readBytes(fs, reader, 6, 100)).toString(), 'second\n', 'an append is read before the close');
  await fs.write(writer, Buffer.from('START'), 0);
  t.is((await readBytes(fs, reader, 0, 100)).toString(), 'START\nsecond\n', 'an edit in place is read before the close');
  await fs.ftruncate(writer, 3);
  t.is((await readBytes(fs, reader, 0, 100)).toString(), 'STA');
  await fs.flush(writer);
  await fs.release(writer);
  t.is((await readBytes(fs, reader, 0, 100)).toString(), 'STA', 'and the saved version after it');
  t.is(store.getObject('log')?.toString(), 'STA');
  await fs.release(reader);
});
