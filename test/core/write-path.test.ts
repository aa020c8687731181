// The write path of the core over the in-memory store: staging, uploads, namespace changes,
// exact invalidation and no data loss.

import { constants, readdirSync, readlinkSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import test from 'ava';
import type { DirListing } from '../../src/fs/nodes.js';
import { CORE_BLOCK, errno, readBytes, setupCore as setup } from '../support/core.js';
import { patternBytes } from '../support/pattern.js';

const { O_RDONLY, O_WRONLY, O_RDWR, O_TRUNC } = constants;

async function readAll(fs: ReturnType<typeof setup>['fs'], path: string): Promise<Buffer> {
  const handle = await fs.open(path, O_RDONLY);
  const size = (await fs.getattr(path)).size;
  const data = await readBytes(fs, handle, 0, size + 1);
  await fs.release(handle);
  return data;
}

async function writeFile(fs: ReturnType<typeof setup>['fs'], path: string, data: Buffer | string): Promise<void> {
  const handle = await fs.create(path, 0o644);
  await fs.write(handle, Buffer.from(data), 0);
  await fs.flush(handle);
  await fs.release(handle);
}

test('create, write, close uploads the bytes with s3fs metadata', async (t) => {
  const { store, calls, fs } = setup();
  const handle = await fs.create('/new.txt', 0o640);
  t.is((await fs.getattr('/new.txt')).size, 0, 'the new file is known before any upload');
  t.true((await fs.readdir('/')).some((entry) => entry.name === 'new.txt'));
  await fs.write(handle, Buffer.from('hello '), 0);
  await fs.write(handle, Buffer.from('world'), 6);
  t.is((await fs.getattr('/new.txt')).size, 11, 'getattr reports the staged size');
  t.is(calls.put, 0, 'nothing is uploaded before flush');
  await fs.flush(handle);
  await fs.release(handle);
  t.is(store.getObject('new.txt')?.toString(), 'hello world');
  const info = await store.head('new.txt');
  t.is(info.metadata?.mode, String(0o100640));
  t.is(info.metadata?.uid, '1000');
  t.regex(info.metadata?.mtime ?? '', /^\d+(\.\d{9})?$/);
  const attr = await fs.getattr('/new.txt');
  t.is(attr.mode, 0o100640);
  t.is(attr.size, 11);
});

test('an empty file created and closed exists', async (t) => {
  const { store, fs } = setup();
  const handle = await fs.create('/empty', 0o644);
  await fs.flush(handle);
  await fs.release(handle);
  t.is(store.getObject('empty')?.length, 0);
});

test('flush uploads only when dirty, once per change', async (t) => {
  const { calls, fs } = setup();
  const handle = await fs.create('/f', 0o644);
  await fs.write(handle, Buffer.from('x'), 0);
  await fs.flush(handle);
  await fs.flush(handle);
  t.is(calls.put, 1);
  await fs.release(handle);
});

test('editing the middle of an existing object keeps the rest', async (t) => {
  const { store, fs } = setup();
  const original = patternBytes(3 * CORE_BLOCK + 17, 5);
  store.putObject('data.bin', original);
  const handle = await fs.open('/data.bin', O_WRONLY);
  await fs.write(handle, Buffer.from('PATCH'), CORE_BLOCK + 3);
  await fs.flush(handle);
  await fs.release(handle);
  const expected = Buffer.from(original);
  Buffer.from('PATCH').copy(expected, CORE_BLOCK + 3);
  t.true(store.getObject('data.bin')?.equals(expected));
  t.true((await readAll(fs, '/data.bin')).equals(expected), 'reads after the change see the new bytes');
});

test('O_TRUNC replaces without fetching the old bytes; appends extend', async (t) => {
  const { store, calls, fs } = setup();
  store.putObject('log', patternBytes(2 * CORE_BLOCK, 1));
  const before = calls.getRange;
  const handle = await fs.open('/log', O_WRONLY | O_TRUNC);
  await fs.write(handle, Buffer.from('line 1\n'), 0);
  await fs.flush(handle);
  await fs.release(handle);
  t.is(calls.getRange, before, 'no GET for bytes about to be discarded');
  const append = await fs.open('/log', O_WRONLY);
  await fs.write(append, Buffer.from('line 2\n'), (await fs.getattr('/log')).size);
  await fs.flush(append);
  await fs.release(append);
  t.is(store.getObject('log')?.toString(), 'line 1\nline 2\n');
});

test('two handles on one file share one staged copy', async (t) => {
  const { store, fs } = setup();
  const writer = await fs.create('/shared', 0o644);
  await fs.write(writer, Buffer.from('abc'), 0);
  const reader = await fs.open('/shared', O_RDWR);
  t.is((await readBytes(fs, reader, 0, 10)).toString(), 'abc');
  await fs.write(reader, Buffer.from('Z'), 1);
  t.is((await readBytes(fs, writer, 0, 10)).toString(), 'aZc');
  await fs.flush(writer);
  await fs.release(writer);
  await fs.release(reader);
  t.is(store.getObject('shared')?.toString(), 'aZc');
});

test('truncate by path shrinks and grows, uploading at once', async (t) => {
  const { store, fs } = setup();
  store.putObject('t', Buffer.from('0123456789'));
  await fs.truncate('/t', 4);
  t.is(store.getObject('t')?.toString(), '0123');
  await fs.truncate('/t', 6);
  t.deepEqual([...(store.getObject('t') ?? [])], [0x30, 0x31, 0x32, 0x33, 0, 0]);
  t.is((await fs.getattr('/t')).size, 6);
});

test('ftruncate on an open file is uploaded at flush', async (t) => {
  const { store, fs } = setup();
  store.putObject('ft', Buffer.from('abcdef'));
  const handle = await fs.open('/ft', O_RDWR);
  await fs.ftruncate(handle, 2);
  t.is((await fs.getattr('/ft')).size, 2);
  await fs.flush(handle);
  await fs.release(handle);
  t.is(store.getObject('ft')?.toString(), 'ab');
});

test('a file removed while open for writing (libfuse had not counted the open) takes the truncate of its O_TRUNC open and never comes back to S3', async (t) => {
  const { store, fs } = setup();
  store.putObject('t/w', Buffer.from('old bytes'));
  const writer = await fs.open('/t/w', constants.O_WRONLY);
  await fs.unlink('/t/w');
  // libfuse sends open(O_TRUNC)'s truncate by path, here after the unlink.
  t.is(await errno(fs.truncate('/t/w', 0)), 'no error');
  await fs.write(writer, Buffer.from('new'), 0);
  await fs.flush(writer);
  await fs.release(writer);
  t.is(store.getObject('t/w'), undefined, 'nothing brought back');
  t.is(await errno(fs.getattr('/t/w')), 'ENOENT');
  t.is(await errno(fs.truncate('/t/w', 0)), 'ENOENT', 'once no handle holds it, the name is just gone');
});

test('unlink, mkdir, rmdir', async (t) => {
  const { store, fs } = setup();
  await writeFile(fs, '/gone', 'x');
  await fs.unlink('/gone');
  t.is(store.getObject('gone'), undefined);
  t.is(await errno(fs.getattr('/gone')), 'ENOENT');
  t.is(await errno(fs.unlink('/gone')), 'ENOENT');

  await fs.mkdir('/dir', 0o750);
  t.is(store.getObject('dir/')?.length, 0, 'mkdir writes a marker');
  t.is((await fs.getattr('/dir')).mode, 0o040750);
  t.is(await errno(fs.mkdir('/dir', 0o755)), 'EEXIST');
  await writeFile(fs, '/dir/child', 'c');
  t.is(await errno(fs.rmdir('/dir')), 'ENOTEMPTY');
  t.is(await errno(fs.unlink('/dir')), 'EISDIR');
  await fs.unlink('/dir/child');
  await fs.rmdir('/dir');
  t.is(store.getObject('dir/'), undefined);
  t.is(await errno(fs.getattr('/dir')), 'ENOENT');
});

test('rename a file, over an existing one, and a directory tree', async (t) => {
  const { store, fs } = setup();
  await writeFile(fs, '/a', 'A');
  await writeFile(fs, '/b', 'B');
  await fs.rename('/a', '/b');
  t.is(store.getObject('a'), undefined);
  t.is(store.getObject('b')?.toString(), 'A');
  t.is((await readAll(fs, '/b')).toString(), 'A');

  await fs.mkdir('/src', 0o755);
  await fs.mkdir('/src/sub', 0o755);
  await writeFile(fs, '/src/one', '1');
  await writeFile(fs, '/src/sub/two', '2');
  await fs.rename('/src', '/dst');
  t.deepEqual(
    store.keys().filter((key) => key.startsWith('src')),
    [],
  );
  t.deepEqual(
    store
      .keys()
      .filter((key) => key.startsWith('dst'))
      .sort(),
    ['dst/', 'dst/one', 'dst/sub/', 'dst/sub/two'],
  );
  t.is(await errno(fs.getattr('/src')), 'ENOENT');
  t.deepEqual((await fs.readdir('/dst')).map((e) => e.name).sort(), ['.', '..', 'one', 'sub']);
  t.is((await readAll(fs, '/dst/sub/two')).toString(), '2');
  await fs.mkdir('/full', 0o755);
  await writeFile(fs, '/full/x', 'x');
  t.is(await errno(fs.rename('/dst', '/full')), 'ENOTEMPTY');
  t.is(await errno(fs.rename('/dst', '/b')), 'ENOTDIR');
  t.is(await errno(fs.rename('/b', '/dst')), 'EISDIR');
});

test('renaming a file that is still open and unsaved carries its bytes', async (t) => {
  const { store, fs } = setup();
  const handle = await fs.create('/draft', 0o644);
  await fs.write(handle, Buffer.from('draft'), 0);
  await fs.rename('/draft', '/final');
  await fs.write(handle, Buffer.from('!'), 5);
  await fs.flush(handle);
  await fs.release(handle);
  t.is(store.getObject('draft'), undefined);
  t.is(store.getObject('final')?.toString(), 'draft!');
});

test('chmod, chown and utimens persist as metadata and survive a remount', async (t) => {
  const { store, calls, fs } = setup();
  await writeFile(fs, '/m', 'm');
  await fs.chmod('/m', 0o600);
  await fs.chown('/m', 1234, -1);
  await fs.utimens('/m', { sec: 1_600_000_000, nsec: 0 }, { sec: 1_600_000_000, nsec: 0 });
  const attr = await fs.getattr('/m');
  t.is(attr.mode, 0o100600);
  t.is(attr.uid, 1234);
  t.is(attr.gid, 1000);
  t.is(attr.mtime.getTime(), 1_600_000_000_000);
  t.is(store.getObject('m')?.toString(), 'm', 'the bytes are kept');
  const remounted = setup();
  remounted.store.copyFrom(store);
  const again = await remounted.fs.getattr('/m');
  t.is(again.mode, 0o100600);
  t.is(again.mtime.getTime(), 1_600_000_000_000);
  // The root has no object: its attributes are held in memory for the mount's lifetime, and nothing is written.
  const writes = calls.put + calls.copy;
  await fs.chmod('/', 0o700);
  t.is((await fs.getattr('/')).mode, 0o40700);
  t.is(calls.put + calls.copy, writes);
  t.is((await remounted.fs.getattr('/')).mode & 0o777, 0o755);
});

test('symlinks are stored the s3fs way and read back', async (t) => {
  const { store, fs } = setup();
  await fs.symlink('target/file.txt', '/link');
  t.is(store.getObject('link')?.toString(), 'target/file.txt');
  t.is((await fs.getattr('/link')).mode & 0o170000, 0o120000);
  t.is(await fs.readlink('/link'), 'target/file.txt');
  await writeFile(fs, '/plain', 'p');
  t.is(await errno(fs.readlink('/plain')), 'EINVAL');
});

test('a failed upload is EIO at flush, keeps the bytes staged, and a later flush saves them', async (t) => {
  const { store, faults, fs, stagingDirectory } = setup();
  const handle = await fs.create('/precious', 0o644);
  await fs.write(handle, Buffer.from('do not lose me'), 0);
  faults.failNext('put', 'Other');
  t.is(await errno(fs.flush(handle)), 'EIO');
  t.is(store.getObject('precious'), undefined);
  await fs.release(handle);
  t.true(
    (await readdir(stagingDirectory)).some((name) => name.endsWith('.data')),
    'the staged copy is kept after release',
  );
  t.is((await fs.getattr('/precious')).size, 14, 'the file is still visible with its staged size');
  t.deepEqual(await fs.flushAll(), []);
  t.is(store.getObject('precious')?.toString(), 'do not lose me');
  t.deepEqual(
    (await readdir(stagingDirectory)).filter((name) => name.endsWith('.data')),
    [],
    'saved copies are cleaned up',
  );
});

test('flushAll names what it could not save', async (t) => {
  const { faults, fs } = setup();
  const handle = await fs.create('/stuck', 0o644);
  await fs.write(handle, Buffer.from('x'), 0);
  faults.failNext('put', 'Other');
  t.is(await errno(fs.flush(handle)), 'EIO');
  faults.failNext('put', 'Other');
  const unsaved = await fs.flushAll();
  t.is(unsaved.length, 1);
  t.regex(unsaved[0], /^stuck \(staged at .*\.data\)$/);
});

test('changes show at once with a long TTL, and unrelated cache entries stay hits', async (t) => {
  const { store, calls, fs, cache } = setup();
  store.putObject('keep/cached.txt', Buffer.from('keep'));
  store.putObject('work/old.txt', Buffer.from('old'));
  await fs.readdir('/keep');
  await fs.getattr('/keep/cached.txt');
  await fs.readdir('/work');
  await writeFile(fs, '/work/new.txt', 'new');
  t.true((await fs.readdir('/work')).some((e) => e.name === 'new.txt'));
  await fs.unlink('/work/old.txt');
  t.false((await fs.readdir('/work')).some((e) => e.name === 'old.txt'));
  await fs.rename('/work/new.txt', '/work/renamed.txt');
  t.deepEqual((await fs.readdir('/work')).map((e) => e.name).sort(), ['.', '..', 'renamed.txt']);
  t.deepEqual((await fs.readdir('/')).map((e) => e.name).sort(), ['.', '..', 'keep', 'work']);
  const listsBefore = calls.list;
  const hitsBefore = cache.stats().totals.hits;
  await fs.readdir('/keep');
  t.is((await fs.getattr('/keep/cached.txt')).size, 4);
  t.is(calls.list, listsBefore, 'the unrelated directory is still cached');
  t.true(cache.stats().totals.hits > hitsBefore);
});

test('every change of the mount goes through the one invalidation path and is heard by subscribers', async (t) => {
  const { fs, invalidation, cache } = setup();
  const events: string[] = [];
  invalidation.subscribe((event) =>
    events.push(event.kind === 'clear' ? `clear ${event.origin}` : `${event.kind} ${'key' in event ? event.key : event.prefix} ${event.origin}`),
  );
  await fs.mkdir('/d', 0o755);
  await writeFile(fs, '/d/a.txt', 'a');
  await fs.readdir('/d');
  await fs.readdir('/');
  t.true(cache.metadata.has({ op: 'dir', bucket: 'bucket', key: 'd/' }), 'the listing of d is cached');
  await fs.rename('/d/a.txt', '/d/b.txt');
  const listing = cache.metadata.peek<DirListing>({ op: 'dir', bucket: 'bucket', key: 'd/' });
  t.deepEqual([...(listing?.entries.keys() ?? [])], ['b.txt'], "the mount's own change is written into the parent listing");
  t.true(cache.metadata.has({ op: 'dir', bucket: 'bucket', key: '' }), 'the root listing stays: the change cannot touch it');
  await fs.rename('/d', '/e');
  await fs.unlink('/e/b.txt');
  // A change not made by this mount drops what it may touch (the invalidation rule).
  await fs.readdir('/e');
  invalidation.changed('e/c.txt', 'remote');
  t.false(cache.metadata.has({ op: 'dir', bucket: 'bucket', key: 'e/' }), 'a change learned from elsewhere drops the parent listing');
  t.false(cache.metadata.has({ op: 'dir', bucket: 'bucket', key: '' }), 'and the root listing');
  invalidation.clear('control');
  t.deepEqual(events, [
    'key d local',
    'key d/a.txt local',
    'key d/a.txt local',
    'key d/b.txt local',
    'prefix d/ local',
    'prefix e/ local',
    'key e/b.txt local',
    'key e/c.txt remote',
    'clear control',
  ]);
});

test('a file opened for writing but not yet written, renamed (or its directory renamed), takes later writes on top of its bytes', async (t) => {
  const { store, fs } = setup();
  store.putObject('log', Buffer.from('abc'));
  store.putObject('dir/sub/log', Buffer.from('abc'));
  store.putObject('dir/sub/edit', Buffer.from('abcdef'));
  // `>>` and `r+` of an existing object: nothing is fetched until the first write.
  const appender = await fs.open('/log', O_WRONLY);
  const inTree = await fs.open('/dir/sub/log', O_WRONLY);
  const editor = await fs.open('/dir/sub/edit', O_RDWR);
  await fs.rename('/log', '/log.1');
  await fs.rename('/dir', '/moved');
  await fs.write(appender, Buffer.from('APP'), 3);
  await fs.write(inTree, Buffer.from('APP'), 3);
  await fs.write(editor, Buffer.from('X'), 2);
  for (const handle of [appender, inTree, editor]) {
    await fs.flush(handle);
    await fs.release(handle);
  }
  t.is(store.getObject('log.1')?.toString(), 'abcAPP');
  t.is(store.getObject('moved/sub/log')?.toString(), 'abcAPP');
  t.is(store.getObject('moved/sub/edit')?.toString(), 'abXdef');
  t.deepEqual(
    store.keys().filter((key) => key === 'log' || key.startsWith('dir')),
    [],
  );
});

test('a file another writer removed before its bytes were copied is gone to the handle that edits it: ENOENT once, no copy left staged, no upload', async (t) => {
  const { store, fs, stagingDirectory } = setup();
  for (const name of ['touched', 'appended', 'kept']) store.putObject(`gone/${name}`, Buffer.from('old'));
  t.is((await fs.readdir('/gone')).length, 5);
  // Opened on the cached listing's word, then removed outside: as `touch`, `>>` or a patch would find it.
  const touched = await fs.open('/gone/touched', O_WRONLY);
  const appended = await fs.open('/gone/appended', O_WRONLY);
  store.deleteObject('gone/touched');
  store.deleteObject('gone/appended');
  await fs.utimens('/gone/touched', { sec: 1_577_836_800, nsec: 0 }, { sec: 1_577_836_800, nsec: 0 });
  t.is(await errno(fs.flush(touched)), 'ENOENT', 'the close of a touch says the file is gone');
  t.is(await errno(Promise.resolve().then(() => fs.write(appended, Buffer.from('more'), 3))), 'ENOENT', 'an append says the file is gone');
  // Nothing is retried: the next flush has nothing to upload, and S3 stays without the keys.
  t.is(await errno(fs.flush(touched)), 'no error');
  t.is(await errno(fs.flush(appended)), 'no error');
  await fs.release(touched);
  await fs.release(appended);
  t.is(store.getObject('gone/touched'), undefined);
  t.is(store.getObject('gone/appended'), undefined);
  t.deepEqual((await fs.readdir('/gone')).map((entry) => entry.name).sort(), ['.', '..', 'kept']);
  for (const name of ['touched', 'appended']) t.is(await errno(fs.getattr(`/gone/${name}`)), 'ENOENT', name);
  t.deepEqual(
    (await readdir(stagingDirectory)).filter((name) => !name.startsWith('.')),
    [],
    'no staged copy is left behind',
  );
  // The name is free again: a new file by it is a new object.
  const created = await fs.create('/gone/touched', 0o644);
  await fs.write(created, Buffer.from('new'), 0);
  await fs.flush(created);
  await fs.release(created);
  t.is(store.getObject('gone/touched')?.toString(), 'new');
});

test('fallocate grows a shorter file with zeros, never shrinks one, keeps the size with FALLOC_FL_KEEP_SIZE and refuses other modes', async (t) => {
  const { store, fs } = setup();
  const handle = await fs.create('/alloc.bin', 0o644);
  await fs.write(handle, Buffer.from('0123456789'), 0);
  await fs.fallocate(handle, 0, 2, 4); // inside the file: nothing changes
  t.is((await fs.getattr('/alloc.bin')).size, 10);
  await fs.fallocate(handle, 0x01, 0, 1 << 20); // FALLOC_FL_KEEP_SIZE
  t.is((await fs.getattr('/alloc.bin')).size, 10);
  await fs.fallocate(handle, 0, 8, 8);
  t.is((await fs.getattr('/alloc.bin')).size, 16);
  t.is(await errno(fs.fallocate(handle, 0x01 | 0x02, 0, 4)), 'ENOTSUP', 'FALLOC_FL_PUNCH_HOLE');
  t.is(await errno(fs.fallocate(handle, 0x10, 0, 4)), 'ENOTSUP', 'FALLOC_FL_ZERO_RANGE');
  await fs.flush(handle);
  await fs.release(handle);
  t.deepEqual(store.getObject('alloc.bin'), Buffer.concat([Buffer.from('0123456789'), Buffer.alloc(6)]));
  const reader = await fs.open('/alloc.bin', O_RDONLY);
  t.is(await errno(fs.fallocate(reader, 0, 0, 100)), 'EBADF', 'a handle not open for writing');
  await fs.release(reader);
});

test('a write or truncate after a rename moves ctime: what the rename held in memory does not hide it', async (t) => {
  const { fs } = setup();
  const tick = () => new Promise((resolve) => setTimeout(resolve, 5));
  const later = (a: Date, b: Date) => t.true(a.getTime() > b.getTime(), `${a.toISOString()} after ${b.toISOString()}`);
  await writeFile(fs, '/f', 'a');
  await tick();
  await fs.rename('/f', '/g');
  const renamed = await fs.getattr('/g');
  await tick();
  const handle = await fs.open('/g', O_WRONLY);
  await fs.write(handle, Buffer.from('b'), 1);
  const written = await fs.getattr('/g');
  later(written.mtime, renamed.ctime);
  t.is(written.ctime.getTime(), written.mtime.getTime(), 'a write sets mtime and ctime alike');
  await fs.flush(handle);
  await fs.release(handle);
  t.deepEqual((await fs.getattr('/g')).ctime, written.ctime, 'the same after the close');
  await fs.rename('/g', '/h');
  await tick();
  await fs.truncate('/h', 0);
  const cut = await fs.getattr('/h');
  t.is(cut.ctime.getTime(), cut.mtime.getTime(), 'a truncate by path sets both too');
});

test('a write through a handle open across a rename moves ctime', async (t) => {
  const { fs } = setup();
  const tick = () => new Promise((resolve) => setTimeout(resolve, 5));
  await writeFile(fs, '/log', 'a');
  const handle = await fs.open('/log', O_WRONLY);
  await fs.write(handle, Buffer.from('b'), 1);
  await fs.rename('/log', '/log.1');
  const renamed = await fs.getattr('/log.1');
  await tick();
  await fs.write(handle, Buffer.from('c'), 2);
  const written = await fs.getattr('/log.1');
  t.true(written.ctime.getTime() > renamed.ctime.getTime(), 'the write moved ctime');
  t.is(written.ctime.getTime(), written.mtime.getTime());
  await fs.flush(handle);
  await fs.release(handle);
  t.is((await fs.getattr('/log.1')).ctime.getTime(), written.ctime.getTime());
});

test('a write or truncate past the largest file S3 takes (10,000 parts) is EFBIG at once, not EIO at close', async (t) => {
  const { fs, store } = setup({ partSize: 5 << 20 });
  const largest = 10_000 * (5 << 20);
  await writeFile(fs, '/f', 'a');
  t.is(await errno(fs.truncate('/f', largest + 1)), 'EFBIG');
  const handle = await fs.open('/f', O_RDWR);
  t.is(await errno(fs.ftruncate(handle, largest + 1)), 'EFBIG');
  t.is(await errno(fs.fallocate(handle, 0, largest, 1)), 'EFBIG');
  t.is(await errno(Promise.resolve().then(() => fs.write(handle, Buffer.from('x'), largest))), 'EFBIG');
  t.is(await fs.write(handle, Buffer.from('12345'), largest - 2), 2, 'a write across the limit is short, as write(2) makes it');
  t.is((await fs.getattr('/f')).size, largest);
  await fs.ftruncate(handle, 1);
  await fs.flush(handle);
  await fs.release(handle);
  t.is(store.getObject('f')?.toString(), 'a', 'the file is saved as it was cut');
});

test('a read racing a truncate of the file it reads answers what the file holds, never the old length in zeros', async (t) => {
  const { fs } = setup();
  const writer = await fs.create('/log', 0o644);
  const reader = await fs.open('/log', O_RDONLY);
  for (let round = 0; round < 200; round++) {
    await fs.write(writer, Buffer.from('CCCCCCC'), 0);
    // `echo > log` in another process while `cat log` reads: the truncate and the read overlap,
    // the read starting at a different moment of the truncate each round.
    const truncated = fs.ftruncate(writer, 0);
    for (let tick = 0; tick < round % 10; tick++) await new Promise((resolve) => setImmediate(resolve));
    const [, read] = await Promise.all([truncated, readBytes(fs, reader, 0, 4096)]);
    t.false(read.length > 0 && read.every((byte) => byte === 0), `round ${round}: read ${read.length} zero bytes`);
  }
  await fs.release(reader);
  await fs.flush(writer);
  await fs.release(writer);
});

test('a truncate to zero and a read starting at once open the staged copy once', async (t) => {
  const { store, fs, stagingDirectory } = setup();
  // Descriptors of this test's staging directory (other tests run in the same process).
  const openFds = () =>
    readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`).startsWith(stagingDirectory);
      } catch {
        return false;
      }
    }).length;
  for (let round = 0; round < 10; round++) {
    store.putObject(`o${round}`, Buffer.from('old bytes'));
    const before = openFds();
    const editor = await fs.open(`/o${round}`, O_RDWR);
    // `: > f` while another descriptor reads f: neither has copied the object into staging yet.
    const [truncating] = await Promise.all([fs.open(`/o${round}`, O_WRONLY | O_TRUNC), readBytes(fs, editor, 0, 100)]);
    for (const handle of [truncating, editor]) {
      await fs.flush(handle);
      await fs.release(handle);
    }
    t.is(openFds(), before, `round ${round}: a descriptor of the staged copy was left open (for the garbage collector to close)`);
  }
});
