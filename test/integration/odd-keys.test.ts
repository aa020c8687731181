// Keys that are hard to carry through URLs, shells and file names: each is listed and read
// back exactly, or hidden as README documents, and the rest of its directory is unharmed.

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
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
  t.regex(missing.stderr, /File name too long/);
});

// Found trying the mount as a new user: `echo hi > NAME` with a 256-byte name succeeded, stored
// the object, and the file was nowhere to be seen (lookups and listings leave such names out).
test.serial('names and keys too long to hold are refused where they would be made, and nothing is stored', async (t) => {
  const dir = join(mount.mountpoint, 'too-long');
  t.is((await run('mkdir', [dir])).code, 0);
  const long = 'z'.repeat(256);
  for (const [what, command] of [
    ['a file', `echo hi > ${join(dir, long)}`],
    ['a directory', `mkdir ${join(dir, long)}`],
    ['a symbolic link', `ln -s x ${join(dir, long)}`],
    ['a FIFO', `mkfifo ${join(dir, long)}`],
  ]) {
    const made = await run('sh', ['-c', command]);
    t.not(made.code, 0, what);
    t.regex(made.stderr, /File name too long/, what);
  }
  t.is((await run('sh', ['-c', `echo kept > ${join(dir, 'kept')}`])).code, 0);
  const moved = await run('mv', [join(dir, 'kept'), join(dir, long)]);
  t.regex(moved.stderr, /File name too long/);
  t.is(await readFile(join(dir, 'kept'), 'utf8'), 'kept\n');
  // Past S3's 1,024 bytes of key (the test prefix counts): directories of 200 bytes, as deep as
  // they go; the one that would cross the limit is refused, and so is a file below the last.
  const level = 'd'.repeat(200);
  let deepest = dir;
  for (;;) {
    const next = join(deepest, level);
    const made = await run('mkdir', [next]);
    if (made.code !== 0) {
      t.regex(made.stderr, /File name too long/);
      break;
    }
    deepest = next;
  }
  const file = await run('sh', ['-c', `echo deep > ${join(deepest, 'f'.repeat(250))}`]);
  t.regex(file.stderr, /File name too long/);
  const keys = (await keysUnder('too-long/')).sort();
  t.true(keys.length > 2, keys.join(' '));
  for (const key of keys) t.true(Buffer.byteLength(prefix + key) <= 1024, `${key.length} bytes`);
  t.deepEqual(
    keys.filter((key) => key.split('/').some((part) => Buffer.byteLength(part) > 255)),
    [],
    'no name over 255 bytes',
  );
});

// Found by helper D: `\xff` and `\xfe` were one file (the binding made each invalid byte U+FFFD).
test.serial('names that are not UTF-8 are refused (EILSEQ) where they would be made, and nothing is stored', async (t) => {
  const dir = join(mount.mountpoint, 'bytes');
  t.is((await run('mkdir', [dir])).code, 0);
  // U+FFFD itself (EF BF BD) is a name like any other.
  t.is((await run('bash', ['-c', `echo ok > '${dir}/'$'\\xef\\xbf\\xbd'`])).code, 0);
  // bash's $'…' makes the bytes: lone bytes, a cut sequence, a surrogate, an overlong form.
  const refused = [
    ...["$'\\xff'", "$'\\xfe'", "$'a\\xc3'", "$'\\xed\\xa0\\x80'", "$'\\xc0\\xaf'"].map((name) => `echo x > '${dir}/'${name}`),
    `ln -s $'target\\xff' '${dir}/link'`,
    `mv '${dir}/'$'\\xef\\xbf\\xbd' '${dir}/'$'\\xff'`,
  ];
  for (const command of refused) {
    const result = await run('bash', ['-c', command]);
    t.not(result.code, 0, command);
    t.regex(result.stderr, /Invalid or incomplete multibyte or wide character/, command);
  }
  t.deepEqual(await keysUnder('bytes/'), ['bytes/', 'bytes/\ufffd']);
  t.is((await run('ls', [dir])).stdout, '\ufffd\n');
});

/** Every key under `under` (below the test prefix, which is left out), straight from S3. */
async function keysUnder(under: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: endpoint.bucket, Prefix: prefix + under, ContinuationToken: token }));
    for (const object of page.Contents ?? []) keys.push((object.Key ?? '').slice(prefix.length));
    token = page.NextContinuationToken;
  } while (token);
  return keys;
}

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
