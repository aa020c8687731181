// What a cached listing of a 100,000-key directory costs in memory as the metadata cache holds
// it live (a Map of nodes), against the same listing gone cold in the memory tier (encoded by
// src/fs/names/listing-codec.ts, then zstd), and the CPU to go from one to the other, through
// the tier itself. Also the generic encodings it was chosen against (the entry codec's JSON,
// v8.serialize). Not part of the tests:
// `node --expose-gc --import tsx scripts/benchmark/listing-memory.ts [KEYS]`
import { deserialize, serialize } from 'node:v8';
import { coldSettings } from '../../src/cache/cold-codec.js';
import { BlockCodec } from '../../src/cache/disk/codec.js';
import { decodeEntry, encodeEntry } from '../../src/cache/entry-codec.js';
import { MemoryTier } from '../../src/cache/memory-tier.js';
import { listingCodec } from '../../src/fs/names/listing-codec.js';
import { type DirListing, type FsNode, fileNode } from '../../src/fs/nodes.js';

const KEYS = Number(process.argv[2] ?? 100_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

function memory(): { heap: number; rss: number } {
  gc?.();
  gc?.();
  const { heapUsed, rss } = process.memoryUsage();
  return { heap: heapUsed, rss };
}

const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;

/** A listing as Namespace assembles it from list pages (names as in the 100,000-key test). */
function listing(): DirListing {
  const entries = new Map<string, FsNode>();
  for (let i = 0; i < KEYS; i++) {
    const name = `k${String(i).padStart(6, '0')}`;
    // Strings as the page scanner makes them: sliced from a larger text, then copied.
    const etag = `"${(i * 2654435761).toString(16).padStart(32, '0')}"`;
    entries.set(name, fileNode({ key: `huge/${name}`, size: 7, etag, lastModified: new Date(1_700_000_000_000 + i) }));
  }
  return { entries };
}

// Through the metadata memory tier, on a manual clock: live, then cold, then used again.
let now = 0;
const tier = new MemoryTier({ name: 'metadata/memory', boundBy: 'entries', bound: 10, now: () => now, cold: { ...coldSettings(listingCodec), sweepMs: 0 } });
const cacheKey = 'dir\u0000b\u0000huge/\u0000';
const base = memory();
// In a function: a temporary of the module's own frame would stay reachable.
(() => tier.set(cacheKey, 'b\u0000huge/', 'dir', listing(), 3_600_000, 1))();
const live = memory();
console.log(`listing of ${KEYS} keys live in the tier: ${mib(live.heap - base.heap)} of heap, ${mib(live.rss - base.rss)} of RSS`);
now += coldSettings(listingCodec).afterMs;
let started = performance.now();
const compressed = tier.compressIdle();
const compressMs = performance.now() - started;
const cold = memory();
const stats = tier.stats();
console.log(
  `cold (${compressed} compressed): ${mib(cold.heap - base.heap)} of heap (${mib(live.heap - cold.heap)} less), RSS ${mib(cold.rss - base.rss)} over the start (${mib(live.rss - cold.rss)} less); held in ${mib(stats.compressedBytes ?? 0)}, counted as saving ${mib(stats.savedBytes ?? 0)}`,
);
started = performance.now();
const size = (() => (tier.get(cacheKey) as DirListing).entries.size)();
const decodeMs = performance.now() - started;
if (size !== KEYS) throw new Error('decoded listing differs');
console.log(`CPU: to go cold ${compressMs.toFixed(0)} ms (encode and zstd); to use it again ${decodeMs.toFixed(0)} ms`);
const again = memory();
console.log(`used again (live, decoded): ${mib(again.heap - base.heap)} of heap, RSS ${mib(again.rss - base.rss)} over the start`);
tier.clear();

// The generic encodings, for comparison.
const codec = new BlockCodec('zstd');
for (const form of ['json', 'v8', 'columns'] as const) {
  let held: DirListing | undefined = listing();
  const {
    stored,
    encodeMs,
    compressMs: zstdMs,
    encodedBytes,
  } = ((value: DirListing) => {
    const before = performance.now();
    const bytes = form === 'json' ? Buffer.from(encodeEntry(value)) : form === 'v8' ? serialize(value) : (listingCodec.encode('dir', value) as Buffer);
    const encoded = performance.now();
    const compressed = codec.encode(bytes);
    return { stored: compressed, encodeMs: encoded - before, compressMs: performance.now() - encoded, encodedBytes: bytes.length };
  })(held);
  held = undefined;
  const begun = performance.now();
  const plain = codec.decode(stored) as Buffer;
  const decoded = (form === 'json' ? decodeEntry(plain.toString()) : form === 'v8' ? deserialize(plain) : listingCodec.decode('dir', plain)) as DirListing;
  const ms = performance.now() - begun;
  if (decoded.entries.size !== KEYS) throw new Error('decoded listing differs');
  console.log(
    `form ${form}: ${mib(encodedBytes)} encoded, ${mib(stored.payload.length)} compressed (zstd level 1); encode ${encodeMs.toFixed(0)} ms + zstd ${zstdMs.toFixed(0)} ms; decode ${ms.toFixed(0)} ms`,
  );
}

// What a lookup of a live entry costs with and without cold settings (the tier then reads the
// clock on each use of a large entry): a 5,000-entry listing and a HEAD answer, looked up in
// turns, alternating the two tiers so that other load on the machine hits both alike.
{
  const LOOKUPS = 1_000_000;
  const small = listing().entries;
  const entries = new Map([...small].slice(0, 5_000));
  const tiers = {
    plain: new MemoryTier({ name: 'metadata/memory', boundBy: 'entries', bound: 10 }),
    cold: new MemoryTier({ name: 'metadata/memory', boundBy: 'entries', bound: 10, cold: coldSettings(listingCodec) }),
  };
  for (const tier of Object.values(tiers)) {
    tier.set('dir', 'd', 'dir', { entries }, 3_600_000, 1);
    tier.set('head', 'h', 'head', { key: 'huge/k000001' }, 3_600_000, 1);
  }
  const ns: Record<string, number[]> = { plain: [], cold: [] };
  for (let round = 0; round < 10; round++) {
    for (const [name, tier] of Object.entries(tiers)) {
      const begun = performance.now();
      let found = 0;
      for (let i = 0; i < LOOKUPS; i++) if (tier.get(i & 1 ? 'dir' : 'head')) found++;
      if (found !== LOOKUPS) throw new Error('lookup missed');
      ns[name].push(((performance.now() - begun) * 1e6) / LOOKUPS);
    }
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];
  console.log(
    `lookup of a live entry: ${median(ns.plain).toFixed(0)} ns without cold settings, ${median(ns.cold).toFixed(0)} ns with (medians of 10 rounds of ${LOOKUPS})`,
  );
  tiers.cold.clear();
}
