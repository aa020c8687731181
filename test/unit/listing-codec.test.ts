// Listings as the memory tier keeps them while cold: every shape of entry comes back equal and
// in order, and bytes that are not an encoding decode to nothing (the entry is then dropped).
import test from 'ava';
import { listingCodec } from '../../src/fs/names/listing-codec.js';
import { type DirListing, type FsNode, fileNode } from '../../src/fs/nodes.js';

const roundTrip = (listing: DirListing) => {
  const bytes = listingCodec.encode('dir', listing);
  if (!bytes) throw new Error('not encoded');
  return { bytes, back: listingCodec.decode('dir', bytes) as DirListing };
};

const plain = (name: string, i: number, base = 'd/') =>
  fileNode({ key: `${base}${name}`, size: i * 1000, etag: `"etag-${i}"`, lastModified: new Date(1_700_000_000_123 + i) });

function mixed(): DirListing {
  const entries = new Map<string, FsNode>();
  entries.set('zeta', plain('zeta', 1));
  entries.set('sub', { type: 'dir', prefix: 'd/sub/' });
  entries.set('marked', {
    type: 'dir',
    prefix: 'd/marked/',
    mtime: new Date(5),
    marker: { key: 'd/marked/', size: 0, etag: '"m"', lastModified: new Date(5) },
  });
  entries.set('nomarker', { type: 'dir', prefix: 'd/nomarker/', marker: null });
  entries.set('alpha', plain('alpha', 2));
  // As ListingEdits writes a file without metadata: no metadata property at all.
  entries.set('edited', { type: 'file', key: 'd/edited', size: 3, etag: '"e"', mtime: new Date(7) });
  entries.set('withmeta', { type: 'file', key: 'd/withmeta', size: 4, etag: '"w"', mtime: new Date(8), metadata: { mode: '33188', uid: '0' } });
  entries.set('é ünïcode 🙂', plain('é ünïcode 🙂', 3));
  entries.set('elsewhere', { type: 'file', key: 'other/elsewhere', size: 5, etag: '"o"', mtime: new Date(9) });
  entries.set('nan', { type: 'file', key: 'd/nan', size: 6, etag: '"n"', mtime: new Date(Number.NaN) });
  entries.set('-0', { type: 'file', key: 'd/-0', size: -0, etag: '', mtime: new Date(0) });
  return { entries };
}

test('every kind of entry comes back equal, in the listing order', (t) => {
  const listing = mixed();
  const { bytes, back } = roundTrip(listing);
  t.is(bytes[0], 0, 'in columns');
  t.deepEqual(back, listing);
  t.deepEqual([...back.entries.keys()], [...listing.entries.keys()]);
  for (const [name, node] of listing.entries) t.deepEqual(Object.keys(back.entries.get(name) ?? {}), Object.keys(node), name);
  t.true(Object.is((back.entries.get('-0') as { size: number }).size, -0));
  t.true(back.entries.get('nan')?.mtime instanceof Date);
});

test('names, ETags or keys the columns cannot carry: the whole listing is serialized, and comes back equal', (t) => {
  for (const odd of ['nul\u0000inside', 'lone\ud800surrogate']) {
    const listing = mixed();
    listing.entries.set(odd, plain(odd, 4));
    const { bytes, back } = roundTrip(listing);
    t.is(bytes[0], 1, JSON.stringify(odd));
    t.deepEqual(back, listing);
    const etags = mixed();
    etags.entries.set('x', { type: 'file', key: 'd/x', size: 1, etag: odd, mtime: new Date(1) });
    t.deepEqual(roundTrip(etags).back, etags);
  }
  const base = { entries: new Map<string, FsNode>([['a', plain('a', 1, 'we\u0000ird/')]]) };
  t.deepEqual(roundTrip(base).back, base);
});

test('an empty listing, one of directories only, and a large one', (t) => {
  const empty: DirListing = { entries: new Map() };
  t.deepEqual(roundTrip(empty).back, empty);
  const dirs: DirListing = { entries: new Map([['a', { type: 'dir', prefix: 'a/' } as FsNode]]) };
  t.deepEqual(roundTrip(dirs).back, dirs);
  const large: DirListing = { entries: new Map() };
  for (let i = 0; i < 5_000; i++) large.entries.set(`f${i}`, plain(`f${i}`, i, 'big/'));
  const { bytes, back } = roundTrip(large);
  t.deepEqual(back, large);
  t.true(bytes.length < (5_000 * 370) / 4, 'a quarter of what it weighs, before zstd');
});

test('weighs listings by their entries, only for dir entries; anything else is not encoded', (t) => {
  const listing = mixed();
  t.is(listingCodec.weigh('dir', listing), listing.entries.size * 370);
  t.is(listingCodec.weigh('head', listing), undefined);
  t.is(listingCodec.weigh('dir', { key: 'x' }), undefined);
  t.is(listingCodec.encode('list', listing), undefined);
  t.is(listingCodec.encode('dir', { objects: [] }), undefined);
});

test('bytes that are not an encoding decode to nothing, never throw', (t) => {
  const { bytes } = roundTrip(mixed());
  const damaged = [
    Buffer.alloc(0),
    Buffer.from([7]),
    bytes.subarray(0, bytes.length - 1),
    bytes.subarray(0, 10),
    Buffer.concat([bytes, Buffer.from([0])]),
    Buffer.from([1, 1, 2, 3]),
    Buffer.concat([Buffer.from([1]), Buffer.from('not v8')]),
  ];
  const kinds = Buffer.from(bytes);
  kinds[13 + mixed().entries.size * 16] = 9;
  damaged.push(kinds);
  for (const bad of damaged) t.is(listingCodec.decode('dir', bad), undefined, bad.toString('hex').slice(0, 40));
  t.is(listingCodec.decode('head', bytes), undefined);
});
