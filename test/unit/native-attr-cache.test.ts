// The attribute cache inside the FUSE binding (scripts/fuse-native-attr-cache.h), through the
// functions it exports: what a getattr finds after an answer was kept, what drops remove, and
// that an answer computed before a drop is never kept after it. The binding holds one cache
// per process (ava runs each file in its own): the tests run one after another.

import test from 'ava';
import Fuse, { type AttrCache } from 'fuse-native';
import { NativeAttrCache } from '../../src/fuse/native-attr-cache.js';
import { prebuiltBindingNote } from '../support/native-binding.js';

const FILE = 0o100644;
const DIR = 0o040755;
const LINK = 0o120777;
const HOUR = 3_600_000;

function cache(): AttrCache {
  const binding = Fuse.attrCache;
  if (!binding) throw new Error(`the fuse-native binding has no attribute cache: ${prebuiltBindingNote() || 'index.js not patched'}`);
  return binding;
}

/** Keeps an answer for `path` as a getattr that began now would. */
function keep(path: string, mode = FILE, size = 1, keepMs = HOUR): boolean {
  const { generation } = cache().lookup(path);
  return cache().store(path, mode, size, 1_000_000, keepMs, generation);
}

const held = (path: string) => cache().lookup(path).stat !== null;

/** The counters' growth while `work` runs (they count from the process's start). */
function counted(work: () => void): Record<string, number> {
  const before = cache().stats() as unknown as Record<string, number>;
  work();
  const after = cache().stats() as unknown as Record<string, number>;
  return Object.fromEntries(Object.keys(after).map((name) => [name, name === 'entries' || name === 'maxEntries' ? after[name] : after[name] - before[name]]));
}

test.beforeEach(() => cache().configure(1000));

test.serial('a kept answer is what the next getattr finds, until a drop of its path', (t) => {
  const counts = counted(() => {
    t.true(keep('/a/f', FILE, 42));
    t.deepEqual(cache().lookup('/a/f').stat, { mode: FILE, size: 42, mtimeMs: 1_000_000 });
    cache().drop('/a/f', 0, 0);
    t.is(cache().lookup('/a/f').stat, null);
  });
  t.like(counts, { entries: 0, stored: 1, dropped: 1, hits: 1, misses: 2 });
});

test.serial('an answer computed before a drop of its path is refused', (t) => {
  const counts = counted(() => {
    const { generation } = cache().lookup('/a/f');
    cache().drop('/a/f', 0, 0);
    t.false(cache().store('/a/f', FILE, 1, 0, HOUR, generation));
    t.false(held('/a/f'));
  });
  t.like(counts, { refused: 1, stored: 0 });
  // A getattr that began after the drop is kept.
  t.true(keep('/a/f'));
});

test.serial('a drop of a parent directory or a tree refuses the answers in flight under it', (t) => {
  const { generation } = cache().lookup('/d/sub/f');
  cache().drop('/d', 1, 1);
  t.false(cache().store('/d/sub/f', FILE, 1, 0, HOUR, generation), 'dropped under /d');
  const later = cache().lookup('/d/sub/f').generation;
  cache().clear();
  t.false(cache().store('/d/sub/f', FILE, 1, 0, HOUR, later), 'cleared');
});

test.serial('a drop elsewhere does not refuse an answer in flight', (t) => {
  const { generation } = cache().lookup('/a/f');
  cache().drop('/a/g', 0, 0);
  t.true(cache().store('/a/f', FILE, 1, 0, HOUR, generation));
});

test.serial('a drop with entries takes the parent directory too; with tree everything under the path', (t) => {
  for (const path of ['/', '/d', '/d/f', '/d/sub', '/d/sub/g', '/dx', '/dx/h', '/e'])
    t.true(keep(path, path.includes('f') || path.includes('g') || path.includes('h') ? FILE : DIR));
  cache().drop('/d/f', 1, 0);
  t.false(held('/d/f'));
  t.false(held('/d'), 'the parent');
  t.true(held('/d/sub'));
  t.true(held('/'));
  cache().drop('/e', 1, 0);
  t.false(held('/'), 'the root is the parent of a name under it');
  cache().drop('/d/sub', 1, 1);
  t.false(held('/d/sub'));
  t.false(held('/d/sub/g'));
  t.true(held('/dx'), 'a sibling whose name starts the same stays');
  t.true(held('/dx/h'));
  cache().drop('/', 0, 1);
  t.is(cache().stats().entries, 0, 'everything is under the root');
});

test.serial('a rename of a name with nothing under it drops only that name', (t) => {
  t.true(keep('/a/f'));
  t.true(keep('/a/g'));
  cache().drop('/a/f', 1, 1);
  t.false(held('/a/f'));
  t.true(held('/a/g'));
});

test.serial('only files, directories and links are kept; nothing without a keep time', (t) => {
  t.true(keep('/file', FILE));
  t.true(keep('/dir', DIR));
  t.true(keep('/link', LINK));
  t.false(keep('/fifo', 0o010644));
  t.false(keep('/socket', 0o140755));
  t.false(keep('/no-time', FILE, 1, 0));
});

test.serial('an answer is found only until its keep time ends', async (t) => {
  t.true(keep('/soon', FILE, 1, 30));
  t.true(held('/soon'));
  await new Promise((resolve) => setTimeout(resolve, 60));
  t.like(
    counted(() => t.false(held('/soon'))),
    { expired: 1, entries: 0 },
  );
});

test.serial('the bound pushes the oldest answers out', (t) => {
  cache().configure(3);
  const counts = counted(() => {
    for (const name of ['a', 'b', 'c', 'd']) t.true(keep(`/${name}`));
  });
  t.like(counts, { entries: 3, evicted: 1, maxEntries: 3 });
  t.false(held('/a'));
  t.true(held('/d'));
});

test.serial('turned off, it keeps nothing and finds nothing', (t) => {
  t.true(keep('/a'));
  cache().configure(0);
  t.false(held('/a'));
  t.false(keep('/a'));
});

test.serial('paths of any length and bytes', (t) => {
  const long = `/${'d/'.repeat(3000)}f`;
  const odd = '/é ü/\u{1f600}/a\tb';
  t.true(keep(long));
  t.true(keep(odd));
  cache().drop('/d', 0, 1);
  t.false(held(long));
  t.true(held(odd));
  cache().drop(odd, 0, 0);
  t.false(held(odd));
});

test.serial('a path that is not UTF-8 is never kept: the drops JavaScript sends could not name it', (t) => {
  for (const bytes of [
    [0x2f, 0xff],
    [0x2f, 0xc0, 0xaf],
    [0x2f, 0xed, 0xa0, 0x80],
    [0x2f, 0xe2, 0x82],
  ]) {
    const path = Buffer.from(bytes);
    t.false(cache().store(path, FILE, 1, 0, HOUR, cache().lookup(path).generation), path.toString('hex'));
  }
  const utf8 = Buffer.from('/é/\u{1f600}');
  t.true(cache().store(utf8, FILE, 1, 0, HOUR, cache().lookup(utf8).generation));
  t.true(held('/é/\u{1f600}'));
});

test.serial('NativeAttrCache turns changes into drops, and one mount per process holds it', (t) => {
  const native = NativeAttrCache.open(100);
  t.truthy(native);
  t.teardown(() => native?.close());
  t.is(NativeAttrCache.open(100), undefined, 'a second mount in this process goes without');
  t.is(NativeAttrCache.open(100, null), undefined);
  for (const path of ['/', '/d', '/d/f', '/d/sub', '/d/sub/g', '/x']) t.true(keep(path, path.endsWith('f') || path.endsWith('g') ? FILE : DIR));
  native?.apply({ kind: 'path', path: '/d/f' });
  t.deepEqual(['/d', '/d/f', '/d/sub', '/'].map(held), [false, false, true, true]);
  native?.apply({ kind: 'tree', path: '/d/sub' });
  t.deepEqual(['/d/sub', '/d/sub/g', '/x'].map(held), [false, false, true]);
  native?.apply({ kind: 'all' });
  t.is(native?.stats().entries, 0);
});
