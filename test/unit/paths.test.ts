// Paths as FUSE hands them over, and the odd ones, to keys and listing prefixes.
import test from 'ava';
import { dirPrefixOf, keyOf, splitPath, unusableNameReason } from '../../src/fs/names/paths.js';

test('keys of paths under a prefix, normalised or not', (t) => {
  for (const prefix of ['', 'photos/2024/']) {
    t.is(keyOf(prefix, '/a'), `${prefix}a`);
    t.is(keyOf(prefix, '/a/b c/d+e'), `${prefix}a/b c/d+e`);
    t.is(keyOf(prefix, '/'), prefix);
    t.is(keyOf(prefix, '//a///b/'), `${prefix}a/b`, 'empty components do not make keys');
    t.is(keyOf(prefix, 'a/b'), `${prefix}a/b`);
    t.is(dirPrefixOf(prefix, '/'), prefix);
    t.is(dirPrefixOf(prefix, '/a/b'), `${prefix}a/b/`);
  }
  t.deepEqual(splitPath('/a/b/c'), { parent: '/a/b', name: 'c' });
  t.deepEqual(splitPath('/c'), { parent: '/', name: 'c' });
});

test('names a file system cannot show', (t) => {
  t.is(unusableNameReason('ok'), undefined);
  t.truthy(unusableNameReason(''));
  t.truthy(unusableNameReason('.'));
  t.truthy(unusableNameReason('..'));
  t.truthy(unusableNameReason('a\u0000b'));
  t.is(unusableNameReason('é'.repeat(127)), undefined, '254 bytes');
  t.truthy(unusableNameReason('é'.repeat(128)), '256 bytes');
});
