// The disk tier through real mounts: blocks survive a remount and are read without GETs,
// a changed object is never served from disk, torn and corrupt files are dropped and fetched
// again, the byte bound holds, a full disk leaves reads working, compression on and off, and
// one cache directory serves one mount at a time.

import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import test from 'ava';
import { type S3Endpoint, seedClient, startS3Endpoint, testPrefix } from '../../scripts/local-s3.js';
import type { TierStats } from '../../src/cache/types.js';
import { CLI, endpointArgs, endpointEnv, type Mount, mountBucket, mountStats, quiescentStats, run } from '../support/mount.js';
import { patternBytes } from '../support/pattern.js';

const MIB = 1024 * 1024;
// Objects above a quarter of --max-cache-size stream through slabs: 8 MiB keeps 3 MiB objects
// in the block cache and streams the 12 MiB one, so both paths are covered.
const MOUNT_ARGS = ['--max-cache-size', '8', '--metadata-ttl', '600'];

let endpoint: S3Endpoint;
let client: S3Client;
let prefix: string;
let scratch: string;

async function put(key: string, body: Buffer): Promise<void> {
  if (body.length > 8 * MIB) {
    await new Upload({ client, params: { Bucket: endpoint.bucket, Key: prefix + key, Body: body }, partSize: 8 * MIB }).done();
    return;
  }
  await client.send(new PutObjectCommand({ Bucket: endpoint.bucket, Key: prefix + key, Body: body, ContentLength: body.length }));
}

const target = () => (prefix ? `${endpoint.bucket}:${prefix}` : endpoint.bucket);
const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** Text that compresses, as log files and sources do. */
function textBytes(size: number, seed: number): Buffer {
  const lines: string[] = [];
  let length = 0;
  for (let i = 0; length < size; i++) {
    const line = `${seed}:${i} GET /objects/${(i * 7919) % 10007} 200 ${(i * 31) % 977} ms cache=${i % 3 ? 'hit' : 'miss'}\n`;
    lines.push(line);
    length += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, size);
}

async function diskTier(mount: Mount): Promise<TierStats> {
  const tier = (await mountStats(mount.mountpoint)).cache.tiers.find((found) => found.tier === 'blocks/disk');
  if (!tier) throw new Error('no disk tier in cache stats');
  return tier;
}

async function gets(mount: Mount): Promise<number> {
  return (await quiescentStats(mount.mountpoint)).s3.getRange.count;
}

async function cat(mount: Mount, name: string): Promise<Buffer> {
  return readFile(join(mount.mountpoint, name));
}

/** The file of block `index` of `name` (inside the mount) under a cache root. */
async function blockFile(cacheRoot: string, name: string, index: number): Promise<string> {
  const objectDir = createHash('sha256').update(`${endpoint.bucket}\0${prefix}${name}`).digest('hex').slice(0, 32);
  const found = (await blockFiles(cacheRoot)).find((path) => path.includes(`/${objectDir}/${index}.`));
  if (!found) throw new Error(`no block ${index} of ${name} under ${cacheRoot}`);
  return found;
}

/** Every block file under a cache root (not the key files). */
async function blockFiles(cacheRoot: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (/^\d+\.\d+\.[0-9a-f]{32}-L\d+$/.test(entry.name)) found.push(path);
    }
  };
  await walk(cacheRoot);
  return found;
}

test.before(async () => {
  endpoint = await startS3Endpoint();
  client = seedClient(endpoint);
  prefix = testPrefix(endpoint);
  scratch = await mkdtemp(join(tmpdir(), 's3mount-disk-'));
});

test.after.always(async () => {
  await endpoint?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

test.serial('after a remount, unchanged objects are read from disk with no GET; a changed one reads its new bytes', async (t) => {
  const cacheDir = join(scratch, 'remount');
  const small = textBytes(3 * MIB + 123, 1);
  const big = patternBytes(12 * MIB + 5, 2);
  const changing = textBytes(2 * MIB, 3);
  await put('remount/small.log', small);
  await put('remount/big.bin', big);
  await put('remount/changing.log', changing);

  // HEAD answers on disk too are trusted for the metadata TTL from when they were fetched: a
  // short one, so that the second mount learns the new ETag of the object replaced meanwhile.
  const shortTtl = [...MOUNT_ARGS, '--metadata-ttl', '1'];
  let mount = await mountBucket(endpoint, { target: target(), cacheDir, args: shortTtl });
  t.is(sha(await cat(mount, 'remount/small.log')), sha(small));
  t.is(sha(await cat(mount, 'remount/big.bin')), sha(big));
  t.is(sha(await cat(mount, 'remount/changing.log')), sha(changing));
  const fetched = Date.now();
  t.true((await gets(mount)) > 0, 'the first mount fetched from S3');
  await mount.stop();

  const replaced = textBytes(2 * MIB + 77, 4);
  await put('remount/changing.log', replaced);
  mount = await mountBucket(endpoint, { target: target(), cacheDir, args: shortTtl });
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, fetched + 1_200 - Date.now())));
  try {
    t.is(sha(await cat(mount, 'remount/small.log')), sha(small));
    t.is(sha(await cat(mount, 'remount/big.bin')), sha(big), 'a streamed object is read from disk too');
    t.is(await gets(mount), 0, 'no GET for unchanged objects after a remount');
    t.is(sha(await cat(mount, 'remount/changing.log')), sha(replaced), 'a changed object is never served from disk');
    t.true((await gets(mount)) > 0, 'the changed object was fetched');
    const tier = await diskTier(mount);
    t.true((tier.hits ?? 0) >= 16, `disk hits: ${tier.hits}`);
    t.is(tier.errors, 0);
  } finally {
    await mount.stop();
  }
});

test.serial('a corrupted and a truncated cache file are detected, dropped and fetched again', async (t) => {
  const cacheDir = join(scratch, 'corrupt');
  // Above the streaming threshold (2 MiB here) and below it: both read paths meet damage.
  const streamed = textBytes(3 * MIB, 5);
  const cached = textBytes(1.5 * MIB, 6);
  await put('corrupt/streamed.log', streamed);
  await put('corrupt/cached.log', cached);
  let mount = await mountBucket(endpoint, { target: target(), cacheDir, args: MOUNT_ARGS });
  t.is(sha(await cat(mount, 'corrupt/streamed.log')), sha(streamed));
  t.is(sha(await cat(mount, 'corrupt/cached.log')), sha(cached));
  await mount.stop();

  t.is((await blockFiles(cacheDir)).length, 5, 'three and two 1 MiB blocks on disk');
  const flippedPath = await blockFile(cacheDir, 'corrupt/streamed.log', 0);
  const flipped = await readFile(flippedPath);
  flipped[flipped.length - 10] ^= 0x40;
  await writeFile(flippedPath, flipped);
  const cut = await blockFile(cacheDir, 'corrupt/cached.log', 1);
  await truncate(cut, (await stat(cut)).size - 100);

  mount = await mountBucket(endpoint, { target: target(), cacheDir, args: MOUNT_ARGS });
  try {
    t.is(sha(await cat(mount, 'corrupt/streamed.log')), sha(streamed), 'the bytes read are the object, never the damaged file');
    t.is(sha(await cat(mount, 'corrupt/cached.log')), sha(cached));
    const tier = await diskTier(mount);
    t.is(tier.errors, 2, 'both damaged files were detected');
    t.is(tier.hits, 3, 'the intact blocks came from disk');
    // The streamed object's group of blocks is fetched again in one GET, the cached object's damaged block alone.
    t.is(await gets(mount), 2);
  } finally {
    await mount.stop();
  }
});

test.serial('the byte bound holds under a working set twice as large', async (t) => {
  const cacheDir = join(scratch, 'bound');
  for (let i = 0; i < 4; i++) await put(`bound/f${i}.bin`, patternBytes(2 * MIB, 10 + i));
  const mount = await mountBucket(endpoint, {
    target: target(),
    cacheDir,
    args: [...MOUNT_ARGS, '--max-disk-cache-size', '4', '--disk-cache-compression', 'none'],
  });
  try {
    for (let i = 0; i < 4; i++) t.is(sha(await cat(mount, `bound/f${i}.bin`)), sha(patternBytes(2 * MIB, 10 + i)));
  } finally {
    await mount.stop();
  }
  const files = await blockFiles(cacheDir);
  let total = 0;
  for (const file of files) total += (await stat(file)).size;
  t.true(total <= 4 * MIB, `${total} bytes on disk for a bound of ${4 * MIB}`);
  t.true(total >= 3 * MIB, `the bound is used, not emptied: ${total} bytes`);
  // Least recently used out first: the last file read is the one kept.
  const again = await mountBucket(endpoint, {
    target: target(),
    cacheDir,
    args: [...MOUNT_ARGS, '--max-disk-cache-size', '4', '--disk-cache-compression', 'none'],
  });
  try {
    t.is(sha(await cat(again, 'bound/f3.bin')), sha(patternBytes(2 * MIB, 13)));
    t.is(await gets(again), 0, 'the most recently read file stayed on disk');
  } finally {
    await again.stop();
  }
});

test.serial('compression: text is stored smaller with zstd and as is with none; random bytes as is', async (t) => {
  const text = textBytes(3 * MIB, 20);
  const random = patternBytes(3 * MIB, 21);
  await put('compress/text.log', text);
  await put('compress/random.bin', random);
  for (const compression of ['zstd', 'none']) {
    const cacheDir = join(scratch, `compress-${compression}`);
    let mount = await mountBucket(endpoint, { target: target(), cacheDir, args: [...MOUNT_ARGS, '--disk-cache-compression', compression] });
    t.is(sha(await cat(mount, 'compress/text.log')), sha(text));
    t.is(sha(await cat(mount, 'compress/random.bin')), sha(random));
    await mount.stop();
    // Indexed from disk by the next mount: what the files hold, and what they take up.
    mount = await mountBucket(endpoint, { target: target(), cacheDir, args: [...MOUNT_ARGS, '--disk-cache-compression', compression] });
    try {
      const tier = await (async () => {
        // The scan of earlier blocks runs in the background: wait for all six to be indexed.
        for (let attempt = 0; attempt < 100; attempt++) {
          const found = await diskTier(mount);
          if (found.entries === 6) return found;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        return diskTier(mount);
      })();
      t.is(tier.entries, 6);
      t.is(tier.bytes, 6 * MIB);
      const stored = tier.storedBytes ?? 0;
      t.log(`${compression}: ${tier.bytes} bytes held in ${stored} bytes on disk (${(tier.bytes / stored).toFixed(2)}x)`);
      if (compression === 'zstd') t.true(stored < 4 * MIB, 'the text blocks shrank, the random ones did not grow');
      else t.true(stored >= 6 * MIB, 'stored as is');
      t.is(sha(await cat(mount, 'compress/text.log')), sha(text));
      t.is(await gets(mount), 0);
    } finally {
      await mount.stop();
    }
  }
});

test.serial('a full cache filesystem never fails a read: the tier backs off and counts it', async (t) => {
  const small = join(scratch, 'tiny-tmpfs');
  await mkdir(small, { recursive: true });
  const mounted = await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', small]);
  t.is(mounted.code, 0, `mounting a 1 MiB tmpfs: ${mounted.stderr}`);
  t.teardown(() => run('umount', ['-l', small]));
  const bytes = patternBytes(6 * MIB, 30);
  await put('full/file.bin', bytes);
  // The bound is larger than the filesystem: only ENOSPC can stop the writes.
  const mount = await mountBucket(endpoint, {
    target: target(),
    cacheDir: small,
    args: [...MOUNT_ARGS, '--max-disk-cache-size', '64', '--disk-cache-compression', 'none'],
  });
  try {
    t.is(sha(await cat(mount, 'full/file.bin')), sha(bytes));
    // Writes are in the background: read once more, then look, until the errors show.
    let tier = await diskTier(mount);
    for (let attempt = 0; attempt < 100 && !tier.errors; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      tier = await diskTier(mount);
    }
    t.true((tier.errors ?? 0) >= 1, 'the failed writes are counted');
    t.regex(mount.logs(), /ENOSPC/);
    t.is(sha(await cat(mount, 'full/file.bin')), sha(bytes), 'and reads go on');
  } finally {
    await mount.stop();
  }
});

test.serial('a second mount of the same cache directory is refused with a clear message', async (t) => {
  const cacheDir = join(scratch, 'shared');
  const first = await mountBucket(endpoint, { target: target(), cacheDir, args: MOUNT_ARGS });
  const mountpoint = await mkdtemp(join(tmpdir(), 's3mount-second-'));
  try {
    const second = await run(process.execPath, [CLI, target(), mountpoint, ...endpointArgs(endpoint), '--cache-dir', cacheDir], { env: endpointEnv(endpoint) });
    t.is(second.code, 1);
    t.regex(second.stderr, /cache directory .* is in use by another s3mount \(pid \d+\)/);
    const other = await run(process.execPath, [CLI, target(), mountpoint, ...endpointArgs(endpoint), '--cache-dir', cacheDir, '--no-disk-cache'], {
      env: endpointEnv(endpoint),
    });
    t.is(other.code, 0, `--no-disk-cache mounts beside it: ${other.stderr}`);
    await run('fusermount', ['-u', mountpoint]);
  } finally {
    await first.stop();
    await rm(mountpoint, { recursive: true, force: true });
  }
});

test.serial('cache invalidate, cache clear and cache configure reach the disk tier', async (t) => {
  const cacheDir = join(scratch, 'control');
  for (let i = 0; i < 3; i++) await put(`control/f${i}.log`, textBytes(1.5 * MIB, 40 + i));
  let mount = await mountBucket(endpoint, { target: target(), cacheDir, args: [...MOUNT_ARGS, '--disk-cache-compression', 'none'] });
  for (let i = 0; i < 3; i++) await cat(mount, `control/f${i}.log`);
  await mount.stop();
  mount = await mountBucket(endpoint, { target: target(), cacheDir, args: [...MOUNT_ARGS, '--disk-cache-compression', 'none'] });
  try {
    const control = async (...args: string[]) => {
      const result = await run(process.execPath, [CLI, 'cache', ...args]);
      t.is(result.code, 0, result.stderr);
      return result.stdout;
    };
    // Files not read yet by this mount, so the kernel holds none of their pages.
    await cat(mount, 'control/f0.log');
    t.is(await gets(mount), 0, 'f0 from disk');
    await control('invalidate', mount.mountpoint, 'control/f1.log');
    await cat(mount, 'control/f1.log');
    t.is(await gets(mount), 2, 'an invalidated file is fetched again, both blocks');
    t.regex(await control('configure', mount.mountpoint, '--max-disk-cache-size', '2'), /2 MiB on disk/);
    const tier = await diskTier(mount);
    t.true((tier.storedBytes ?? 0) <= 2 * MIB, `${tier.storedBytes} bytes stored after shrinking to 2 MiB`);
    t.true(tier.evictions > 0);
    await control('clear', mount.mountpoint);
    t.is((await diskTier(mount)).entries, 0, 'clear empties the disk tier');
    const before = await gets(mount);
    await cat(mount, 'control/f2.log');
    t.is((await gets(mount)) - before, 2, 'after clear, content comes from S3 again');
  } finally {
    await mount.stop();
  }
});
