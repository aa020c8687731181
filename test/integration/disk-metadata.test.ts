// Metadata on disk through real mounts: after a remount `ls -l` asks S3 for nothing it already
// knew (no HEAD of an unchanged object, no LIST of a listing still within its TTL) and shows
// exactly what it showed before; an object changed behind the mount shows its new attributes;
// what the mount itself changed, removed or invalidated never comes back from disk; damaged
// entries are caught and fetched again; the bound holds, least recently used out first across
// a restart; `cache clear` and `cache invalidate` reach the tier; stats and metrics show it.

import { chmod, mkdir, mkdtemp, open, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import test from 'ava';
import Database from 'better-sqlite3';
import { type S3Endpoint, seedClient, startS3Endpoint, testPrefix } from '../../scripts/local-s3.js';
import { metadataRowOf } from '../../src/cache/disk/disk-metadata-tier.js';
import type { CacheKey, TierStats } from '../../src/cache/types.js';
import { versionOf } from '../../src/fs/names/object-kinds.js';
import type { MountStats } from '../../src/stats.js';
import { CLI, type Mount, mountBucket, quiescentStats, run } from '../support/mount.js';
import { parsePrometheusText, sample } from '../support/prometheus.js';

const LONG_TTL = ['--metadata-ttl', '600'];

let endpoint: S3Endpoint;
let client: S3Client;
let prefix: string;
let scratch: string;

const target = () => (prefix ? `${endpoint.bucket}:${prefix}` : endpoint.bucket);

async function put(key: string, body: string | Buffer, metadata?: Record<string, string>, contentType?: string): Promise<void> {
  await client.send(
    new PutObjectCommand({ Bucket: endpoint.bucket, Key: prefix + key, Body: Buffer.from(body), Metadata: metadata, ContentType: contentType }),
  );
}

/**
 * A directory with what only HEADs tell apart: plain files, files with modes and times in their
 * metadata, a symbolic link, a directory with a marker holding its mode, and s3fs's older
 * directory object (Content-Type application/x-directory).
 */
async function seedDirectory(dir: string, files = 24): Promise<void> {
  for (let i = 0; i < files; i++) {
    const name = `${dir}/f${String(i).padStart(2, '0')}.txt`;
    const metadata = i % 3 === 0 ? { mode: String(0o100600 + (i % 2) * 0o40), mtime: String(1_700_000_000 + i) } : undefined;
    await put(name, `body of ${name}\n`.repeat(i + 1), metadata);
  }
  await put(`${dir}/link`, 'f01.txt', { mode: String(0o120777) });
  await put(`${dir}/sub/`, '', { mode: String(0o40750), mtime: '1690000000' });
  await put(`${dir}/sub/inner.txt`, 'inner\n');
  await put(`${dir}/olddir`, '', undefined, 'application/x-directory');
}

/** What `ls -l` and `stat` show of a directory's entries: types, modes, sizes, times, link targets. */
async function show(mount: Mount, dir: string): Promise<string> {
  const path = join(mount.mountpoint, dir);
  const ls = await run('ls', ['-l', '--full-time', path]);
  if (ls.code !== 0) throw new Error(`ls failed: ${ls.stderr}`);
  const stats = await run('sh', ['-c', `cd '${path}' && stat -c '%N|%F|%a|%s|%y|%U' *`]);
  if (stats.code !== 0) throw new Error(`stat failed: ${stats.stderr}`);
  return `${ls.stdout}\n${stats.stdout}`;
}

function metadataTier(stats: MountStats): TierStats {
  const tier = stats.cache.tiers.find((found) => found.tier === 'metadata/disk');
  if (!tier) throw new Error('no metadata/disk tier in cache stats');
  return tier;
}

const calls = (stats: MountStats) => ({ head: stats.s3.head.count, list: stats.s3.list.count });

/** The metadata database under a cache root. */
async function databaseUnder(cacheRoot: string): Promise<string> {
  for (const entry of await readdir(cacheRoot, { withFileTypes: true })) {
    if (entry.isDirectory() && (await readdir(join(cacheRoot, entry.name))).includes('metadata.sqlite')) return join(cacheRoot, entry.name, 'metadata.sqlite');
  }
  throw new Error(`no metadata database under ${cacheRoot}`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function control(t: { is: (a: unknown, b: unknown, m?: string) => void }, ...args: string[]): Promise<string> {
  const result = await run(process.execPath, [CLI, 'cache', ...args]);
  t.is(result.code, 0, result.stderr);
  return result.stdout;
}

test.before(async () => {
  endpoint = await startS3Endpoint();
  client = seedClient(endpoint);
  prefix = testPrefix(endpoint);
  scratch = await mkdtemp(join(tmpdir(), 's3mount-disk-meta-'));
});

test.after.always(async () => {
  await endpoint?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

test.serial('after a remount, ls -l makes no HEAD and no LIST and shows exactly what it showed', async (t) => {
  const cacheDir = join(scratch, 'remount');
  await seedDirectory('remount');
  // No "no such key" answers kept: the directory's lookup must skip the HEAD of a file of its name
  // because its probe, on disk, says it is a directory.
  const args = [...LONG_TTL, '--negative-metadata-ttl', '0'];
  let mount = await mountBucket(endpoint, { target: target(), cacheDir, args });
  const before = await show(mount, 'remount');
  t.regex(before, /'link' -> 'f01.txt'\|symbolic link\|777/);
  t.regex(before, /'sub'\|directory\|750/);
  t.regex(before, /'olddir'\|directory\|/);
  t.regex(before, /'f03.txt'\|regular file\|640\|/);
  t.true(calls(await quiescentStats(mount.mountpoint)).head >= 27, 'the first mount HEADs every entry');
  await mount.stop();

  mount = await mountBucket(endpoint, { target: target(), cacheDir, args });
  try {
    // A name looked up alone, before any listing: its directory's listing comes from disk too.
    const single = await run('stat', ['-c', '%n|%a|%s', join(mount.mountpoint, 'remount', 'f03.txt')]);
    t.regex(single.stdout, /f03\.txt\|640\|/);
    t.deepEqual(calls(await quiescentStats(mount.mountpoint)), { head: 0, list: 0 }, 'a lookup from disk');
    t.is(await show(mount, 'remount'), before, 'types, modes, sizes, times and link targets as before the remount');
    const stats = await quiescentStats(mount.mountpoint);
    t.deepEqual(calls(stats), { head: 0, list: 0 }, 'every answer came from disk');
    const tier = metadataTier(stats);
    t.log(`metadata/disk: ${JSON.stringify(tier)}`);
    t.true((tier.hits ?? 0) >= 27, `hits: ${tier.hits}`);
    t.is(tier.errors, 0);
    t.true(tier.entries >= 27 && tier.bytes > 0 && (tier.storedBytes ?? 0) > 0);
    t.regex(await control(t, 'stats', mount.mountpoint), /tier\s+metadata\/disk\s+\d+ entries/);
  } finally {
    await mount.stop();
  }
});

test.serial('once the listing expired, a remount lists again but HEADs only the object changed behind it', async (t) => {
  const cacheDir = join(scratch, 'expired');
  await seedDirectory('expired');
  // A version HEADed within the second S3 stamped it with (or the next) is asked again after
  // the TTL (a chmod in that second would show the same version): these are older.
  await sleep(2_000);
  // No "no such key" answers kept, so that the directory's own lookup is one HEAD whenever it happens.
  const args = ['--metadata-ttl', '2', '--negative-metadata-ttl', '0'];
  let mount = await mountBucket(endpoint, { target: target(), cacheDir, args });
  const before = await show(mount, 'expired');
  const fetched = Date.now();
  await mount.stop();
  await put('expired/f04.txt', 'replaced by another writer\n', { mode: String(0o100604) });

  mount = await mountBucket(endpoint, { target: target(), cacheDir, args });
  try {
    await sleep(Math.max(0, fetched + 2_500 - Date.now()));
    const after = await show(mount, 'expired');
    t.regex(after, /'f04.txt'\|regular file\|604\|27\|/, 'the changed object shows its new mode and size');
    const unchanged = (text: string) =>
      text
        .split('\n')
        .filter((line) => line.includes('|') && !line.includes('f04.txt'))
        .join('\n');
    t.is(unchanged(after), unchanged(before), 'the others as before');
    const stats = await quiescentStats(mount.mountpoint);
    t.true(calls(stats).list >= 1, 'the expired listing was listed again');
    // The directory's own lookup (is "expired" also a file?) and the changed object: nothing else.
    t.is(calls(stats).head, 2, 'no HEAD of an unchanged entry');
  } finally {
    await mount.stop();
  }
});

test.serial('what the mount changed, removed or invalidated before its unmount never comes back from disk', async (t) => {
  const cacheDir = join(scratch, 'changed');
  await seedDirectory('changed', 8);
  let mount = await mountBucket(endpoint, { target: target(), cacheDir, args: LONG_TTL });
  const before = await show(mount, 'changed');
  const dir = join(mount.mountpoint, 'changed');
  // Changes through the mount, with no listing afterwards: what the disk held must not answer.
  await chmod(join(dir, 'f01.txt'), 0o611);
  await rm(join(dir, 'f02.txt'));
  await writeFile(join(dir, 'f05.txt'), 'rewritten\n');
  await mkdir(join(dir, 'made'));
  await rm(join(dir, 'sub', 'inner.txt'));
  await rm(join(dir, 'sub'), { recursive: true });
  // A change by another writer, made known with `cache invalidate`.
  await put('changed/f06.txt', 'changed elsewhere\n', { mode: String(0o100700) });
  await control(t, 'invalidate', mount.mountpoint, 'changed/f06.txt');
  await mount.stop();

  mount = await mountBucket(endpoint, { target: target(), cacheDir, args: LONG_TTL });
  try {
    const after = await show(mount, 'changed');
    t.not(after, before);
    t.regex(after, /'f01.txt'\|regular file\|611\|/, 'chmod');
    t.notRegex(after, /f02\.txt/, 'removed file');
    t.regex(after, /'f05.txt'\|regular file\|644\|10\|/, 'rewritten file');
    t.regex(after, /'made'\|directory\|/, 'new directory');
    t.notRegex(after, /'sub'/, 'removed directory');
    t.regex(after, /'f06.txt'\|regular file\|700\|18\|/, 'invalidated file');
  } finally {
    await mount.stop();
  }
});

test.serial('a corrupted and truncated entries, and a damaged database, are detected, counted and fetched again', async (t) => {
  const cacheDir = join(scratch, 'corrupt');
  await seedDirectory('corrupt', 12);
  let mount = await mountBucket(endpoint, { target: target(), cacheDir, args: LONG_TTL });
  const before = await show(mount, 'corrupt');
  await mount.stop();

  const path = await databaseUnder(cacheDir);
  const db = new Database(path);
  const row = (key: CacheKey) => {
    const id = metadataRowOf(key);
    const found = db.prepare('SELECT data FROM entries WHERE id = ?').get(id) as { data: Buffer } | undefined;
    return found && { id, data: found.data };
  };
  const listing = row({ op: 'dir', bucket: endpoint.bucket, key: `${prefix}corrupt/` });
  if (!listing) throw new Error('no listing on disk');
  const flipped = Buffer.from(listing.data);
  flipped[flipped.length - 5] ^= 0x20;
  db.prepare('UPDATE entries SET data = ? WHERE id = ?').run(flipped, listing.id);
  // f07.txt's HEAD answer, kept on disk for its version (24 h; the one within the TTL stays in memory).
  const head = await client.send(new HeadObjectCommand({ Bucket: endpoint.bucket, Key: `${prefix}corrupt/f07.txt` }));
  const version = versionOf({ etag: head.ETag as string, lastModified: head.LastModified as Date });
  const answer = row({ op: 'head', bucket: endpoint.bucket, key: `${prefix}corrupt/f07.txt`, params: version });
  if (!answer) throw new Error('no HEAD answer of the version on disk');
  db.prepare('UPDATE entries SET data = ? WHERE id = ?').run(answer.data.subarray(0, answer.data.length - 7), answer.id);
  t.is(row({ op: 'head', bucket: endpoint.bucket, key: `${prefix}corrupt/f07.txt` }), undefined, 'the TTL answer is not kept below memory');
  db.close();

  mount = await mountBucket(endpoint, { target: target(), cacheDir, args: LONG_TTL });
  try {
    t.is(await show(mount, 'corrupt'), before, 'what is shown comes from S3, never from the damaged entries');
    const stats = await quiescentStats(mount.mountpoint);
    t.is(metadataTier(stats).errors, 2, 'the damaged listing and the cut HEAD answer were detected');
    t.is(calls(stats).head, 1, 'the damaged HEAD answer was fetched again, the others came from disk');
    t.true(calls(stats).list >= 1, 'the damaged listing was fetched again');
  } finally {
    await mount.stop();
  }

  // Garbage over the database's pages (a disk that lost a write): the tier starts anew.
  const handle = await open(path, 'r+');
  const { size } = await handle.stat();
  await handle.write(Buffer.alloc(Math.min(size - 4096, 64 * 1024), 0x5a), 0, undefined, 4096);
  await handle.close();
  mount = await mountBucket(endpoint, { target: target(), cacheDir, args: LONG_TTL });
  try {
    t.is(await show(mount, 'corrupt'), before);
    const tier = metadataTier(await quiescentStats(mount.mountpoint));
    t.true((tier.errors ?? 0) >= 1, `the damage was counted: ${tier.errors}`);
    t.regex(mount.logs(), /metadata database is damaged/);
  } finally {
    await mount.stop();
  }
});

test.serial('the bound holds, least recently used out first, across a remount', async (t) => {
  const cacheDir = join(scratch, 'bound');
  await seedDirectory('bound-old', 240);
  await seedDirectory('bound-new', 6);
  // 1 MiB for the disk cache: a sixteenth of it (64 KiB) for metadata, less than both directories take.
  const args = [...LONG_TTL, '--max-disk-cache-size', '1'];
  let mount = await mountBucket(endpoint, { target: target(), cacheDir, args });
  await show(mount, 'bound-old');
  const newer = await show(mount, 'bound-new');
  const first = metadataTier(await quiescentStats(mount.mountpoint));
  await mount.stop();
  t.is(first.maxBytes, 64 * 1024);
  t.true(first.evictions > 0, 'the older directory pushed entries out');

  mount = await mountBucket(endpoint, { target: target(), cacheDir, args });
  try {
    const reopened = metadataTier(await quiescentStats(mount.mountpoint));
    t.true((reopened.storedBytes ?? 0) <= 64 * 1024, `${reopened.storedBytes} bytes held for a bound of 65536`);
    t.true((reopened.storedBytes ?? 0) >= 32 * 1024, `the bound is used: ${reopened.storedBytes}`);
    const file = (await stat(await databaseUnder(cacheDir))).size;
    t.log(`database file: ${file} bytes for ${reopened.storedBytes} bytes of entries`);
    t.true(file <= 2 * 64 * 1024 + 64 * 1024, `the file stays near the bound: ${file} bytes`);
    t.is(await show(mount, 'bound-new'), newer);
    t.deepEqual(calls(await quiescentStats(mount.mountpoint)), { head: 0, list: 0 }, 'the most recently used directory stayed on disk');
    await show(mount, 'bound-old');
    t.true(calls(await quiescentStats(mount.mountpoint)).head > 0, 'the least recently used went first');
  } finally {
    await mount.stop();
  }
});

test.serial('cache invalidate and cache clear reach metadata on disk', async (t) => {
  const cacheDir = join(scratch, 'control');
  // No "no such key" answers kept, so that the directory's lookup is one HEAD whenever it happens.
  const args = [...LONG_TTL, '--negative-metadata-ttl', '0'];
  await seedDirectory('control-a', 10);
  await seedDirectory('control-b', 10);
  let mount = await mountBucket(endpoint, { target: target(), cacheDir, args });
  await show(mount, 'control-a');
  await show(mount, 'control-b');
  await mount.stop();

  mount = await mountBucket(endpoint, { target: target(), cacheDir, args });
  try {
    await control(t, 'invalidate', mount.mountpoint, 'control-a/f03.txt');
    await show(mount, 'control-a');
    const afterInvalidate = calls(await quiescentStats(mount.mountpoint));
    // The invalidation dropped the directory's listing and probe with it: its lookup is a HEAD
    // (is it also a file?), and of its entries only the invalidated one is HEADed.
    t.is(afterInvalidate.head, 2, 'the invalidated file alone is HEADed, besides the lookup');
    t.true(afterInvalidate.list >= 1, "and its directory's listing listed again");
    await control(t, 'clear', mount.mountpoint);
    const cleared = metadataTier(await quiescentStats(mount.mountpoint));
    t.is(cleared.entries, 0, 'clear empties metadata on disk');
    await show(mount, 'control-b');
    t.true(calls(await quiescentStats(mount.mountpoint)).head - afterInvalidate.head >= 13, 'after clear, every entry is HEADed again');
  } finally {
    await mount.stop();
  }
  // And across a remount: cleared stays cleared.
  mount = await mountBucket(endpoint, { target: target(), cacheDir, args });
  try {
    await control(t, 'invalidate', mount.mountpoint, '--recursive', 'control-b');
    await mount.stop();
    mount = await mountBucket(endpoint, { target: target(), cacheDir, args });
    await show(mount, 'control-b');
    t.true(calls(await quiescentStats(mount.mountpoint)).head >= 13, 'a recursive invalidation holds across a remount');
  } finally {
    await mount.stop();
  }
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolvePort) => server.listen(0, '127.0.0.1', resolvePort));
  const { port } = server.address() as { port: number };
  await new Promise((closed) => server.close(closed));
  return port;
}

test.serial('metadata on disk is private to its owner and counted in the metrics', async (t) => {
  const cacheDir = join(scratch, 'private');
  await seedDirectory('private', 4);
  const port = await freePort();
  const mount = await mountBucket(endpoint, { target: target(), cacheDir, args: [...LONG_TTL, '--metrics-address', `127.0.0.1:${port}`] });
  try {
    await show(mount, 'private');
    await quiescentStats(mount.mountpoint);
    const path = await databaseUnder(cacheDir);
    const dir = path.slice(0, path.lastIndexOf('/'));
    t.is((await stat(dir)).mode & 0o777, 0o700);
    for (const file of (await readdir(dir)).filter((name) => name.startsWith('metadata.sqlite'))) {
      t.is((await stat(join(dir, file))).mode & 0o777, 0o600, file);
    }
    const samples = parsePrometheusText(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
    const value = (name: string) => sample(samples, name, { tier: 'metadata/disk' });
    t.true((value('s3mount_cache_tier_entries') ?? 0) > 0);
    t.true((value('s3mount_cache_tier_bytes') ?? 0) > 0);
    t.true((value('s3mount_cache_tier_stored_bytes') ?? 0) > 0);
    t.is(value('s3mount_cache_tier_errors_total'), 0);
    t.not(value('s3mount_cache_tier_misses_total'), undefined);
  } finally {
    await mount.stop();
  }
});
