// What a cached listing of a 100,000-key directory costs in memory, as the metadata cache holds
// it (a Map of nodes), against the same listing kept encoded and compressed (what a "cold"
// entry would cost), and the time to go from one to the other. Decides whether compressing
// cold entries in memory pays. Not part of the tests:
// `node --expose-gc --import tsx scripts/benchmark/listing-memory.ts [KEYS]`
import { deserialize, serialize } from 'node:v8';
import { BlockCodec } from '../../src/cache/disk/codec.js';
import { decodeEntry, encodeEntry } from '../../src/cache/entry-codec.js';
import { type DirListing, type FsNode, fileNode } from '../../src/fs/nodes.js';

const KEYS = Number(process.argv[2] ?? 100_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

function heap(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
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

const base = heap();
let held: DirListing | undefined = listing();
const asObjects = heap() - base;
console.log(`listing of ${KEYS} keys as objects (Map of nodes): ${mib(asObjects)} of heap, ${(asObjects / KEYS).toFixed(0)} bytes per entry`);

const codec = new BlockCodec('zstd');
for (const form of ['json', 'v8'] as const) {
  held ??= listing();
  // In a function of its own, so that nothing but the compressed form outlives it.
  const { stored, encodeMs, compressMs, encodedBytes } = ((value: DirListing) => {
    const before = performance.now();
    const bytes = form === 'json' ? Buffer.from(encodeEntry(value)) : serialize(value);
    const encoded = performance.now();
    const compressed = codec.encode(bytes);
    return { stored: compressed, encodeMs: encoded - before, compressMs: performance.now() - encoded, encodedBytes: bytes.length };
  })(held);
  held = undefined;
  const started = performance.now();
  const plain = codec.decode(stored) as Buffer;
  const back = (form === 'json' ? decodeEntry(plain.toString()) : deserialize(plain)) as DirListing;
  const decodeMs = performance.now() - started;
  if (back.entries.size !== KEYS || !(back.entries.get('k000001') as { mtime: Date }).mtime.getTime()) throw new Error('decoded listing differs');
  console.log(`cold form ${form}: ${mib(encodedBytes)} encoded, ${mib(stored.payload.length)} compressed (zstd level 1)`);
  console.log(`  held compressed instead of as objects: saves ${mib(asObjects - stored.payload.length)}`);
  console.log(`  to compress: encode ${encodeMs.toFixed(0)} ms + zstd ${compressMs.toFixed(0)} ms; to use again: ${decodeMs.toFixed(0)} ms`);
}
