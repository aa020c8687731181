// Metadata on disk, measured: 100,000 HEAD answers stored by the SQLite tier (write, file size,
// start over them, lookups, a drop), against the same entries as one file each (as the block
// tier stores blocks: write, bytes taken, the scan a start would need). Not part of the tests:
// `node --import tsx scripts/benchmark/metadata-disk.ts [ENTRIES]`; figures go to docs/benchmarks.md.
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, open, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlockCodec } from '../../src/cache/disk/codec.js';
import { DiskMetadataTier } from '../../src/cache/disk/disk-metadata-tier.js';
import { encodeHead } from '../../src/cache/disk/entry-format.js';
import { encodeEntry } from '../../src/cache/entry-codec.js';
import type { CacheKey } from '../../src/cache/types.js';
import { silentLogger } from '../../src/log.js';

const ENTRIES = Number(process.argv[2] ?? 100_000);
const DAY = 24 * 3600 * 1000;

function answer(i: number) {
  const key = `photos/2024/album-${i % 100}/IMG_${String(i).padStart(6, '0')}.jpg`;
  const info = {
    key,
    size: 1_000_000 + i,
    etag: `"${(i * 2654435761).toString(16).padStart(32, '0')}"`,
    lastModified: new Date(1_700_000_000_000 + i * 1000),
    metadata: { mode: '33188', uid: '1000', gid: '1000', mtime: String(1_700_000_000 + i) },
    contentType: 'image/jpeg',
  };
  const cacheKey: CacheKey = { op: 'head', bucket: 'bench', key, params: `${info.etag}@${1_700_000_000 + i}` };
  return { cacheKey, info };
}

const ms = (started: number) => (performance.now() - started).toFixed(0);
const mib = (bytes: number) => (bytes / 1048576).toFixed(1);
const du = (path: string) => Number(execFileSync('du', ['-sk', path]).toString().split('\t')[0]) * 1024;

async function sqliteTier(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 's3mount-meta-bench-'));
  try {
    const options = { directory: dir, maxBytes: 1024 * 1048576, compression: 'zstd' as const };
    let tier = new DiskMetadataTier(options, silentLogger());
    let started = performance.now();
    const flushed = () => new Promise((resolve) => setTimeout(resolve, 25));
    const expiresAt = Date.now() + DAY;
    for (let i = 0; i < ENTRIES; i++) {
      const { cacheKey, info } = answer(i);
      tier.set(cacheKey, { value: info, expiresAt });
      // As HEAD answers arrive: written in batches while they come.
      if (i % 5000 === 4999) await flushed();
    }
    await tier.close();
    console.log(`sqlite: ${ENTRIES} entries stored in ${ms(started)} ms; database ${mib(du(dir))} MiB on disk`);
    for (let round = 0; round < 3; round++) {
      started = performance.now();
      tier = new DiskMetadataTier(options, silentLogger());
      console.log(`sqlite: open over ${tier.stats().entries} entries: ${ms(started)} ms (openMs ${tier.openMs.toFixed(1)})`);
      await tier.close();
    }
    tier = new DiskMetadataTier(options, silentLogger());
    const stats = tier.stats();
    console.log(`sqlite: ${mib(stats.bytes)} MiB held in ${mib(stats.storedBytes ?? 0)} MiB of entries`);
    started = performance.now();
    let found = 0;
    for (let i = 0; i < 5000; i++) if (await tier.get(answer((i * 7919) % ENTRIES).cacheKey)) found++;
    console.log(`sqlite: 5,000 lookups (${found} found): ${ms(started)} ms`);
    started = performance.now();
    for (let i = 0; i < 1000; i++) tier.dropKey('bench', answer(i * 13).info.key);
    console.log(`sqlite: 1,000 drops by key: ${ms(started)} ms`);
    started = performance.now();
    tier.dropUnder('bench', 'photos/2024/album-1');
    console.log(`sqlite: drop of a prefix (${(ENTRIES / 100) * 11} keys): ${ms(started)} ms`);
    await tier.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function filePerEntry(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 's3mount-meta-files-'));
  try {
    const codec = new BlockCodec('zstd');
    let started = performance.now();
    const shards = new Set<string>();
    for (let i = 0; i < ENTRIES; i++) {
      const { cacheKey, info } = answer(i);
      const id = `${cacheKey.op}\0${cacheKey.bucket}\0${cacheKey.key}\0${cacheKey.params}`;
      const stored = codec.encode(Buffer.from(encodeEntry(info)));
      const shard = join(dir, (i % 256).toString(16).padStart(2, '0'));
      if (!shards.has(shard)) {
        await mkdir(shard, { recursive: true });
        shards.add(shard);
      }
      const handle = await open(join(shard, `${i}.tmp`), 'w', 0o600);
      await handle.writev([encodeHead(id, stored), stored.payload]);
      await handle.close();
    }
    console.log(`files: ${ENTRIES} entries written in ${ms(started)} ms; ${mib(du(dir))} MiB on disk`);
    for (let round = 0; round < 2; round++) {
      started = performance.now();
      let count = 0;
      for (const shard of await readdir(dir)) {
        const names = await readdir(join(dir, shard));
        await Promise.all(names.map((name) => stat(join(dir, shard, name))));
        count += names.length;
      }
      console.log(`files: scan of ${count} entries (readdir + stat, as the block tier indexes): ${ms(started)} ms`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await sqliteTier();
await filePerEntry();
