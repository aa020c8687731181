// Keys that are hard to carry through URLs, shells and file names: each is listed and read
// back exactly, or hidden as README documents, and the rest of its directory is unharmed.

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import test from 'ava';
import { type S3Endpoint, seedClient, startS3Endpoint, testPrefix } from '../../scripts/local-s3.js';
import { type Mount, mountBucket, run } from '../support/mount.js';

// Each stays readable as a file of the same name.
const READABLE = [
  'with space.txt',
  'plus+sign.txt',
  'percent%20.txt',
  'hash#tag.txt',
  'question?.txt',
  `quote's "double".txt`,
  'naïve café.txt',
  'emoji 😀🚀.txt',
  '日本語のファイル.txt',
  'x'.repeat(255),
  'trailing space ',
  '-leading-dash',
  'semi;colon&amp=.txt',
];

let endpoint: S3Endpoint;
let client: S3Client;
let prefix: string;
let mount: Mount;

const put = (key: string, body: string) =>
  client.send(new PutObjectCommand({ Bucket: endpoint.bucket, Key: prefix + key, Body: body, ContentLength: Buffer.byteLength(body) }));

test.before(async () => {
  endpoint = await startS3Endpoint();
  client = seedClient(endpoint);
  prefix = testPrefix(endpoint);
  for (const name of READABLE) await put(`odd/${name}`, `content of ${name}`);
  // A copy of each for the test that renames and deletes them, so no test changes another's names.
  for (const name of READABLE) await put(`odd-ops/${name}`, `content of ${name}`);
  await put(`odd/${'y'.repeat(256)}`, 'name too long');
  await put('odd/a', 'file a');
  await put('odd/a/b', 'b under a');
  await put('odd/marker-with-data/', 'bytes of a marker');
  await put('odd/marker-with-data/inside.txt', 'inside');
  await put('odd//empty-component', 'x');
  await put('odd/./dot', 'x');
  await put('odd/../dotdot', 'x');
  mount = await mountBucket(endpoint, { target: prefix ? `${endpoint.bucket}:${prefix}` : endpoint.bucket });
});

test.after.always(async () => {
  await mount?.stop();
  await endpoint?.stop();
});

test.serial('every readable odd name is listed once and reads back exactly', async (t) => {
  const names = await readdir(join(mount.mountpoint, 'odd'));
  t.deepEqual(names.sort(), [...READABLE, 'a', 'marker-with-data'].sort());
  for (const name of READABLE) {
    t.is(await readFile(join(mount.mountpoint, 'odd', name), 'utf8'), `content of ${name}`, name);
  }
  const listing = await run('ls', ['-la', join(mount.mountpoint, 'odd')]);
  t.is(listing.code, 0, listing.stderr);
});

test.serial('a directory shadows the file of the same name; a marker with bytes is a directory', async (t) => {
  t.is((await run('stat', ['-c', '%F', join(mount.mountpoint, 'odd/a')])).stdout.trim(), 'directory');
  t.is(await readFile(join(mount.mountpoint, 'odd/a/b'), 'utf8'), 'b under a');
  t.is((await run('stat', ['-c', '%F', join(mount.mountpoint, 'odd/marker-with-data')])).stdout.trim(), 'directory');
  t.deepEqual(await readdir(join(mount.mountpoint, 'odd/marker-with-data')), ['inside.txt']);
});

test.serial('names a file system cannot hold are hidden, not errors', async (t) => {
  const find = await run('find', [join(mount.mountpoint, 'odd')]);
  t.is(find.code, 0, find.stderr);
  t.notRegex(find.stdout, /empty-component|\/dot$|dotdot|yyyy/);
  const missing = await run('cat', [join(mount.mountpoint, 'odd', 'y'.repeat(256))]);
  t.regex(missing.stderr, /File name too long|No such file/);
});

/** An object's bytes as text, read through the SDK (not the mount); undefined when there is none. */
async function stored(key: string): Promise<string | undefined> {
  try {
    const response = await client.send(new GetObjectCommand({ Bucket: endpoint.bucket, Key: prefix + key }));
    return await response.Body!.transformToString();
  } catch {
    return undefined;
  }
}

test.serial('each odd name can be renamed and deleted through the mount, and new ones created', async (t) => {
  const dir = join(mount.mountpoint, 'odd-ops');
  t.is((await run('mkdir', [join(dir, 'moved')])).code, 0);
  // Every odd key: renamed under the same odd name into another directory (a longer name would
  // not fit the 255-byte one), read back there, then deleted; the bucket is checked each step.
  for (const name of READABLE) {
    const moved = join(dir, 'moved', name);
    const mv = await run('mv', [join(dir, name), moved]);
    t.is(mv.code, 0, `mv ${name}: ${mv.stderr}`);
    t.is(await readFile(moved, 'utf8'), `content of ${name}`, name);
    t.is(await stored(`odd-ops/moved/${name}`), `content of ${name}`, `${name} renamed in the bucket`);
    t.is(await stored(`odd-ops/${name}`), undefined, `${name} gone from its old key`);
    const rm = await run('rm', [moved]);
    t.is(rm.code, 0, `rm ${name}: ${rm.stderr}`);
    t.is(await stored(`odd-ops/moved/${name}`), undefined, `${name} deleted from the bucket`);
  }
  for (const name of ['new file #1?.txt', 'ünïcødé 🎉.txt', `it's "quoted"`]) {
    const path = join(dir, name);
    t.is((await run('sh', ['-c', 'printf "%s" "$1" > "$2"', 'sh', name, path])).code, 0);
    t.is(await stored(`odd-ops/${name}`), name, `${name} created in the bucket`);
    t.is((await run('mv', [path, `${path}.moved`])).code, 0);
    t.is(await readFile(`${path}.moved`, 'utf8'), name);
    t.is((await run('rm', [`${path}.moved`])).code, 0);
    t.is(await stored(`odd-ops/${name}.moved`), undefined);
  }
  t.deepEqual(await readdir(dir), ['moved']);
  t.deepEqual(await readdir(join(dir, 'moved')), []);
  t.deepEqual((await readdir(join(mount.mountpoint, 'odd'))).sort(), [...READABLE, 'a', 'marker-with-data'].sort(), 'the other directory is untouched');
});
