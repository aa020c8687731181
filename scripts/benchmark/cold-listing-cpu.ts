// The CPU of `ls -l` of a 5,000-entry directory in the filesystem core (readdir, then a getattr
// per entry, all answered from the caches), with the caches as main builds them and with cold
// listings on (as a mount now builds them), in alternating rounds so that other load on the
// machine hits both alike; and with the listing made cold before each round (its decode then
// in the round). No FUSE, no S3: what the change costs on the path it touches. Not part of the
// tests: `node --import tsx scripts/benchmark/cold-listing-cpu.ts [ENTRIES] [ROUNDS]`
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryCaches } from '../../src/cache/caches.js';
import { type ColdSettings, coldSettings } from '../../src/cache/cold-codec.js';
import { listingCodec } from '../../src/fs/names/listing-codec.js';
import { silentLogger } from '../../src/log.js';
import { MemoryStore } from '../../src/s3/memory-store.js';
import { buildCore } from '../../src/wiring.js';

const ENTRIES = Number(process.argv[2] ?? 5_000);
const ROUNDS = Number(process.argv[3] ?? 20);
const staging = mkdtempSync(join(tmpdir(), 's3mount-cold-cpu-'));

function core(cold: ColdSettings | undefined) {
  let now = 0;
  const store = new MemoryStore('bucket');
  for (let i = 0; i < ENTRIES; i++) store.putObject(`dir/f${String(i).padStart(5, '0')}`, `file ${i}`);
  const caches = createMemoryCaches(
    { ttlMs: 3_600_000, opTtlMs: {}, maxMetadataEntries: 100_000, maxContentBytes: 1 << 24, now: () => now },
    silentLogger(),
    cold,
  );
  const { filesystem } = buildCore(store, caches, silentLogger(), {
    bucket: 'bucket',
    prefix: '',
    uid: 1000,
    gid: 1000,
    fileMode: 0o644,
    dirMode: 0o755,
    negativeTtlMs: 0,
    blockSize: 1 << 20,
    maxPrefetchBlocks: 0,
    readOnly: true,
    stagingDirectory: staging,
    partSize: 8 << 20,
  });
  const lsl = async () => {
    for (const { name } of await filesystem.readdir('/dir')) if (name !== '.' && name !== '..') await filesystem.getattr(`/dir/${name}`);
  };
  const goCold = () => {
    caches.compressIdle();
    now += 10_000;
    if (caches.compressIdle() !== 1) throw new Error('the listing did not go cold');
  };
  return { lsl, goCold };
}

const variants = {
  main: core(undefined),
  cold: core({ ...coldSettings(listingCodec), sweepMs: 0 }),
  'cold before each': core({ ...coldSettings(listingCodec), sweepMs: 0 }),
};
for (const variant of Object.values(variants)) await variant.lsl();
const ms: Record<string, number[]> = { main: [], cold: [], 'cold before each': [] };
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, variant] of Object.entries(variants)) {
    if (name === 'cold before each') variant.goCold();
    const started = performance.now();
    await variant.lsl();
    ms[name].push(performance.now() - started);
  }
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];
for (const [name, values] of Object.entries(ms)) {
  console.log(
    `ls -l of ${ENTRIES} entries in the core, ${name}: median ${median(values).toFixed(1)} ms, min ${Math.min(...values).toFixed(1)} ms (${ROUNDS} rounds)`,
  );
}
rmSync(staging, { recursive: true, force: true });
