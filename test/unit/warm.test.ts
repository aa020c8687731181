// The warm walker on a local tree: what it visits, what it reads, how it stops, how it reports.

import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { mountOf, parseMountInfo } from '../../src/warm/mount-of.js';
import { ProgressReporter, progressLine, summaryLine } from '../../src/warm/progress.js';
import { type WarmProgress, warmTree } from '../../src/warm/walker.js';

async function tree(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 's3mount-warm-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  for (const dir of ['a', 'a/b', 'a/b/c', 'd']) await mkdir(join(root, dir));
  for (let i = 0; i < 20; i++) await writeFile(join(root, ['a', 'a/b', 'a/b/c', 'd'][i % 4], `f${i}`), Buffer.alloc(1000 * (i + 1)));
  await symlink('/', join(root, 'link-to-root'));
  return root;
}

const totalBytes = Array.from({ length: 20 }, (_, i) => 1000 * (i + 1)).reduce((a, b) => a + b, 0);

test('warm lists every directory and stats every entry, reading nothing without --content', async (t) => {
  const root = await tree(t);
  const result = await warmTree(root, { content: false, concurrency: 3 });
  t.like(result, { directoriesFound: 5, directoriesListed: 5, files: 20, bytesFound: totalBytes, bytesRead: 0, failures: 0, interrupted: false });
});

test('with --content every file is read to its end; symbolic links are not followed', async (t) => {
  const root = await tree(t);
  const result = await warmTree(root, { content: true, concurrency: 4 });
  t.is(result.bytesRead, totalBytes);
  t.is(result.directoriesListed, 5);
});

test('an abort stops the walk early', async (t) => {
  const root = await tree(t);
  const controller = new AbortController();
  let updates = 0;
  const result = await warmTree(root, {
    content: true,
    concurrency: 1,
    signal: controller.signal,
    onProgress: () => {
      if (++updates === 3) controller.abort();
    },
  });
  t.true(result.interrupted);
  t.true(result.directoriesListed + result.files < 25, 'with one task at a time, three steps cannot have visited everything');
  t.true(result.bytesRead < totalBytes);
});

test('a failure is counted and named, and the walk goes on', async (t) => {
  const root = await tree(t);
  let removed = false;
  // Another program removes a directory after the walk listed its parent, before it got to it.
  const result = await warmTree(root, {
    content: false,
    concurrency: 1,
    onProgress: () => {
      if (!removed) rmSync(join(root, 'd'), { recursive: true });
      removed = true;
    },
  });
  t.is(result.failures, 1);
  t.is(result.firstFailure, `${join(root, 'd')}: ENOENT`);
  t.is(result.files, 15, 'the other directories were walked');
  await t.throwsAsync(warmTree(join(root, 'a', 'f0'), { content: false, concurrency: 1 }), { message: /is not a directory/ });
});

test('progress is a bar on a terminal and plain lines elsewhere', (t) => {
  const progress: WarmProgress = { directoriesFound: 4, directoriesListed: 1, files: 10, bytesFound: 4 * 1048576, bytesRead: 1048576, failures: 0 };
  t.is(progressLine(progress, false), '[######..................]  25% 1/4 directories, 10 files');
  t.is(progressLine(progress, true), '[######..................]  25% 1/4 directories, 10 files, 1.0/4.0 MiB read');
  let clock = 0;
  const plain: string[] = [];
  const reporter = new ProgressReporter({ isTTY: false, write: (text) => plain.push(text) }, false, () => clock);
  reporter.update(progress);
  clock += 10;
  reporter.update(progress);
  clock += 5000;
  reporter.update(progress);
  t.deepEqual(
    plain,
    ['warm: [######..................]  25% 1/4 directories, 10 files\n', 'warm: [######..................]  25% 1/4 directories, 10 files\n'],
    'lines are spaced out in time',
  );
  const drawn: string[] = [];
  const bar = new ProgressReporter({ isTTY: true, columns: 30, write: (text) => drawn.push(text) }, false, () => clock);
  bar.update(progress);
  bar.finish();
  t.deepEqual(drawn, ['\r\x1b[2K[######..................]  2', '\r\x1b[2K'], 'the bar is redrawn in place, cut to the terminal, and cleared');
  t.is(
    summaryLine('/m/x', { ...progress, interrupted: true, failures: 1, firstFailure: '/m/x/y: EIO' }, true, 2),
    'interrupted warming /m/x: 1 directories, 10 files, 1.0 MiB read in 2.0 s; 1 failed (first: /m/x/y: EIO)',
  );
});

test('warm finds the mount holding a path from mountinfo', (t) => {
  const table = parseMountInfo(
    [
      '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
      '40 22 0:50 / /mnt/s3 rw,nosuid,nodev,relatime shared:30 - fuse.s3mount s3mount:bucket rw,user_id=0,group_id=0',
      '41 22 0:51 / /mnt/with\\040space rw - fuse.s3mount s3mount:other rw',
    ].join('\n'),
  );
  t.is(mountOf('/mnt/s3/photos/a', table)?.fstype, 'fuse.s3mount');
  t.is(mountOf('/mnt/s3', table)?.source, 's3mount:bucket');
  t.is(mountOf('/mnt/s3x', table)?.fstype, 'ext4');
  t.is(mountOf('/mnt/with space/a', table)?.source, 's3mount:other');
});
