// Invalidation events as the paths whose getattr answers they may change (for the attribute
// cache in the FUSE binding): keys and prefixes to mount paths, under a mount prefix or not.
import test from 'ava';
import { attrChangesOf, pathOfKey } from '../../src/fs/attr-changes.js';
import type { InvalidationEvent } from '../../src/fs/invalidation.js';

const key = (k: string): InvalidationEvent => ({ kind: 'key', bucket: 'b', key: k, origin: 'remote' });
const prefix = (p: string): InvalidationEvent => ({ kind: 'prefix', bucket: 'b', prefix: p, origin: 'control' });

test('keys are mount paths: the root, markers, keys outside the mount', (t) => {
  t.is(pathOfKey('', 'a/b'), '/a/b');
  t.is(pathOfKey('', 'a/b/'), '/a/b', "a directory's marker names the directory");
  t.is(pathOfKey('', ''), '/');
  t.is(pathOfKey('m/', 'm/a/b'), '/a/b');
  t.is(pathOfKey('m/', 'm/'), '/');
  t.is(pathOfKey('m/', 'm'), '/');
  t.is(pathOfKey('m/', 'mx/a'), undefined);
  t.is(pathOfKey('m/', 'other'), undefined);
});

test('a key changes its path (and, through the drop, its parent directory)', (t) => {
  t.deepEqual(attrChangesOf(key('a/b'), ''), [{ kind: 'path', path: '/a/b' }]);
  t.deepEqual(attrChangesOf(key('m/a'), 'm/'), [{ kind: 'path', path: '/a' }]);
  t.deepEqual(attrChangesOf(key('m/'), 'm/'), [{ kind: 'path', path: '/' }], 'the mount root');
  t.deepEqual(attrChangesOf(key('elsewhere/a'), 'm/'), []);
});

test('an s3fs folder object changes the directory it stands for', (t) => {
  t.deepEqual(attrChangesOf(key('a/d_$folder$'), ''), [
    { kind: 'path', path: '/a/d_$folder$' },
    { kind: 'path', path: '/a/d' },
  ]);
});

test('a prefix changes a tree; one holding the mount root changes everything', (t) => {
  t.deepEqual(attrChangesOf(prefix('a/b/'), ''), [{ kind: 'tree', path: '/a/b' }]);
  t.deepEqual(attrChangesOf(prefix('m/a/'), 'm/'), [{ kind: 'tree', path: '/a' }]);
  t.deepEqual(attrChangesOf(prefix(''), ''), [{ kind: 'all' }]);
  t.deepEqual(attrChangesOf(prefix('m/'), 'm/'), [{ kind: 'all' }]);
  t.deepEqual(attrChangesOf(prefix(''), 'm/x/'), [{ kind: 'all' }]);
  t.deepEqual(attrChangesOf(prefix('m/'), 'm/x/'), [{ kind: 'all' }]);
  t.deepEqual(attrChangesOf(prefix('n/'), 'm/'), []);
});

test('a clear changes everything', (t) => {
  t.deepEqual(attrChangesOf({ kind: 'clear', bucket: 'b', origin: 'control' }, 'm/'), [{ kind: 'all' }]);
});
