// Sixteen processes at once, reading, writing, listing and renaming in overlapping
// directories: no corruption, no deadlock, and single flight: concurrent reads share their
// GETs, so no byte of any object is fetched twice (checked per key through a logging proxy).
// What is left is checked twice: each directory through the mount, and the bucket itself
// through the SDK, hold exactly the names the workers left, each once.

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import test from 'ava';
import { type S3Endpoint, seedClient, startS3Endpoint, testPrefix } from '../../scripts/local-s3.js';
import { type FaultProxy, type RequestRecord, startFaultProxy } from '../support/fault-proxy.js';
import { type Mount, mountBucket, quiescentStats, run } from '../support/mount.js';
import { patternBytes } from '../support/pattern.js';

const WORKERS = 16;
const ROUNDS = 12;
const SHARED_SIZE = 4 * 1024 * 1024;
let endpoint: S3Endpoint;
let proxy: FaultProxy;
let mount: Mount;
let prefix: string;
let client: S3Client;

// Each worker owns its file names, so the final state is known; directories are shared.
const WORKER = `
const fs = require('fs/promises'); const path = require('path');
(async () => {
  const [root, id, rounds] = process.argv.slice(1); const dirs = ['a', 'b', 'a/c'];
  for (let round = 0; round < Number(rounds); round++) {
    const dir = path.join(root, dirs[(Number(id) + round) % dirs.length]);
    const name = path.join(dir, 'w' + id + '-r' + round);
    const body = Buffer.alloc(1000 + Number(id) * 37 + round, 'w' + id + 'r' + round);
    await fs.writeFile(name, body);
    await fs.readdir(dir);
    const back = await fs.readFile(name);
    if (!back.equals(body)) throw new Error('read back differs: ' + name);
    if (round % 3 === 2) await fs.rename(name, name + '-renamed');
    const shared = await fs.readFile(path.join(root, 'shared.bin'));
    if (shared.length !== ${SHARED_SIZE}) throw new Error('shared object length ' + shared.length);
  }
})().catch((error) => { console.error(error.message); process.exit(1); });`;

test.before(async () => {
  endpoint = await startS3Endpoint();
  prefix = testPrefix(endpoint);
  client = seedClient(endpoint);
  await client.send(
    new PutObjectCommand({ Bucket: endpoint.bucket, Key: `${prefix}shared.bin`, Body: patternBytes(SHARED_SIZE, 5), ContentLength: SHARED_SIZE }),
  );
  for (const dir of ['a/', 'b/', 'a/c/']) await client.send(new PutObjectCommand({ Bucket: endpoint.bucket, Key: prefix + dir, Body: '', ContentLength: 0 }));
  // A proxy that injects nothing, only logs: it tells which key each GET and HEAD was for.
  proxy = await startFaultProxy(endpoint.endpoint);
  // A long metadata TTL: nothing else writes, and the shared object's single HEAD must not
  // depend on how long the test runs.
  mount = await mountBucket(
    { ...endpoint, endpoint: proxy.url },
    { target: prefix ? `${endpoint.bucket}:${prefix}` : endpoint.bucket, args: ['--metadata-ttl', '600'] },
  );
});

test.after.always(async () => {
  await mount?.stop();
  await proxy?.stop();
  await endpoint?.stop();
});

test('16 processes in overlapping directories: every file ends as its writer left it', async (t) => {
  const results = await Promise.all(
    Array.from({ length: WORKERS }, (_, id) => run(process.execPath, ['-e', WORKER, mount.mountpoint, String(id), String(ROUNDS)], { timeoutMs: 180_000 })),
  );
  for (const [id, result] of results.entries()) t.is(result.code, 0, `worker ${id}: ${result.stderr}`);
  const dirs = ['a', 'b', 'a/c'];
  // The name each worker's round left, by directory: the final state is known exactly.
  const expected = new Map<string, string[]>(dirs.map((dir) => [dir, dir === 'a' ? ['c'] : []]));
  let checked = 0;
  for (let id = 0; id < WORKERS; id++) {
    for (let round = 0; round < ROUNDS; round++) {
      const dir = dirs[(id + round) % dirs.length];
      const name = `w${id}-r${round}${round % 3 === 2 ? '-renamed' : ''}`;
      expected.get(dir)!.push(name);
      const body = await readFile(join(mount.mountpoint, dir, name));
      t.true(body.equals(Buffer.alloc(1000 + id * 37 + round, `w${id}r${round}`)), `${dir}/${name}`);
      checked++;
    }
  }
  t.is(checked, WORKERS * ROUNDS);
  // Each directory lists exactly its names, each once: nothing missing, doubled or left over.
  for (const dir of dirs) t.deepEqual((await readdir(join(mount.mountpoint, dir))).sort(), expected.get(dir)!.sort(), `the names in ${dir}`);
  t.true((await readFile(join(mount.mountpoint, 'shared.bin'))).equals(patternBytes(SHARED_SIZE, 5)));
  // The bucket itself, listed through the SDK: the markers, the shared object and each file once.
  const keys = await bucketKeys(prefix);
  const expectedKeys = [
    'shared.bin',
    'a/',
    'b/',
    'a/c/',
    ...dirs.flatMap((dir) =>
      expected
        .get(dir)!
        .filter((name) => name !== 'c')
        .map((name) => `${dir}/${name}`),
    ),
  ].map((key) => prefix + key);
  t.deepEqual([...keys].sort(), expectedKeys.sort(), 'the bucket holds exactly what the workers left, each key once');

  // Single flight: 16 × 12 reads of one 4 MiB object, many at once, and every file read back,
  // yet no byte of any object is fetched twice (a GET per distinct block missed), and the
  // shared object, never changed, is looked up with one HEAD. The proxy's log and the mount's
  // counts are taken once no S3 call is under way, so no prefetch lands between them.
  const stats = await quiescentStats(mount.mountpoint);
  const gets = proxy.log().filter((r) => r.operation === 'read');
  const refetched = [...rangesByKey(gets)].filter(([, ranges]) => overlapping(ranges));
  // Each GET of a key fetched twice is named with its range and status, so that a failure
  // tells a refetch from a GET that fetched nothing (answered 404 or 412).
  t.deepEqual(
    refetched.map(
      ([key]) =>
        `${key}: ${gets
          .filter((get) => get.path === key)
          .map((get) => `${get.range} ${get.status}`)
          .join(', ')}`,
    ),
    [],
    'no byte fetched twice',
  );
  const sharedRanges = rangesByKey(gets).get(sharedPath()) ?? [];
  t.is(
    sharedRanges.reduce((sum, [first, last]) => sum + last - first + 1, 0),
    SHARED_SIZE,
    'the shared object fetched exactly once',
  );
  const sharedHeads = proxy.log().filter((r) => r.operation === 'head' && r.path === sharedPath()).length;
  t.true(sharedHeads <= 1, `HEADs of the shared object: ${sharedHeads}`);
  t.is(stats.s3.getRange.count, gets.length);
  t.log(
    `${WORKERS} processes × ${ROUNDS} rounds: ${checked} files byte-exact; GETs ${gets.length} for ${rangesByKey(gets).size} objects, ` +
      `${sharedRanges.length} for the shared one (${SHARED_SIZE} bytes, read ${WORKERS * ROUNDS} times), ${sharedHeads} HEAD of it; ` +
      `block loads joined in flight ${stats.cache.byOp.block.coalesced}, HEAD loads joined ${stats.cache.byOp.head.coalesced}`,
  );
});

/** Every key under `under` in the bucket, all pages, through the SDK (not the mount). */
async function bucketKeys(under: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: endpoint.bucket, Prefix: under, ContinuationToken: token }));
    for (const object of page.Contents ?? []) keys.push(object.Key!);
    token = page.NextContinuationToken;
  } while (token);
  return keys;
}

/** Path of the shared object as the proxy sees it (path-style, with the bucket). */
const sharedPath = () => `/${endpoint.bucket}/${prefix}shared.bin`;

/** Byte ranges [first, last] fetched, by request path. */
function rangesByKey(gets: readonly RequestRecord[]): Map<string, Array<[number, number]>> {
  const byKey = new Map<string, Array<[number, number]>>();
  for (const get of gets) {
    const match = /^bytes=(\d+)-(\d+)$/.exec(get.range ?? '');
    if (!match) throw new Error(`GET without a closed range: ${get.path} ${get.range}`);
    byKey.set(get.path, [...(byKey.get(get.path) ?? []), [Number(match[1]), Number(match[2])]]);
  }
  return byKey;
}

function overlapping(ranges: Array<[number, number]>): boolean {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  return sorted.some(([first], i) => i > 0 && first <= sorted[i - 1][1]);
}
