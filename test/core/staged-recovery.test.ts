// Staged copies of a process that died: uploaded when dirty and complete, reported when
// they cannot be, removed when clean. The core writes them; recovery reads them back.

import { spawnSync } from 'node:child_process';
import { constants } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { recoverStaged } from '../../src/fs/write/staged-recovery.js';
import { silentLogger } from '../../src/log.js';
import { setupCore } from '../support/core.js';

/** A pid that surely belongs to no running process: one that just exited. */
function deadPid(): number {
  return Number(spawnSync('sh', ['-c', 'echo $$']).stdout.toString().trim());
}

async function orphan(directory: string): Promise<void> {
  const pid = deadPid();
  for (const name of (await readdir(directory)).filter((entry) => entry.endsWith('.json'))) {
    const path = join(directory, name);
    await writeFile(path, JSON.stringify({ ...JSON.parse(await readFile(path, 'utf8')), pid }));
  }
}

test('unsaved bytes of a dead process are uploaded with their attributes; clean copies are removed', async (t) => {
  const { store, fs, stagingDirectory } = setupCore();
  store.putObject('clean.txt', Buffer.from('clean'));
  const unsaved = await fs.create('/unsaved.txt', 0o600);
  await fs.write(unsaved, Buffer.from('never closed'), 0);
  const clean = await fs.open('/clean.txt', constants.O_RDWR);
  t.is(store.getObject('unsaved.txt'), undefined);
  await orphan(stagingDirectory);
  // A fresh process (here: a fresh recovery over the same store) finds them.
  const report = await recoverStaged(stagingDirectory, store, silentLogger());
  t.deepEqual(report.uploaded, ['unsaved.txt']);
  t.is(report.discarded, 1);
  t.deepEqual(report.kept, []);
  t.is(store.getObject('unsaved.txt')?.toString(), 'never closed');
  t.is((await store.head('unsaved.txt')).metadata?.mode, String(0o100600));
  t.is(store.getObject('clean.txt')?.toString(), 'clean', 'a clean copy never overwrites the object');
  t.deepEqual(await readdir(stagingDirectory), []);
  void clean;
});

test('copies of live processes and other buckets are left alone', async (t) => {
  const { fs, stagingDirectory, store } = setupCore();
  const handle = await fs.create('/mine.txt', 0o644);
  await fs.write(handle, Buffer.from('in progress'), 0);
  const report = await recoverStaged(stagingDirectory, store, silentLogger());
  t.deepEqual(report, { uploaded: [], kept: [], discarded: 0 });
  t.is(store.getObject('mine.txt'), undefined);
  t.is((await readdir(stagingDirectory)).length, 2);
});

// The sidecar named only the bucket: a copy staged for bucket "data" at one endpoint (MinIO)
// was uploaded by the next mount of a bucket "data" at another (AWS), and removed.
test('a copy staged for a bucket of the same name at another endpoint is left for a mount of that endpoint', async (t) => {
  const { fs, stagingDirectory, store } = setupCore({ endpoint: 'http://minio.lan:9000' });
  const handle = await fs.create('/elsewhere.txt', 0o644);
  await fs.write(handle, Buffer.from('for minio'), 0);
  await orphan(stagingDirectory);
  const other = await recoverStaged(stagingDirectory, store, silentLogger(), 'aws');
  t.deepEqual(other.uploaded, []);
  t.is(other.kept.length, 1);
  t.regex(other.kept[0], /^elsewhere\.txt \(staged at .*\): staged for the bucket at http:\/\/minio\.lan:9000/);
  t.is(store.getObject('elsewhere.txt'), undefined);
  t.is((await readdir(stagingDirectory)).length, 2, 'the copy and its sidecar stay');
  const own = await recoverStaged(stagingDirectory, store, silentLogger(), 'http://minio.lan:9000');
  t.deepEqual(own.uploaded, ['elsewhere.txt']);
  t.is(store.getObject('elsewhere.txt')?.toString(), 'for minio');
});

test('a dirty copy holding only part of the file is reported and kept, never uploaded', async (t) => {
  const { store, fs, stagingDirectory } = setupCore();
  store.putObject('big.bin', Buffer.alloc(100_000, 7));
  const handle = await fs.open('/big.bin', constants.O_RDWR);
  // An attribute change marks the copy dirty before any byte was fetched.
  await fs.chmod('/big.bin', 0o600);
  void handle;
  await orphan(stagingDirectory);
  const report = await recoverStaged(stagingDirectory, store, silentLogger());
  t.deepEqual(report.uploaded, []);
  t.is(report.kept.length, 1);
  t.regex(report.kept[0], /^big\.bin \(staged at .*\.data\): only part of the file was staged$/);
  t.is(store.getObject('big.bin')?.length, 100_000, 'the object is untouched');
});

test('a failed recovery upload keeps the bytes and says where they are', async (t) => {
  const { store, faults, fs, stagingDirectory } = setupCore();
  const handle = await fs.create('/retry.txt', 0o644);
  await fs.write(handle, Buffer.from('retry me'), 0);
  await orphan(stagingDirectory);
  faults.failNext('put', 'Other');
  const report = await recoverStaged(stagingDirectory, faults, silentLogger());
  t.is(report.kept.length, 1);
  t.regex(report.kept[0], /^retry\.txt \(staged at .*\.data\): /);
  const again = await recoverStaged(stagingDirectory, faults, silentLogger());
  t.deepEqual(again.uploaded, ['retry.txt']);
  t.is(store.getObject('retry.txt')?.toString(), 'retry me');
});
