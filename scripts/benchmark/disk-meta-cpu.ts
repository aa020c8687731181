// CPU of what the metadata disk tier adds to the HEADs of a cold `ls -l` of 5,000 entries, in
// a fresh process each run (the JIT as cold as a fresh mount's): per entry, a recall of the
// version entry below memory (a miss), then the HEAD answer stored by version, 32 at a time
// as HEADs come back; then the writes that wait. With "memory" the same without the tier.
// Usage: node --import tsx scripts/benchmark/disk-meta-cpu.ts [disk|memory] [runs]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createCaches } from '../../src/cache/caches.js';
import { DiskMetadataTier } from '../../src/cache/disk/disk-metadata-tier.js';
import { versionKey } from '../../src/fs/names/metadata-keys.js';

const COUNT = 5000;
const mode = process.argv[2] ?? 'disk';
if (process.argv[3] !== 'child') {
  const runs = Number(process.argv[3] ?? 5);
  for (let i = 0; i < runs; i++) {
    for (const way of mode === 'both' ? ['disk', 'memory'] : [mode]) {
      process.stdout.write(execFileSync(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, way, 'child']));
    }
  }
} else {
  const directory = mkdtempSync(join(tmpdir(), 'disk-meta-cpu-'));
  const log = pino({ level: 'silent' });
  const disk = mode === 'disk' ? new DiskMetadataTier({ directory, maxBytes: 64 * 1024 * 1024, compression: 'zstd' }, log) : undefined;
  const caches = createCaches(
    { ttlMs: 60_000, opTtlMs: {}, maxMetadataEntries: 100_000, maxContentBytes: 64 * 1024 * 1024 },
    log,
    disk ? { metadata: [disk] } : {},
  );
  const info = (i: number) => ({
    key: `wide/file-${String(i).padStart(5, '0')}.txt`,
    size: 1024 + i,
    etag: `"${(i * 2654435761).toString(16).padStart(32, '0')}"`,
    lastModified: new Date(1_700_000_000_000 + i * 1000),
    metadata: { mode: '33188', uid: '1000', gid: '1000', mtime: String(1_700_000_000 + i), atime: String(1_700_000_000 + i), ctime: String(1_700_000_000 + i) },
    contentType: 'text/plain',
  });
  const cpu = process.cpuUsage();
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < COUNT) {
        const object = info(next++);
        const key = versionKey('bench', object);
        await caches.metadata.recall(key);
        // A HEAD's answer comes back on a later turn of the event loop.
        await new Promise((resolve) => setImmediate(resolve));
        caches.metadata.set(key, object, { ttlMs: 60_000 });
      }
    }),
  );
  const during = process.cpuUsage(cpu);
  await disk?.close();
  const used = process.cpuUsage(cpu);
  const ms = (u: NodeJS.CpuUsage) => ((u.user + u.system) / 1000).toFixed(0).padStart(4);
  console.log(
    `${mode.padEnd(6)} wall ${(performance.now() - started).toFixed(0).padStart(5)} ms  cpu during ${ms(during)} ms, with the last writes ${ms(used)} ms`,
  );
  rmSync(directory, { recursive: true, force: true });
  execFileSync('true');
}
