// Attributes are never guessed: what stat, ls -l and readdir's types say agrees with each
// object's metadata on a fresh mount, in the mount that wrote them and after a remount.
// Listings carry no user metadata, so a listing alone must never decide a mode, a time or a type.

import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import test from 'ava';
import { type S3Endpoint, seedClient, startS3Endpoint, testPrefix } from '../../scripts/local-s3.js';
import { type Mount, mountBucket, mountStats, run } from '../support/mount.js';

let endpoint: S3Endpoint;
let client: S3Client;
let prefix: string;
let scratch: string;
const mounts: Mount[] = [];

test.before(async () => {
  endpoint = await startS3Endpoint();
  client = seedClient(endpoint);
  prefix = testPrefix(endpoint);
  scratch = await mkdtemp(join(tmpdir(), 's3mount-attrs-'));
});

test.after.always(async () => {
  for (const mount of mounts) await mount.stop();
  await endpoint?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

async function mount(): Promise<Mount> {
  const mounted = await mountBucket(endpoint, { target: prefix ? `${endpoint.bucket}:${prefix}` : endpoint.bucket });
  mounts.push(mounted);
  return mounted;
}

async function ok(command: string, args: string[]): Promise<string> {
  const result = await run(command, args);
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.code}): ${result.stderr}`);
  return result.stdout;
}

// os.walk as Python programs use it: directories from readdir's types (stat when unknown), and
// every file it reports opened and read.
const WALK = `
import os, sys, json
root = sys.argv[1]
seen = []
for dirpath, dirnames, filenames in os.walk(root):
    rel = os.path.relpath(dirpath, root)
    seen.append([rel, sorted(dirnames), sorted(filenames)])
    for name in filenames:
        path = os.path.join(dirpath, name)
        if os.path.exists(path):
            with open(path, 'rb') as f:
                f.read()
print(json.dumps(sorted(seen)))
`;

/** `stat` of each path relative to `root`: type, permission bits, size (not of directories), mtime in seconds. */
async function stats(root: string, paths: string[]): Promise<string[]> {
  const out = await ok('stat', ['-c', '%n|%F|%a|%s|%Y', ...paths.map((path) => join(root, path))]);
  return out
    .trim()
    .split('\n')
    .map((line) => line.slice(root.length + 1).replace(/^([^|]*\|directory\|[^|]*)\|\d+/, '$1|-'));
}

test.serial('a symbolic link to a directory unpacked by tar: os.walk sees a link to a directory, before and after a remount', async (t) => {
  const source = join(scratch, 'tree');
  await mkdir(join(source, 'sub'), { recursive: true });
  await writeFile(join(source, 'sub', 'file.txt'), 'inside');
  await writeFile(join(source, 'top.txt'), 'top');
  await symlink('sub', join(source, 'link'));
  await symlink('top.txt', join(source, 'filelink'));
  const archive = join(scratch, 'tree.tar');
  await ok('tar', ['cf', archive, '-C', source, '.']);
  const expected = await ok('python3', ['-c', WALK, source]);

  let mounted = await mount();
  const target = join(mounted.mountpoint, 'untarred');
  await mkdir(target);
  await ok('tar', ['xf', archive, '-C', target]);
  t.is(await ok('python3', ['-c', WALK, target]), expected, 'os.walk in the mount that unpacked it');

  await mounted.stop();
  mounted = await mount();
  const remounted = join(mounted.mountpoint, 'untarred');
  t.is(await ok('python3', ['-c', WALK, remounted]), expected, 'os.walk after a remount');
  t.deepEqual(await stats(remounted, ['link', 'filelink']), [
    `link|symbolic link|777|3|${await mtimeOf(remounted, 'link')}`,
    `filelink|symbolic link|777|7|${await mtimeOf(remounted, 'filelink')}`,
  ]);
  t.is((await ok('readlink', [join(remounted, 'link')])).trim(), 'sub');
  t.is((await ok('cat', [join(remounted, 'link', 'file.txt')])).trim(), 'inside');
  await mounted.stop();
});

async function mtimeOf(root: string, path: string): Promise<string> {
  return (await ok('stat', ['-c', '%Y', join(root, path)])).trim();
}

test.serial('modes and mtimes set by chmod, touch -d and rsync -a survive a remount; a second rsync -a copies nothing', async (t) => {
  const source = join(scratch, 'rsync-source');
  await mkdir(join(source, 'dir'), { recursive: true });
  await writeFile(join(source, 'private.txt'), 'secret');
  await chmod(join(source, 'private.txt'), 0o600);
  await writeFile(join(source, 'script.sh'), '#!/bin/sh\n');
  await chmod(join(source, 'script.sh'), 0o750);
  await writeFile(join(source, 'dated.txt'), 'old');
  await writeFile(join(source, 'dir', 'inner.txt'), 'inner');
  await ok('touch', ['-d', '2020-01-02 03:04:05', join(source, 'dated.txt'), join(source, 'dir', 'inner.txt')]);
  await ok('touch', ['-d', '2021-05-06 07:08:09', join(source, 'dir')]);
  await symlink('dated.txt', join(source, 'link'));
  const names = ['private.txt', 'script.sh', 'dated.txt', 'dir', 'dir/inner.txt', 'link'];
  const expected = await stats(source, names);

  let mounted = await mount();
  const copy = join(mounted.mountpoint, 'rsynced');
  await ok('rsync', ['-a', `${source}/`, `${copy}/`]);
  // chmod and touch -d on files written earlier, through the mount.
  await writeFile(join(mounted.mountpoint, 'chmodded.txt'), 'x');
  await ok('chmod', ['0600', join(mounted.mountpoint, 'chmodded.txt')]);
  await ok('touch', ['-d', '2019-03-04 05:06:07', join(mounted.mountpoint, 'chmodded.txt')]);
  t.deepEqual(await stats(copy, names), expected, 'in the mount that wrote them');

  await mounted.stop();
  mounted = await mount();
  const again = join(mounted.mountpoint, 'rsynced');
  // Listed first, as ls -l, find and backup tools do: the listing has no metadata to give.
  const listed = await ok('ls', ['-l', again]);
  t.regex(listed, /^-rw------- .* private\.txt$/m);
  t.regex(listed, /^-rwxr-x--- .* script\.sh$/m);
  t.regex(listed, /^lrwxrwxrwx .* link -> dated\.txt$/m);
  await ok('ls', ['-l', mounted.mountpoint, join(again, 'dir')]);
  t.deepEqual(await stats(again, names), expected, 'after a remount');
  const chmodded = await stats(mounted.mountpoint, ['chmodded.txt']);
  t.deepEqual(chmodded, [`chmodded.txt|regular file|600|1|${Math.floor(new Date('2019-03-04T05:06:07').getTime() / 1000)}`]);
  t.is(await ok('rsync', ['-ai', `${source}/`, `${again}/`]), '', 'rsync -a after a remount has nothing to copy');
  await mounted.stop();
});

test.serial("s3fs's older directory formats are directories: an x-directory object and a _$folder$ marker", async (t) => {
  const put = (key: string, body: string, contentType?: string) =>
    client.send(
      new PutObjectCommand({ Bucket: endpoint.bucket, Key: prefix + key, Body: body, ContentLength: Buffer.byteLength(body), ContentType: contentType }),
    );
  await put('old/typed', '', 'application/x-directory');
  await put('old/typedfull', '', 'application/x-directory');
  await put('old/typedfull/inner.txt', 'in typed');
  await put('old/folder_$folder$', '');
  await put('old/folderfull_$folder$', '');
  await put('old/folderfull/inner.txt', 'in folder');
  await put('old/plain.txt', 'a file');
  const dirs = ['typed', 'typedfull', 'folder', 'folderfull'];

  const mounted = await mount();
  const old = join(mounted.mountpoint, 'old');
  // Looked up before any listing of their parent...
  for (const name of dirs) t.is((await ok('stat', ['-c', '%F', join(old, name)])).trim(), 'directory', `${name}, looked up`);
  // ...and through the listing.
  t.deepEqual((await ok('ls', ['-a', old])).trim().split('\n').sort(), ['.', '..', 'folder', 'folderfull', 'plain.txt', 'typed', 'typedfull']);
  t.deepEqual((await ok('find', [old, '-mindepth', '1', '-maxdepth', '1', '-type', 'd', '-printf', '%f\n'])).trim().split('\n').sort(), [...dirs].sort());
  t.is((await ok('cat', [join(old, 'typedfull', 'inner.txt')])).trim(), 'in typed');
  t.is((await ok('cat', [join(old, 'folderfull', 'inner.txt')])).trim(), 'in folder');
  t.is((await ok('ls', ['-A', join(old, 'typed')])).trim(), '');
  t.is((await ok('ls', ['-A', join(old, 'folder')])).trim(), '');
  await mounted.stop();

  // A fresh mount that lists first.
  const fresh = await mount();
  const listed = join(fresh.mountpoint, 'old');
  t.deepEqual((await ok('find', [listed, '-mindepth', '1', '-type', 'd', '-printf', '%P\n'])).trim().split('\n').sort(), [...dirs].sort());
  t.deepEqual((await ok('find', [listed, '-type', 'f', '-printf', '%P\n'])).trim().split('\n').sort(), [
    'folderfull/inner.txt',
    'plain.txt',
    'typedfull/inner.txt',
  ]);
  await fresh.stop();
});

test.serial('--no-posix-metadata serves listings alone: ls -l makes no HEAD per entry, and shows the defaults', async (t) => {
  for (let i = 0; i < 40; i++) {
    await client.send(
      new PutObjectCommand({
        Bucket: endpoint.bucket,
        Key: `${prefix}fast/f${String(i).padStart(2, '0')}`,
        Body: 'x',
        ContentLength: 1,
        Metadata: { mode: String(0o100600) },
      }),
    );
  }
  const mounted = await mountBucket(endpoint, { target: prefix ? `${endpoint.bucket}:${prefix}` : endpoint.bucket, args: ['--no-posix-metadata'] });
  mounts.push(mounted);
  const before = await mountStats(mounted.mountpoint);
  const listed = (await ok('ls', ['-l', join(mounted.mountpoint, 'fast')]))
    .trim()
    .split('\n')
    .filter((line) => line.startsWith('-'));
  t.is(listed.length, 40);
  t.true(
    listed.every((line) => line.startsWith('-rw-r--r--')),
    'modes are the defaults: the metadata is not read',
  );
  const after = await mountStats(mounted.mountpoint);
  // The lookup of the directory itself only.
  t.is(after.s3.head.count - before.s3.head.count, 1);
  await mounted.stop();
});
