// Sixteen processes at once, reading, writing, listing and renaming in overlapping
// directories: no corruption, no deadlock, and concurrent reads of one object share GETs.
import test from 'ava';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { seedClient, startS3Endpoint, testPrefix, type S3Endpoint } from '../../scripts/local-s3.js';
import { mountBucket, mountStats, run, type Mount } from '../helpers/mount.js';
import { patternBytes } from '../helpers/pattern.js';

const WORKERS = 16;
const ROUNDS = 12;
const SHARED_SIZE = 4 * 1024 * 1024;
let endpoint: S3Endpoint;
let mount: Mount;

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
  const prefix = testPrefix(endpoint);
  const client = seedClient(endpoint);
  await client.send(new PutObjectCommand({ Bucket: endpoint.bucket, Key: `${prefix}shared.bin`, Body: patternBytes(SHARED_SIZE, 5), ContentLength: SHARED_SIZE }));
  for (const dir of ['a/', 'b/', 'a/c/']) await client.send(new PutObjectCommand({ Bucket: endpoint.bucket, Key: prefix + dir, Body: '', ContentLength: 0 }));
  mount = await mountBucket(endpoint, { target: prefix ? `${endpoint.bucket}:${prefix}` : endpoint.bucket });
});

test.after.always(async () => {
  await mount?.stop();
  await endpoint?.stop();
});

test('16 processes in overlapping directories: every file ends as its writer left it', async (t) => {
  const results = await Promise.all(Array.from({ length: WORKERS }, (_, id) => run(process.execPath, ['-e', WORKER, mount.mountpoint, String(id), String(ROUNDS)], { timeoutMs: 180_000 })));
  for (const [id, result] of results.entries()) t.is(result.code, 0, `worker ${id}: ${result.stderr}`);
  const dirs = ['a', 'b', 'a/c'];
  let checked = 0;
  for (let id = 0; id < WORKERS; id++) {
    for (let round = 0; round < ROUNDS; round++) {
      const base = join(mount.mountpoint, dirs[(id + round) % dirs.length], `w${id}-r${round}`);
      const name = round % 3 === 2 ? `${base}-renamed` : base;
      const body = await readFile(name);
      t.true(body.equals(Buffer.alloc(1000 + id * 37 + round, `w${id}r${round}`)), name);
      checked++;
    }
  }
  t.is(checked, WORKERS * ROUNDS);
  const entries = (await readdir(join(mount.mountpoint, 'a'))).length + (await readdir(join(mount.mountpoint, 'b'))).length + (await readdir(join(mount.mountpoint, 'a/c'))).length;
  t.is(entries, WORKERS * ROUNDS + 1, 'every file once, plus the c directory');
  // 16 × 12 concurrent reads of one 4 MiB object (4 blocks) share their GETs: at most one
  // per distinct miss — its 4 blocks, plus one per small file read back and read above.
  const stats = await mountStats(mount.mountpoint);
  t.true(stats.s3.getRange.count <= 4 + 2 * WORKERS * ROUNDS, `GETs: ${stats.s3.getRange.count}`);
  t.true((await readFile(join(mount.mountpoint, 'shared.bin'))).equals(patternBytes(SHARED_SIZE, 5)));
});
