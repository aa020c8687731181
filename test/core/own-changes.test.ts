// The mount's own changes are written into its cached listings and HEAD answers instead of
// dropping them: a new file costs its PUT and nothing else, and the edited listing is what a
// fresh listing of the bucket shows.

import { constants } from 'node:fs';
import { join } from 'node:path/posix';
import test from 'ava';
import type { CoreConfig } from '../../src/wiring.js';
import { errno, setupCore } from '../support/core.js';

const { O_WRONLY } = constants;
type Core = ReturnType<typeof setupCore>;
type Fs = Core['fs'];

async function writeFile(fs: Fs, path: string, data: string): Promise<void> {
  const handle = await fs.create(path, 0o644);
  await fs.write(handle, Buffer.from(data), 0);
  await fs.flush(handle);
  await fs.release(handle);
}

/** What `ls -l` of `dir` shows: each entry's name, mode, owner, and for files size and mtime to the nanosecond. */
async function viewOf(fs: Fs, dir: string, options: { mtimes?: boolean } = {}): Promise<string[]> {
  const lines: string[] = [];
  for (const { name } of await fs.readdir(dir)) {
    if (name === '.' || name === '..') continue;
    const attr = await fs.getattr(join(dir, name));
    const isDir = (attr.mode & 0o170000) === 0o040000;
    // A directory's times are held in memory by the mount that changed it: not in S3.
    const times = isDir || options.mtimes === false ? '' : ` ${attr.mtime.getTime()}+${attr.mtimeNs ?? 0}ns`;
    lines.push(`${name} ${attr.mode.toString(8)} ${attr.uid}:${attr.gid}${isDir ? '' : ` ${attr.size}`}${times}`);
  }
  return lines.sort();
}

/** The same view through a fresh core over a copy of the bucket: what S3 lists now. */
async function freshViewOf(core: Core, dir: string, config: Partial<CoreConfig>, options: { mtimes?: boolean } = {}): Promise<string[]> {
  const fresh = setupCore(config);
  fresh.store.copyFrom(core.store);
  return viewOf(fresh.fs, dir, options);
}

test('new files in a directory this mount created cost one PUT each: no HEAD, no LIST, also for ls -l after', async (t) => {
  const { calls, fs, settled } = setupCore();
  await fs.mkdir('/x', 0o755);
  await settled();
  const before = { ...calls };
  for (let i = 0; i < 20; i++) {
    // The kernel looks a name up before creating it, and stats it after.
    t.is(await errno(fs.getattr(`/x/f${i}`)), 'ENOENT');
    await writeFile(fs, `/x/f${i}`, `file ${i}`);
    t.is((await fs.getattr(`/x/f${i}`)).size, `file ${i}`.length);
  }
  t.is((await viewOf(fs, '/x')).length, 20);
  await settled();
  t.is(calls.put - before.put, 20, 'one PUT per file');
  t.is(calls.head - before.head, 0, 'no HEAD');
  t.is(calls.list - before.list, 0, 'no LIST');
});

test('new files in a directory listed before cost one PUT each', async (t) => {
  const { store, calls, fs, settled } = setupCore();
  store.putObject('y/old', 'old');
  await fs.readdir('/y');
  await settled();
  const before = { ...calls };
  for (let i = 0; i < 10; i++) {
    t.is(await errno(fs.getattr(`/y/n${i}`)), 'ENOENT');
    await writeFile(fs, `/y/n${i}`, 'new');
  }
  t.deepEqual((await fs.readdir('/y')).map((entry) => entry.name).sort(), ['.', '..', 'n0', 'n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7', 'n8', 'n9', 'old']);
  await settled();
  t.is(calls.put - before.put, 10);
  t.is(calls.head + calls.list - before.head - before.list, 0);
});

for (const posixMetadata of [true, false]) {
  const config: Partial<CoreConfig> = { posixMetadata };
  // Without POSIX metadata a file's mtime is S3's LastModified, which S3 does not return on upload.
  const compare = { mtimes: posixMetadata };
  test(`each kind of change is written into the cached listing, which then equals a fresh listing of the bucket (posixMetadata ${posixMetadata})`, async (t) => {
    const core = setupCore(config);
    const { store, calls, fs, settled } = core;
    store.putObject('d/', '');
    store.putObject('d/seed', 'seed');
    store.putObject('e/', '');
    store.putObject('e/other', 'other');
    await fs.mkdir('/m', 0o755);
    for (const dir of ['/', '/d', '/e', '/m']) await viewOf(fs, dir);
    const steps: Array<[string, () => Promise<void>]> = [
      ['upload a new file', () => writeFile(fs, '/d/new', 'abc')],
      ['replace it', () => writeFile(fs, '/d/new', 'longer bytes')],
      [
        'edit it in place',
        async () => {
          const handle = await fs.open('/d/new', O_WRONLY);
          await fs.write(handle, Buffer.from('XY'), 20);
          await fs.flush(handle);
          await fs.release(handle);
        },
      ],
      ['truncate it by path', () => fs.truncate('/d/new', 5)],
      ['chmod it', () => fs.chmod('/d/new', 0o600)],
      ['chown it', () => fs.chown('/d/new', 4321, 8765)],
      ['set its times', () => fs.utimens('/d/new', { sec: 1_500_000_000, nsec: 5 }, { sec: 1_600_000_000, nsec: 123_456_789 })],
      ['rename it in its directory', () => fs.rename('/d/new', '/d/renamed')],
      ['rename it over another file', () => fs.rename('/d/renamed', '/d/seed')],
      ['move it to another directory', () => fs.rename('/d/seed', '/e/moved')],
      ['unlink it', () => fs.unlink('/e/moved')],
      ['mkdir', () => fs.mkdir('/d/sub', 0o750)],
      ['a file in the new directory', () => writeFile(fs, '/d/sub/inner', 'inner')],
      ['chmod the directory', () => fs.chmod('/d/sub', 0o700)],
      ['set the directory times', () => fs.utimens('/d/sub', { sec: 1_400_000_000, nsec: 0 }, { sec: 1_450_000_000, nsec: 0 })],
      ['symlink', () => fs.symlink('sub/inner', '/d/link')],
      ['mkfifo', () => fs.mknod('/d/fifo', 0o010644, 0)],
      ['rename the directory', () => fs.rename('/d/sub', '/d/moved')],
      ['empty it', () => fs.unlink('/d/moved/inner')],
      ['rmdir', () => fs.rmdir('/d/moved')],
      ['a file at the root', () => writeFile(fs, '/top', 'top')],
      ['the last file of a directory with a marker', () => writeFile(fs, '/m/only', 'x').then(() => fs.unlink('/m/only'))],
    ];
    for (const [step, change] of steps) {
      await change();
      await settled();
      const lists = calls.list;
      for (const dir of ['/', '/d', '/e', '/m']) {
        const mine = await viewOf(fs, dir, compare);
        t.deepEqual(mine, await freshViewOf(core, dir, config, compare), `${step}: ${dir} as S3 lists it`);
      }
      t.is(calls.list, lists, `${step}: no directory was listed again`);
    }
  });
}

test('the directory holding its last file, with no marker, is listed again: it is gone from S3 with it', async (t) => {
  const core = setupCore();
  const { store, calls, fs, settled } = core;
  store.putObject('implicit/only', 'x');
  store.putObject('kept', 'k');
  t.deepEqual(await viewOf(fs, '/implicit'), await freshViewOf(core, '/implicit', {}));
  const rootBefore = await viewOf(fs, '/');
  t.true(rootBefore.some((line) => line.startsWith('implicit ')));
  await fs.unlink('/implicit/only');
  await settled();
  const lists = calls.list;
  const root = await viewOf(fs, '/');
  t.true(calls.list > lists, 'the listings it may have left were dropped, by the invalidation rule');
  t.deepEqual(root, await freshViewOf(core, '/', {}));
  t.false(root.some((line) => line.startsWith('implicit ')));
});

test('a directory listing whose LIST was on its way when the mount changed the directory is not kept', async (t) => {
  const { store, faults, fs } = setupCore();
  store.putObject('d/a', 'a');
  await fs.getattr('/d');
  let answered!: () => void;
  const held = new Promise<void>((resolve) => (answered = resolve));
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  faults.afterCall = async (operation, key) => {
    if (operation !== 'list' || key !== 'd/') return;
    faults.afterCall = undefined;
    answered();
    await gate;
  };
  const racing = fs.readdir('/d');
  await held;
  // S3 answered the LIST before the new file; the answer is still on its way.
  await writeFile(fs, '/d/new', 'new');
  release();
  await racing;
  t.deepEqual((await fs.readdir('/d')).map((entry) => entry.name).sort(), ['.', '..', 'a', 'new']);
});

test("listings learned from a parent's page that was on its way when the mount changed a subdirectory are not kept", async (t) => {
  const { store, faults, fs } = setupCore();
  store.putObject('p/d/a', 'a');
  store.putObject('p/other', 'o');
  await fs.readdir('/p/d');
  let answered!: () => void;
  const held = new Promise<void>((resolve) => (answered = resolve));
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  faults.afterCall = async (operation, key) => {
    if (operation !== 'list' || key !== 'p/') return;
    faults.afterCall = undefined;
    answered();
    await gate;
  };
  // The first page of p/ (without delimiter) holds every key of p/d/: its listing is learned too.
  const racing = fs.readdir('/p');
  await held;
  await writeFile(fs, '/p/d/new', 'new');
  release();
  await racing;
  t.deepEqual((await fs.readdir('/p/d')).map((entry) => entry.name).sort(), ['.', '..', 'a', 'new']);
});

test('a file unlinked or renamed while its upload runs shows as S3 holds it after', async (t) => {
  const core = setupCore();
  const { faults, fs, settled } = core;
  await fs.mkdir('/r', 0o755);
  await fs.readdir('/r');
  for (const [name, race] of [
    ['unlinked', () => fs.unlink('/r/unlinked')],
    ['renamed', () => fs.rename('/r/renamed', '/r/renamed-to')],
  ] as const) {
    let reached!: () => void;
    const putReached = new Promise<void>((resolve) => (reached = resolve));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    faults.beforeCall = async (operation) => {
      if (operation !== 'put') return;
      faults.beforeCall = undefined;
      reached();
      await gate;
    };
    const handle = await fs.create(`/r/${name}`, 0o644);
    await fs.write(handle, Buffer.from('bytes'), 0);
    const closing = fs.flush(handle);
    await putReached;
    const racing = race();
    release();
    await Promise.all([closing, racing]);
    await fs.release(handle);
    await settled();
    t.deepEqual(await viewOf(fs, '/r'), await freshViewOf(core, '/r', {}), name);
  }
  t.deepEqual((await fs.readdir('/r')).map((entry) => entry.name).sort(), ['.', '..', 'renamed-to']);
});

test('an edit that fails leaves the change to the invalidation rule: what it may touch is dropped, and the change is heard', async (t) => {
  const { fs, invalidation, cache } = setupCore();
  await fs.mkdir('/d', 0o755);
  await fs.readdir('/d');
  await fs.readdir('/');
  const events: string[] = [];
  invalidation.subscribe((event) => events.push(`${event.kind} ${'key' in event ? event.key : ''} ${event.origin}`));
  invalidation.changedHere('d/x', () => {
    throw new Error('an edit with a bug');
  });
  t.false(cache.metadata.has({ op: 'dir', bucket: 'bucket', key: 'd/' }), "the parent's listing");
  t.false(cache.metadata.has({ op: 'dir', bucket: 'bucket', key: '' }), "and the root's");
  t.deepEqual(events, ['key d/x local']);
});

test('a file hidden by a directory of the same name shows at once when the mount removes or moves the directory', async (t) => {
  const { store, fs } = setupCore();
  for (const dir of ['r', 'm']) {
    store.putObject(`${dir}/a`, 'file a');
    store.putObject(`${dir}/a/`, '');
    store.putObject(`${dir}/z`, 'z');
    t.deepEqual((await fs.readdir(`/${dir}`)).map((entry) => entry.name).sort(), ['.', '..', 'a', 'z']);
    t.is(await errno(fs.open(`/${dir}/a`, 0)), 'EISDIR');
  }
  await fs.rmdir('/r/a');
  await fs.rename('/m/a', '/m/b');
  for (const [dir, names] of [
    ['r', ['a', 'z']],
    ['m', ['a', 'b', 'z']],
  ] as const) {
    t.deepEqual((await fs.readdir(`/${dir}`)).map((entry) => entry.name).sort(), ['.', '..', ...names], dir);
    const attr = await fs.getattr(`/${dir}/a`);
    t.is(attr.mode & 0o170000, 0o100000, `${dir}/a is the file`);
    t.is(attr.size, 'file a'.length);
  }
});
