// The write path through a real mount, with coreutils as child processes; what lands in
// the bucket is checked through the SDK, and what must survive a remount is checked after one.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import test from 'ava';
import { type S3Endpoint, seedClient, startS3Endpoint, testPrefix } from '../../scripts/local-s3.js';
import { type Mount, mountBucket, quiescentStats, run } from '../support/mount.js';
import { prebuiltBindingNote } from '../support/native-binding.js';
import { patternBytes } from '../support/pattern.js';

let endpoint: S3Endpoint;
let client: S3Client;
let prefix: string;
let mount: Mount;
let scratch: string;

const target = () => (prefix ? `${endpoint.bucket}:${prefix}` : endpoint.bucket);
// Long TTLs, negative ones too: S3 counts must not depend on the kernel keeping a directory's entry.
const mountArgs = ['--metadata-ttl', '3600', '--negative-metadata-ttl', '3600'];

test.before(async () => {
  endpoint = await startS3Endpoint();
  client = seedClient(endpoint);
  prefix = testPrefix(endpoint);
  scratch = await mkdtemp(join(tmpdir(), 's3mount-write-'));
  mount = await mountBucket(endpoint, { target: target(), args: mountArgs });
});

test.after.always(async () => {
  await mount?.stop();
  await endpoint?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const at = (path: string) => join(mount.mountpoint, path);

async function objectBytes(key: string): Promise<Buffer | undefined> {
  try {
    const response = await client.send(new GetObjectCommand({ Bucket: endpoint.bucket, Key: prefix + key }));
    return Buffer.from(await response.Body!.transformToByteArray());
  } catch {
    return undefined;
  }
}

async function sh(script: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return run('sh', ['-c', script], { timeoutMs: 300_000 });
}

test.serial('cp of a 100 MiB file lands byte-exact in the bucket', async (t) => {
  const source = join(scratch, 'hundred.bin');
  const bytes = patternBytes(100 * 1024 * 1024, 11);
  await writeFile(source, bytes);
  const copy = await run('cp', [source, at('hundred.bin')], { timeoutMs: 300_000 });
  t.is(copy.code, 0, copy.stderr);
  const stored = await objectBytes('hundred.bin');
  t.is(stored?.length, bytes.length);
  t.true(stored?.equals(bytes), 'the object equals the source');
  const compare = await run('cmp', [source, at('hundred.bin')], { timeoutMs: 300_000 });
  t.is(compare.code, 0, compare.stdout);
});

test.serial('echo > and >> create and append', async (t) => {
  t.is((await sh(`echo first > ${at('log.txt')} && echo second >> ${at('log.txt')}`)).code, 0);
  t.is((await objectBytes('log.txt'))?.toString(), 'first\nsecond\n');
  t.is((await run('cat', [at('log.txt')])).stdout, 'first\nsecond\n');
});

test.serial('truncate -s shrinks and grows', async (t) => {
  await sh(`printf 0123456789 > ${at('trunc.txt')}`);
  t.is((await run('truncate', ['-s', '4', at('trunc.txt')])).code, 0);
  t.is((await objectBytes('trunc.txt'))?.toString(), '0123');
  t.is((await run('truncate', ['-s', '8', at('trunc.txt')])).code, 0);
  t.deepEqual([...((await objectBytes('trunc.txt')) ?? [])], [48, 49, 50, 51, 0, 0, 0, 0]);
  t.is((await run('stat', ['-c', '%s', at('trunc.txt')])).stdout.trim(), '8');
});

test.serial('fallocate grows a file, keeps its size with --keep-size, and refuses holes (rsync --preallocate asks --keep-size)', async (t) => {
  // A new file given 3 MiB: zeros, in the bucket once fallocate's close returns.
  const grown = await run('fallocate', ['-l', '3M', at('alloc-new.bin')]);
  t.is(grown.code, 0, grown.stderr);
  t.is((await run('stat', ['-c', '%s', at('alloc-new.bin')])).stdout.trim(), String(3 * 1024 * 1024));
  const stored = await objectBytes('alloc-new.bin');
  t.is(stored?.length, 3 * 1024 * 1024);
  t.true(stored?.every((byte) => byte === 0));
  // A shorter file grows; a range inside it changes nothing.
  await sh(`printf abc > ${at('alloc.txt')}`);
  t.is((await run('fallocate', ['-l', '6', at('alloc.txt')])).code, 0);
  t.is((await run('fallocate', ['-o', '1', '-l', '2', at('alloc.txt')])).code, 0);
  t.deepEqual([...((await objectBytes('alloc.txt')) ?? [])], [97, 98, 99, 0, 0, 0]);
  // FALLOC_FL_KEEP_SIZE reserves space: nothing to do on S3, and no error.
  const kept = await run('fallocate', ['-n', '-l', '1M', at('alloc.txt')]);
  t.is(kept.code, 0, kept.stderr);
  t.is((await run('stat', ['-c', '%s', at('alloc.txt')])).stdout.trim(), '6');
  // Holes and zeroed ranges are not supported, as on filesystems without them.
  for (const flag of ['--punch-hole', '--zero-range']) {
    const refused = await run('fallocate', [flag, '-o', '0', '-l', '2', at('alloc.txt')]);
    t.not(refused.code, 0, flag);
    t.regex(refused.stderr, /not supported|unsupported/, flag);
  }
  t.deepEqual([...((await objectBytes('alloc.txt')) ?? [])], [97, 98, 99, 0, 0, 0]);
  // rsync --preallocate exited 23 when fallocate was EOPNOTSUPP.
  const source = join(scratch, 'preallocated.bin');
  await writeFile(source, patternBytes(300 * 1024, 5));
  const synced = await run('rsync', ['--preallocate', source, at('preallocated.bin')]);
  t.is(synced.code, 0, synced.stderr);
  t.true((await objectBytes('preallocated.bin'))?.equals(patternBytes(300 * 1024, 5)));
});

test.serial('dd conv=notrunc overwrites the middle of a file', async (t) => {
  const original = patternBytes(3 * 1024 * 1024, 2);
  await writeFile(join(scratch, 'middle.bin'), original);
  t.is((await run('cp', [join(scratch, 'middle.bin'), at('middle.bin')])).code, 0);
  const dd = await sh(`printf PATCHED | dd of=${at('middle.bin')} bs=1 seek=1048570 conv=notrunc status=none`);
  t.is(dd.code, 0, dd.stderr);
  const expected = Buffer.from(original);
  Buffer.from('PATCHED').copy(expected, 1048570);
  t.true((await objectBytes('middle.bin'))?.equals(expected));
});

test.serial('mkdir -p, mv of files and a tree, rmdir refusing a non-empty directory, rm -r', async (t) => {
  t.is((await run('mkdir', ['-p', at('tree/a/b')])).code, 0);
  await sh(`echo one > ${at('tree/one.txt')} && echo two > ${at('tree/a/b/two.txt')}`);
  const refused = await run('rmdir', [at('tree')]);
  t.not(refused.code, 0);
  t.regex(refused.stderr, /Directory not empty/);
  t.is((await run('mv', [at('tree/one.txt'), at('tree/uno.txt')])).code, 0);
  t.is((await run('mv', [at('tree'), at('moved')])).code, 0);
  const find = await run('find', [at('moved')]);
  t.deepEqual(find.stdout.trim().split('\n').sort(), ['moved', 'moved/a', 'moved/a/b', 'moved/a/b/two.txt', 'moved/uno.txt'].map(at).sort());
  t.regex((await run('ls', [mount.mountpoint])).stdout, /^moved$/m);
  t.notRegex((await run('ls', [mount.mountpoint])).stdout, /^tree$/m);
  t.is((await objectBytes('moved/a/b/two.txt'))?.toString(), 'two\n');
  t.is(await objectBytes('tree/a/b/two.txt'), undefined);
  t.is((await run('rm', ['-r', at('moved')])).code, 0);
  t.regex((await run('ls', [at('moved')])).stderr, /No such file or directory/);
  t.is(await objectBytes('moved/uno.txt'), undefined);
});

test.serial('every change shows at once with a long TTL and unrelated entries stay cached', async (t) => {
  await sh(`mkdir ${at('keep')} && echo keep > ${at('keep/k.txt')} && mkdir ${at('work')}`);
  await run('ls', ['-l', at('keep')]);
  await run('ls', ['-l', at('work')]);
  await sh(`echo new > ${at('work/new.txt')}`);
  t.regex((await run('ls', [at('work')])).stdout, /new\.txt/);
  await run('mv', [at('work/new.txt'), at('work/renamed.txt')]);
  t.is((await run('ls', [at('work')])).stdout.trim(), 'renamed.txt');
  await run('rm', [at('work/renamed.txt')]);
  t.is((await run('ls', [at('work')])).stdout.trim(), '');
  const before = await quiescentStats(mount.mountpoint);
  t.regex((await run('ls', ['-l', at('keep')])).stdout, /k\.txt/);
  const after = await quiescentStats(mount.mountpoint);
  t.is(after.s3.list.count, before.s3.list.count, 'the unrelated listing is still a hit');
  t.is(after.s3.head.count, before.s3.head.count);
});

test.serial('touch -d, chmod and symlinks survive a remount', async (t) => {
  await sh(`echo meta > ${at('meta.txt')}`);
  t.is((await run('touch', ['-d', '2020-01-02 03:04:05', at('meta.txt')])).code, 0);
  t.is((await run('chmod', ['600', at('meta.txt')])).code, 0);
  t.is((await run('ln', ['-s', 'meta.txt', at('link')])).code, 0);
  const head = await client.send(new HeadObjectCommand({ Bucket: endpoint.bucket, Key: `${prefix}meta.txt` }));
  t.is(head.Metadata?.mode, String(0o100600));
  await mount.stop();
  mount = await mountBucket(endpoint, { target: target(), args: mountArgs });
  t.is((await run('stat', ['-c', '%a %Y', at('meta.txt')])).stdout.trim(), `600 ${Date.parse('2020-01-02T03:04:05') / 1000}`);
  t.is((await run('readlink', [at('link')])).stdout.trim(), 'meta.txt');
  t.is((await run('cat', [at('link')])).stdout, 'meta\n');
});

test.serial('cp -p keeps the modification time and mode when the access time differs', async (t) => {
  const source = join(scratch, 'stamped.txt');
  await writeFile(source, 'stamped\n');
  await run('chmod', ['640', source]);
  await run('touch', ['-m', '-d', '2019-03-04 05:06:07', source]);
  await run('touch', ['-a', '-d', '2024-01-01 00:00:00', source]);
  t.is((await run('cp', ['-p', source, at('stamped.txt')])).code, 0);
  t.is((await run('stat', ['-c', '%a %Y', at('stamped.txt')])).stdout.trim(), `640 ${Date.parse('2019-03-04T05:06:07') / 1000}`, prebuiltBindingNote());
});

test.serial('rsync -a copies a tree with modes and modification times', async (t) => {
  const source = join(scratch, 'tree');
  await run('mkdir', ['-p', join(source, 'sub')]);
  await writeFile(join(source, 'a.txt'), 'a\n');
  await writeFile(join(source, 'sub', 'b.txt'), 'b\n');
  await run('chmod', ['600', join(source, 'a.txt')]);
  await run('touch', ['-d', '2018-07-08 09:10:11', join(source, 'a.txt'), join(source, 'sub', 'b.txt')]);
  const copy = await run('rsync', ['-a', `${source}/`, at('synced/')]);
  t.is(copy.code, 0, copy.stderr);
  const stamp = Date.parse('2018-07-08T09:10:11') / 1000;
  t.is((await run('stat', ['-c', '%a %Y', at('synced/a.txt')])).stdout.trim(), `600 ${stamp}`, prebuiltBindingNote());
  t.is((await run('stat', ['-c', '%Y', at('synced/sub/b.txt')])).stdout.trim(), String(stamp), prebuiltBindingNote());
  t.is((await objectBytes('synced/sub/b.txt'))?.toString(), 'b\n');
  const again = await run('rsync', ['-a', '--itemize-changes', `${source}/`, at('synced/')]);
  t.is(again.stdout.trim(), '', `a second rsync finds nothing to do ${prebuiltBindingNote()}`);
});

test.serial('a read-only mount refuses changes with EROFS', async (t) => {
  // Its own object, put through the SDK: nothing depends on what earlier tests left.
  await client.send(new PutObjectCommand({ Bucket: endpoint.bucket, Key: `${prefix}read-only/kept.txt`, Body: 'kept\n', ContentLength: 5 }));
  const readOnly = await mountBucket(endpoint, { target: target(), args: ['--read-only'] });
  t.teardown(() => readOnly.stop());
  const touch = await run('touch', [join(readOnly.mountpoint, 'read-only/nope.txt')]);
  t.regex(touch.stderr, /Read-only file system/);
  const remove = await run('rm', [join(readOnly.mountpoint, 'read-only/kept.txt')]);
  t.regex(remove.stderr, /Read-only file system/);
  t.is((await objectBytes('read-only/kept.txt'))?.toString(), 'kept\n');
  t.is(await objectBytes('read-only/nope.txt'), undefined);
  // What the mount table says, as programs that check it (findmnt, mount, backup tools) see it.
  const options = (await run('findmnt', ['-n', '-o', 'OPTIONS', readOnly.mountpoint])).stdout.trim().split(',');
  t.true(options.includes('ro'), options.join(','));
  t.false(options.includes('rw'), options.join(','));
});

// Each step of a program holding descriptors across another process's changes, printed as a
// local disk answers it.
const OPEN_HANDLES_SCRIPT = `
import os, subprocess, sys
os.chdir(sys.argv[1])
with open('log', 'w') as f: f.write('start\\n')
r = open('log', 'rb'); print(r.read())
w = open('log', 'ab'); w.write(b'second\\n'); w.flush()
print(r.read())
w2 = open('log', 'r+b'); w2.write(b'START'); w2.flush(); r.seek(0); print(r.read())
w2.truncate(3); w2.close(); w.close(); r.seek(0); print(r.read())
os.makedirs('d1/sub')
with open('d1/sub/f', 'w') as f: f.write('abc')
reader = open('d1/sub/f'); appender = open('d1/sub/f', 'a')
subprocess.run(['mv', 'd1', 'd2'], check=True)
print(reader.read()); appender.write('APP'); appender.close(); reader.close()
print(open('d2/sub/f').read())
`;

test.serial('descriptors read a rewrite before its close and follow a rename of their directory, as on a local disk', async (t) => {
  await sh(`mkdir -p ${at('handles')}`);
  const result = await run('python3', ['-c', OPEN_HANDLES_SCRIPT, at('handles')]);
  t.is(result.code, 0, result.stderr);
  t.deepEqual(result.stdout.trim().split('\n'), ["b'start\\n'", "b'second\\n'", "b'START\\nsecond\\n'", "b'STA'", 'abc', 'abcAPP']);
  t.is((await objectBytes('handles/d2/sub/f'))?.toString(), 'abcAPP');
  t.is(await objectBytes('handles/d1/sub/f'), undefined);
});

test.serial('a truncate or write past the largest file S3 takes is "File too large" at once; the file is left as it was', async (t) => {
  // 100 GiB needs 12,800 parts of 8 MiB: S3 takes at most 10,000 (with the mount's part size).
  await sh(`echo hi > ${at('huge.txt')}`);
  const cut = await run('truncate', ['-s', '100G', at('huge.txt')]);
  t.not(cut.code, 0);
  t.regex(cut.stderr, /File too large/, 'EFBIG, not EIO at the close of a copy no upload can save');
  const write = await run('python3', [
    '-c',
    "import os,sys; fd=os.open(sys.argv[1], os.O_WRONLY)\ntry: os.pwrite(fd, b'x', 100 << 30)\nexcept OSError as e: print(e.strerror)\nos.close(fd)",
    at('huge.txt'),
  ]);
  t.is(write.code, 0, write.stderr);
  t.is(write.stdout.trim(), 'File too large');
  t.is((await run('cat', [at('huge.txt')])).stdout, 'hi\n');
  t.is((await objectBytes('huge.txt'))?.toString(), 'hi\n');
});
