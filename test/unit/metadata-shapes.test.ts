// Metadata read back from a shared tier is used only when it has the shape the names layer
// stores under that key; a foreign, corrupt or misshapen value is refused.
import test from 'ava';
import { decodeEntry, encodeEntry } from '../../src/cache/entry-codec.js';
import type { CacheKey } from '../../src/cache/types.js';
import { isWellFormedMetadata } from '../../src/fs/names/metadata-shapes.js';
import { versionOf } from '../../src/fs/names/object-kinds.js';

const info = { key: 'dir/a.txt', size: 12, etag: '"abc"', lastModified: new Date(1_700_000_000_000), metadata: { mode: '33188' } };
const head: CacheKey = { op: 'head', bucket: 'b-1', key: 'dir/a.txt' };
const dir: CacheKey = { op: 'dir', bucket: 'b-1', key: 'dir/' };
const probe: CacheKey = { op: 'list', bucket: 'b-1', key: 'dir/', params: 'probe' };
const listing = {
  entries: new Map<string, object>([
    ['a.txt', { type: 'file', key: 'dir/a.txt', size: 12, etag: '"abc"', mtime: new Date(1_700_000_000_000) }],
    ['sub', { type: 'dir', prefix: 'dir/sub/', marker: null }],
    ['old', { type: 'dir', prefix: 'dir/old/', marker: { key: 'dir/old_$folder$', size: 0, etag: '"d"', lastModified: new Date(0) } }],
  ]),
};

/** As a value comes back from Redis: through the entry codec. */
const roundTrip = (value: object) => decodeEntry(encodeEntry(value));

test('HEAD answers, probe pages and listings of the right key are accepted after a round trip', (t) => {
  t.true(isWellFormedMetadata(head, roundTrip(info)));
  t.true(isWellFormedMetadata(head, roundTrip({ missing: true })));
  t.true(isWellFormedMetadata({ ...head, params: versionOf(info) }, roundTrip(info)));
  t.true(isWellFormedMetadata(probe, roundTrip({ objects: [{ ...info, key: 'dir/' }], commonPrefixes: ['dir/sub/'] })));
  t.true(isWellFormedMetadata(probe, roundTrip({ objects: [], commonPrefixes: [] })));
  t.true(isWellFormedMetadata(dir, roundTrip(listing)));
  t.true(isWellFormedMetadata({ ...dir, key: '' }, roundTrip({ entries: new Map([['top', { type: 'dir', prefix: 'top/' }]]) })));
});

test('values of another key, or of the wrong shape, are refused', (t) => {
  const bad: Array<[string, CacheKey, unknown]> = [
    ['a HEAD answer of another key', head, { ...info, key: 'dir/b.txt' }],
    ['a HEAD answer of another version', { ...head, params: '"zzz"@1' }, info],
    ['"missing" for a version', { ...head, params: versionOf(info) }, { missing: true }],
    ['a negative size', head, { ...info, size: -1 }],
    ['a fractional size', head, { ...info, size: 1.5 }],
    ['a size as text', head, { ...info, size: '12' }],
    ['a time that is not a date', head, { ...info, lastModified: 'yesterday' }],
    ['metadata that is not text', head, { ...info, metadata: { mode: 420 } }],
    ['an unknown field', head, { ...info, extra: true }],
    ['a probe page listing another directory', probe, { objects: [{ ...info, key: 'other/x' }], commonPrefixes: [] }],
    ['a probe prefix without its slash', probe, { objects: [], commonPrefixes: ['dir/sub'] }],
    ['a page as a HEAD answer', head, { objects: [], commonPrefixes: [] }],
    ['a listing whose entries are not a map', dir, { entries: { 'a.txt': listing.entries.get('a.txt') } }],
    [
      'a listing entry of another directory',
      dir,
      { entries: new Map([['a.txt', { type: 'file', key: 'other/a.txt', size: 1, etag: '"e"', mtime: new Date(0) }]]) },
    ],
    ['a listing entry named with a slash', dir, { entries: new Map([['x/y', { type: 'file', key: 'dir/x/y', size: 1, etag: '"e"', mtime: new Date(0) }]]) }],
    ['a listing entry named ..', dir, { entries: new Map([['..', { type: 'dir', prefix: 'dir/../' }]]) }],
    ['a directory entry with another prefix', dir, { entries: new Map([['sub', { type: 'dir', prefix: 'elsewhere/' }]]) }],
    ['a directory marker of another name', dir, { entries: new Map([['sub', { type: 'dir', prefix: 'dir/sub/', marker: { ...info, key: 'dir/x/' } }]]) }],
    ['an entry of an unknown type', dir, { entries: new Map([['l', { type: 'link', key: 'dir/l' }]]) }],
    ['a listing of a key that is not a directory', { ...dir, key: 'dir' }, listing],
    ['an unknown operation', { op: 'block', bucket: 'b-1', key: 'dir/a.txt' } as CacheKey, info],
    ['nothing', head, undefined],
  ];
  for (const [what, key, value] of bad) t.false(isWellFormedMetadata(key, value), what);
});
