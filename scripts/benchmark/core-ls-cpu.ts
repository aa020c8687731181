// CPU the filesystem core spends on a cold `ls -l` of 5,000 entries, S3 left out: the store
// is in memory and answers at once, so what is measured is the core's own work per entry
// (listing, HEADs sent ahead, caches, the metadata disk tier, the answers put into the FUSE
// binding). Usage: node --import tsx scripts/benchmark/core-ls-cpu.ts [runs]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCaches } from '../../src/cache/caches.js';
import { DiskMetadataTier } from '../../src/cache/disk/disk-metadata-tier.js';
import { createAttributePrimer } from '../../src/fuse/adapter.js';
import { silentLogger } from '../../src/log.js';
import { instrumentStore } from '../../src/s3/counting-store.js';
import { MemoryStore } from '../../src/s3/memory-store.js';
import { buildCore } from '../../src/wiring.js';

const COUNT = 5000;
const runs = Number(process.argv[2] ?? 3);
const log = silentLogger();

function seeded(): MemoryStore {
  const store = new MemoryStore('bucket');
  for (let i = 0; i < COUNT; i++) store.putObject(`wide/f${String(i).padStart(5, '0')}`, 'x', { mode: '33188', uid: '0', gid: '0', mtime: '1700000000' });
  return store;
}

async function once(disk: boolean, store = seeded(), dir = mkdtempSync(join(tmpdir(), 's3mount-core-ls-')), keep = false) {
  const lower = disk ? [new DiskMetadataTier({ directory: dir, maxBytes: 64 * 1024 * 1024, compression: 'zstd' }, log)] : [];
  const caches = createCaches({ ttlMs: 60_000, opTtlMs: {}, maxMetadataEntries: 100_000, maxContentBytes: 64 * 1024 * 1024 }, log, { metadata: lower });
  const instrumented = instrumentStore(store, log);
  const { filesystem: fs } = buildCore(instrumented, caches, log, {
    bucket: 'bucket',
    prefix: '',
    uid: 0,
    gid: 0,
    fileMode: 0o644,
    dirMode: 0o755,
    negativeTtlMs: 0,
    blockSize: 1024 * 1024,
    maxPrefetchBlocks: 0,
    readOnly: false,
    stagingDirectory: dir,
    partSize: 8 * 1024 * 1024,
  });
  const primed = new Set<string>();
  fs.watchKnownAttributes(createAttributePrimer(fs, log, (path) => primed.add(path)));
  const cpu = process.cpuUsage();
  const entries = await fs.readdir('/wide');
  let asked = 0;
  for (const entry of entries) {
    if (entry.name === '.' || entry.name === '..') continue;
    const path = `/wide/${entry.name}`;
    // What ls -l's lstat costs JavaScript: nothing when the binding holds the answer.
    if (primed.has(path)) continue;
    asked++;
    if (!fs.attrIfKnown(path)) await fs.getattr(path);
  }
  const used = process.cpuUsage(cpu);
  await Promise.all(lower.map((tier) => tier.close()));
  if (!keep) rmSync(dir, { recursive: true, force: true });
  return { cpuMs: (used.user + used.system) / 1000, primed: primed.size, asked, calls: instrumented.calls() };
}

const report = (name: string, { cpuMs, primed, asked, calls }: Awaited<ReturnType<typeof once>>) =>
  console.log(
    `${name.padEnd(14)} cpu ${cpuMs.toFixed(0).padStart(5)} ms = ${((cpuMs * 1000) / COUNT).toFixed(1)} µs/entry  (primed ${primed}, asked the core ${asked}, ${calls.head.count} HEAD)`,
  );
for (let run = 0; run < runs; run++) {
  for (const disk of [false, true]) report(disk ? 'disk tier' : 'memory', await once(disk));
  // A remount: a new core over the same disk tier.
  const store = seeded();
  const dir = mkdtempSync(join(tmpdir(), 's3mount-core-ls-'));
  await once(true, store, dir, true);
  report('after remount', await once(true, store, dir));
}
