// Directory listings: a directory's first page, listed without delimiter, gives the listings
// of the subdirectories it holds entirely. Checked against the listing each directory gets
// on its own (with the delimiter), on random trees with awkward keys, and for LIST counts.

import { constants } from 'node:fs';
import test from 'ava';
import { setupCore as setup } from '../support/core.js';
import { seededRandom as random } from '../support/seeded-random.js';

const names = (entries: Array<{ name: string }>) => entries.map((e) => e.name).sort();

test('find over a tree: the first listing brings every subdirectory, no LIST per directory', async (t) => {
  const { store, calls, fs } = setup();
  for (let a = 0; a < 10; a++) for (let b = 0; b < 10; b++) for (let c = 0; c < 9; c++) store.putObject(`tree/d${a}/d${b}/f${c}`, Buffer.from('x'));
  const before = calls.list;
  t.deepEqual(names(await fs.readdir('/tree')), ['.', '..', ...Array.from({ length: 10 }, (_, a) => `d${a}`)].sort());
  const afterTop = calls.list;
  for (let a = 0; a < 10; a++) {
    t.is((await fs.getattr(`/tree/d${a}`)).mode & constants.S_IFMT, constants.S_IFDIR);
    t.is((await fs.readdir(`/tree/d${a}`)).length, 12);
    for (let b = 0; b < 10; b++) {
      t.deepEqual(names(await fs.readdir(`/tree/d${a}/d${b}`)), ['.', '..', ...Array.from({ length: 9 }, (_, c) => `f${c}`)].sort());
      for (let c = 0; c < 9; c++) t.is((await fs.getattr(`/tree/d${a}/d${b}/f${c}`)).mode & constants.S_IFMT, constants.S_IFREG);
    }
  }
  t.is(calls.list, afterTop, 'no LIST after the first listing');
  // The tree's getattr (a one-key probe) and one page of 900 keys.
  t.is(afterTop - before, 2);
  // Listings carry no metadata: each file's HEAD says what it is. Directories whose keys the
  // page held entirely have no marker to ask about.
  t.is(calls.head, 1 + 900, 'the lookup of "tree" itself, and one per file');
});

test('a first page cut off inside a subdirectory: that one is listed on its own, the others are known', async (t) => {
  const { store, calls, fs } = setup();
  for (let i = 0; i < 1500; i++) store.putObject(`a/${String(i).padStart(4, '0')}`, Buffer.from('x'));
  store.putObject('b/inner', Buffer.from('x'));
  store.putObject('c.txt', Buffer.from('x'));
  store.putObject('d/deep/er', Buffer.from('x'));
  t.deepEqual(names(await fs.readdir('/')), ['.', '..', 'a', 'b', 'c.txt', 'd']);
  // The root: a first page of 1,000 keys (all under a/), then the rest with the delimiter.
  t.is(calls.list, 2);
  t.is((await fs.readdir('/a')).length, 1502, 'a/ was cut off: listed on its own, whole');
  t.true(calls.list > 2);
  const count = calls.list;
  await fs.readdir('/b');
  await fs.readdir('/d');
  await fs.readdir('/d/deep');
  t.true(calls.list > count, 'b/ and d/ came after the cut: the root listing did not see them');
});

/** What `ls -a` shows in the directory with listing prefix `prefix`, from the keys alone. */
function modelListing(keys: Iterable<string>, prefix: string): string {
  const usable = (name: string) => name !== '' && name !== '.' && name !== '..' && Buffer.byteLength(name) <= 255;
  const entries = new Map<string, 'file' | 'dir'>();
  for (const key of keys) {
    if (!key.startsWith(prefix) || key === prefix) continue;
    const rest = key.slice(prefix.length);
    const slash = rest.indexOf('/');
    const name = slash < 0 ? rest : rest.slice(0, slash);
    if (!usable(name)) continue;
    // A directory wins over a file of the same name.
    if (slash >= 0) entries.set(name, 'dir');
    else if (!entries.has(name)) entries.set(name, 'file');
  }
  return ['.', '..', ...entries.keys()].sort().join('|');
}

test('listings learned from a subtree equal what each directory holds', async (t) => {
  const seed = Number(process.env.S3MOUNT_LISTING_SEED ?? 20261124);
  const next = random(seed);
  const parts = ['a', 'b', 'a b', 'é', 'x+y', '', '.', '..', 'n'.repeat(256), 'z'];
  for (let round = 0; round < 30; round++) {
    const { store, fs } = setup();
    const keys = new Set<string>();
    const count = 5 + Math.floor(next() * 60);
    for (let i = 0; i < count; i++) {
      const depth = 1 + Math.floor(next() * 4);
      keys.add(`root/${Array.from({ length: depth }, () => parts[Math.floor(next() * parts.length)]).join('/')}${next() < 0.1 ? '/' : ''}`);
    }
    for (const key of keys) store.putObject(key, Buffer.from(key));
    // Every directory reachable through usable names, parents first: the root's listing
    // teaches the others.
    const dirs = new Set<string>(['root/']);
    for (const key of keys) {
      const segments = key.split('/').slice(0, -1);
      for (let i = 2; i <= segments.length && ['', '.', '..'].every((bad) => segments[i - 1] !== bad) && Buffer.byteLength(segments[i - 1]) <= 255; i++) {
        dirs.add(`${segments.slice(0, i).join('/')}/`);
      }
    }
    for (const dir of [...dirs].sort()) {
      t.is(
        names(await fs.readdir(`/${dir.slice(0, -1)}`)).join('|'),
        modelListing(keys, dir),
        `seed ${seed} round ${round}: ${dir} (keys: ${JSON.stringify([...keys])})`,
      );
    }
  }
});

test('a change while a listing is on its way keeps the subdirectories it learned out of the cache', async (t) => {
  const { store, fs } = setup();
  store.putObject('p/q/r', Buffer.from('old'));
  store.putObject('p/s', Buffer.from('x'));
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const list = store.list.bind(store);
  let held = false;
  store.list = async (prefix, options) => {
    // Hold the first page of p/ until the change below has happened.
    if (prefix === 'p/' && !options?.delimiter && !held) {
      held = true;
      const page = await list(prefix, options);
      await gate;
      return page;
    }
    return list(prefix, options);
  };
  await fs.getattr('/p');
  const listing = fs.readdir('/p');
  await new Promise((resolve) => setImmediate(resolve));
  const handle = await fs.create('/p/q/new', 0o644);
  await fs.write(handle, Buffer.from('new'), 0);
  await fs.flush(handle);
  await fs.release(handle);
  release();
  t.deepEqual(names(await listing), ['.', '..', 'q', 's']);
  t.deepEqual(names(await fs.readdir('/p/q')), ['.', '..', 'new', 'r'], 'p/q/ was listed again, not taken from the page that predates the change');
});

test('a server that orders keys by locale (fauxqs) still gives every entry', async (t) => {
  const { store, fs } = setup();
  store.putObject('README.txt', Buffer.from('read me'));
  for (let i = 0; i < 1500; i++) store.putObject(`logs/entry-${String(i).padStart(4, '0')}.log`, Buffer.from('x'));
  store.putObject('photos/a.jpg', Buffer.from('x'));
  // As fauxqs lists: keys sorted by localeCompare ("README.txt" after "photos/"), each page
  // resumed after the last key by code units.
  const byteOrdered = store.list.bind(store);
  store.list = async (prefix, options = {}) => {
    const all: string[] = [];
    for (let token: string | undefined; ; ) {
      const page = await byteOrdered(prefix, { continuationToken: token, maxKeys: 1000 });
      all.push(...page.objects.map((o) => o.key));
      if (!(token = page.nextContinuationToken)) break;
    }
    all.sort((a, b) => a.localeCompare(b));
    const after = options.continuationToken ?? '';
    const page = {
      objects: [] as Array<{ key: string; size: number; etag: string; lastModified: Date }>,
      commonPrefixes: [] as string[],
      nextContinuationToken: undefined as string | undefined,
    };
    let count = 0;
    for (const key of all) {
      if (after && key <= after) continue;
      const slash = options.delimiter ? key.indexOf('/', prefix.length) : -1;
      const common = slash >= 0 ? key.slice(0, slash + 1) : undefined;
      if (common && (page.commonPrefixes.includes(common) || (after && common <= after))) continue;
      if (count === (options.maxKeys ?? 1000)) {
        page.nextContinuationToken = page.objects.at(-1)?.key ?? page.commonPrefixes.at(-1);
        break;
      }
      if (common) page.commonPrefixes.push(common);
      else page.objects.push(store.info(key)!);
      count++;
    }
    return page;
  };
  t.deepEqual(names(await fs.readdir('/')), ['.', '..', 'README.txt', 'logs', 'photos']);
  t.is((await fs.readdir('/logs')).length, 1502);
});
