// Attributes are never guessed, over the in-memory store: what readdir's types and getattr
// say comes from each object's HEAD (remembered per version), never from a listing alone.

import { constants, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { createMemoryCaches } from '../../src/cache/caches.js';
import { silentLogger } from '../../src/log.js';
import { instrumentStore } from '../../src/s3/counting-store.js';
import { MemoryStore } from '../../src/s3/memory-store.js';
import { buildCore } from '../../src/wiring.js';
import { errno, liveCounts, setupCore as setup } from '../support/core.js';

const type = (mode: number) => mode & constants.S_IFMT;
const modeOf = (entries: Array<{ name: string; mode: number }>, name: string) => entries.find((entry) => entry.name === name)?.mode;

test('readdir gives no type to an object until its HEAD is known; then getattr and readdir say what the metadata says', async (t) => {
  const { store, fs } = setup();
  store.putObject('d/plain', 'bytes');
  store.putObject('d/private', 'bytes', { mode: String(0o100600), uid: '7', gid: '8', mtime: '1577934245' });
  store.putObject('d/link', 'plain', { mode: String(0o120777) });
  store.putObject('d/sub/inner', 'x');
  const first = await fs.readdir('/d');
  t.is(modeOf(first, 'sub'), 0o040755, 'a directory is a directory');
  t.deepEqual([modeOf(first, 'plain'), modeOf(first, 'private'), modeOf(first, 'link')], [0, 0, 0], 'objects: DT_UNKNOWN until their HEAD is known');
  const plain = await fs.getattr('/d/plain');
  t.is(plain.mode, 0o100644);
  const secret = await fs.getattr('/d/private');
  t.deepEqual([secret.mode, secret.uid, secret.gid, secret.mtime.getTime()], [0o100600, 7, 8, 1577934245_000]);
  const link = await fs.getattr('/d/link');
  t.is(type(link.mode), constants.S_IFLNK);
  t.is(link.size, 5);
  t.is(await fs.readlink('/d/link'), 'plain');
  const second = await fs.readdir('/d');
  t.deepEqual([modeOf(second, 'plain'), modeOf(second, 'private'), modeOf(second, 'link')], [0o100644, 0o100600, 0o120777]);
});

test('an unchanged object is HEADed once, even after its answers expired and it was listed again; a chmod by another client is seen', async (t) => {
  let now = 1_000_000;
  let storeTime = new Date('2026-01-01T00:00:00Z').getTime();
  const store = new MemoryStore('bucket', { now: () => new Date(storeTime) });
  const caches = createMemoryCaches({ ttlMs: 60_000, opTtlMs: {}, maxMetadataEntries: 10_000, maxContentBytes: 1 << 20, now: () => now }, silentLogger());
  const counted = instrumentStore(store, silentLogger());
  const calls = liveCounts(counted);
  const { filesystem: fs } = buildCore(counted, caches, silentLogger(), {
    bucket: 'bucket',
    prefix: '',
    uid: 1000,
    gid: 1000,
    fileMode: 0o644,
    dirMode: 0o755,
    negativeTtlMs: 0,
    blockSize: 65536,
    maxPrefetchBlocks: 0,
    readOnly: false,
    stagingDirectory: mkdtempSync(join(tmpdir(), 's3mount-core-')),
    partSize: 5 << 20,
  });
  for (let i = 0; i < 50; i++) store.putObject(`v/f${i}`, `content ${i}`, { mode: String(0o100640) });
  await fs.readdir('/v');
  for (let i = 0; i < 50; i++) t.is((await fs.getattr(`/v/f${i}`)).mode, 0o100640);
  const heads = calls.head;
  now += 120_000; // every TTL'd answer and the listing expired
  await fs.readdir('/v');
  for (let i = 0; i < 50; i++) t.is((await fs.getattr(`/v/f${i}`)).mode, 0o100640);
  t.is(calls.head, heads + 1, 'only the lookup of v itself: the same versions need no HEAD');

  // Another client's chmod copies the object onto itself: same ETag, a later LastModified.
  storeTime += 5_000;
  await store.copy('v/f3', 'v/f3', { metadata: { mode: String(0o100600) } });
  now += 120_000;
  await fs.readdir('/v');
  t.is((await fs.getattr('/v/f3')).mode, 0o100600);
});

test("s3fs's older directory formats are directories, listed with or without delimiter and looked up", async (t) => {
  for (const filler of [0, 1200]) {
    const { store, fs } = setup();
    // With 1,200 keys in a subdirectory, the first page does not hold the whole tree: the
    // directory is listed again with the delimiter.
    for (let i = 0; i < filler; i++) store.putObject(`old/aaa/k${String(i).padStart(4, '0')}`, 'x');
    store.putObject('old/typed', '', {}, { contentType: 'application/x-directory' });
    store.putObject('old/typedfull', '', {}, { contentType: 'application/x-directory' });
    store.putObject('old/typedfull/inner', 'in');
    store.putObject('old/folder_$folder$', '');
    store.putObject('old/folderfull_$folder$', '', { mode: String(0o040700) });
    store.putObject('old/folderfull/inner', 'in');
    store.putObject('old/file.txt', 'f');
    const names = (await fs.readdir('/old')).map((entry) => entry.name).sort();
    t.deepEqual(names, ['.', '..', ...(filler ? ['aaa'] : []), 'file.txt', 'folder', 'folderfull', 'typed', 'typedfull'], `${filler} keys before`);
    for (const dir of ['typed', 'typedfull', 'folder', 'folderfull']) t.is(type((await fs.getattr(`/old/${dir}`)).mode), constants.S_IFDIR, dir);
    t.is((await fs.getattr('/old/folderfull')).mode, 0o040700, 'the marker holds its mode');
    t.deepEqual((await fs.readdir('/old/typedfull')).map((entry) => entry.name).sort(), ['.', '..', 'inner']);
    t.deepEqual((await fs.readdir('/old/folder')).map((entry) => entry.name).sort(), ['.', '..']);
    t.is(type((await fs.getattr('/old/file.txt')).mode), constants.S_IFREG);
    await fs.rmdir('/old/folder');
    await fs.rmdir('/old/typed');
    t.is(store.info('old/folder_$folder$'), undefined);
    t.is(store.info('old/typed'), undefined);
    t.is(await errno(fs.getattr('/old/folder')), 'ENOENT');
  }
  // Looked up with no listing of the parent.
  const { store, fs } = setup();
  store.putObject('x/typed', '', {}, { contentType: 'application/x-directory' });
  store.putObject('x/folder_$folder$', '');
  t.is(type((await fs.getattr('/x/typed')).mode), constants.S_IFDIR);
  t.is(type((await fs.getattr('/x/folder')).mode), constants.S_IFDIR);
  t.is(await errno(fs.getattr('/x/none')), 'ENOENT');
});

test("a directory shows its marker's mode; one a listing shows without a marker needs no HEAD", async (t) => {
  const { store, calls, fs } = setup();
  store.putObject('m/', '', { mode: String(0o040700) });
  store.putObject('m/inner', 'x');
  store.putObject('implicit/inner', 'x');
  const heads = calls.head;
  await fs.readdir('/');
  t.is((await fs.getattr('/m')).mode, 0o040700);
  t.is((await fs.getattr('/implicit')).mode, 0o040755);
  t.is(calls.head, heads + 1, "the marker's HEAD; the implicit directory's listing showed it has none");
});

test('entries made in a set-group-ID directory take its group, and directories the bit too, as on a local disk', async (t) => {
  const { store, fs } = setup();
  await fs.mkdir('/sg', 0o775);
  await fs.chown('/sg', 1000, 777);
  await fs.chmod('/sg', 0o2775);
  await fs.mkdir('/sg/sub', 0o755);
  await fs.mkdir('/sg/private', 0o700);
  const file = await fs.create('/sg/file', 0o644);
  await fs.flush(file);
  await fs.release(file);
  await fs.symlink('file', '/sg/link');
  await fs.mknod('/sg/fifo', constants.S_IFIFO | 0o644, 0);
  await fs.mkdir('/plain', 0o755);
  await fs.release(await fs.create('/plain/file', 0o644));
  const seen = async (path: string) => {
    const attr = await fs.getattr(path);
    return [attr.mode, attr.gid];
  };
  t.deepEqual(await seen('/sg/sub'), [0o042755, 777]);
  t.deepEqual(await seen('/sg/private'), [0o042700, 777]);
  t.deepEqual(await seen('/sg/file'), [0o100644, 777]);
  t.deepEqual(await seen('/sg/link'), [0o120777, 777]);
  t.deepEqual(await seen('/sg/fifo'), [0o010644, 777]);
  t.deepEqual(await seen('/plain/file'), [0o100644, 1000], 'a plain directory gives nothing');
  t.is(store.info('sg/sub/')?.metadata?.gid, '777', 'stored, so a remount shows it too');
  t.is(store.info('sg/file')?.metadata?.gid, '777');
});
