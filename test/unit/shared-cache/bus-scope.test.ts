// What another mount's change means for a mount of BUCKET or BUCKET:PREFIX: which of its
// invalidations to apply, or none for keys outside its prefix.
import test from 'ava';
import { scopeOf } from '../../../src/shared-cache/bus-scope.js';

test('a mount of the whole bucket applies every change', (t) => {
  t.deepEqual(scopeOf({ kind: 'key', key: 'a/b.txt' }, ''), { apply: 'key', key: 'a/b.txt' });
  t.deepEqual(scopeOf({ kind: 'key', key: '' }, ''), { apply: 'root' });
  t.deepEqual(scopeOf({ kind: 'key', key: 'photos/' }, ''), { apply: 'key', key: 'photos' }, "another mount's root listing is a directory here");
  t.deepEqual(scopeOf({ kind: 'prefix', prefix: 'a/' }, ''), { apply: 'tree', key: 'a' });
  t.deepEqual(scopeOf({ kind: 'prefix', prefix: '' }, ''), { apply: 'everything' });
  t.deepEqual(scopeOf({ kind: 'clear', prefix: '' }, ''), { apply: 'clear' });
  t.deepEqual(scopeOf({ kind: 'clear', prefix: 'photos/' }, ''), { apply: 'tree', key: 'photos' }, "a clear of another mount's prefix is that prefix here");
});

test('a mount of a prefix applies only changes that reach under it', (t) => {
  const root = 'photos/2024/';
  t.deepEqual(scopeOf({ kind: 'key', key: 'photos/2024/a.jpg' }, root), { apply: 'key', key: 'photos/2024/a.jpg' });
  t.deepEqual(scopeOf({ kind: 'key', key: 'photos/2024/trip' }, root), { apply: 'key', key: 'photos/2024/trip' });
  t.is(scopeOf({ kind: 'key', key: 'photos/2023/a.jpg' }, root), undefined);
  t.is(scopeOf({ kind: 'key', key: 'photos/2024x' }, root), undefined, 'a sibling sharing the first characters is not under it');
  t.is(scopeOf({ kind: 'key', key: 'other.txt' }, root), undefined);
  t.is(scopeOf({ kind: 'key', key: '' }, root), undefined, "the bucket root's listing does not list under the prefix");
  t.deepEqual(scopeOf({ kind: 'key', key: 'photos/2024' }, root), { apply: 'root' }, 'the directory shown as root appeared or went');
  t.deepEqual(scopeOf({ kind: 'key', key: 'photos/2024/' }, root), { apply: 'root' });
  t.deepEqual(scopeOf({ kind: 'prefix', prefix: 'photos/2024/trip/' }, root), { apply: 'tree', key: 'photos/2024/trip' });
  t.deepEqual(scopeOf({ kind: 'prefix', prefix: 'photos/' }, root), { apply: 'everything' }, 'a tree holding the whole root');
  t.deepEqual(scopeOf({ kind: 'prefix', prefix: 'photos/2024/' }, root), { apply: 'everything' });
  t.is(scopeOf({ kind: 'prefix', prefix: 'photos/2023/' }, root), undefined);
  t.deepEqual(scopeOf({ kind: 'clear', prefix: '' }, root), { apply: 'clear' });
  t.deepEqual(scopeOf({ kind: 'clear', prefix: 'photos/2024/trip/' }, root), { apply: 'tree', key: 'photos/2024/trip' });
  t.is(scopeOf({ kind: 'clear', prefix: 'docs/' }, root), undefined);
});
