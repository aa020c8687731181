// Coherence with other writers (issue 11): objects replaced behind a cached listing, cache
// invalidate acting at once with the default options. Each test mounts its own directory of
// the bucket and changes it through the SDK, as another machine would.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, open, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import test from 'ava';
import { type S3Endpoint, seedClient, startS3Endpoint, testPrefix } from '../../scripts/local-s3.js';
import { CLI, type Mount, mountBucket, run } from '../support/mount.js';
import { patternBytes } from '../support/pattern.js';

let endpoint: S3Endpoint;
let client: S3Client;
let prefix: string;

test.before(async () => {
  endpoint = await startS3Endpoint();
  client = seedClient(endpoint);
  prefix = testPrefix(endpoint);
});

test.after.always(async () => {
  await endpoint?.stop();
});

async function put(key: string, body: string | Buffer, metadata?: Record<string, string>): Promise<void> {
  await client.send(
    new PutObjectCommand({ Bucket: endpoint.bucket, Key: prefix + key, Body: body, ContentLength: Buffer.byteLength(body), Metadata: metadata }),
  );
}

async function mountDirectory(t: { teardown(fn: () => Promise<void>): void }, directory: string, args: string[] = []): Promise<Mount> {
  const mount = await mountBucket(endpoint, { target: `${endpoint.bucket}:${prefix}${directory}`, args });
  t.teardown(() => mount.stop());
  return mount;
}

/** stdout of a command that must succeed. */
async function must(command: string, ...args: string[]): Promise<string> {
  const result = await run(command, args);
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

test('an object replaced behind a cached listing reads as the new object, whole', async (t) => {
  await put('replaced/longer.txt', 'version 1\n');
  await put('replaced/same.txt', 'AAAA\n');
  await put('replaced/shorter.txt', 'version 1, the long one\n');
  const mount = await mountDirectory(t, 'replaced');
  const at = (name: string) => join(mount.mountpoint, name);
  // The listing is cached (60 s by default); no byte of the files was read yet.
  t.deepEqual((await must('ls', '-1', mount.mountpoint)).split('\n').filter(Boolean), ['longer.txt', 'same.txt', 'shorter.txt']);

  // Another writer replaces them: the listing still holds the old ETags and sizes.
  await put('replaced/longer.txt', 'version 2, longer than the first one\n');
  await put('replaced/same.txt', 'BBBB\n');
  await put('replaced/shorter.txt', 'v2\n');

  t.is(await must('cat', at('longer.txt')), 'version 2, longer than the first one\n');
  t.is(await must('cat', at('same.txt')), 'BBBB\n');
  t.is(await must('cat', at('shorter.txt')), 'v2\n');
  // The ETag mismatch refreshed the key and its listing: stat and ls -l agree with S3.
  t.is((await must('stat', '-c', '%s', at('longer.txt'))).trim(), String('version 2, longer than the first one\n'.length));
  t.regex(await must('ls', '-l', mount.mountpoint), /\s3 [^\n]*shorter\.txt/);
});

test('an object replaced by a shorter one behind a cached listing reads as the new object, with no zeros after it', async (t) => {
  // Larger than one FUSE read (128 KiB): the kernel sends read-ahead up to the old size in
  // parallel requests, and must take the new end from the one read that holds it.
  const versions: Array<[string, number, number]> = [
    ['big-to-small.bin', 2 * 1024 * 1024, 100],
    ['big-to-mid.bin', 300_000, 200_000],
    ['big-to-empty.bin', 1024 * 1024, 0],
  ];
  for (const [name, from] of versions) await put(`shrunk/${name}`, patternBytes(from, 1));
  const mount = await mountDirectory(t, 'shrunk');
  await must('ls', '-l', mount.mountpoint);
  for (const [name, , to] of versions) await put(`shrunk/${name}`, patternBytes(to, 2));
  for (const [name, from, to] of versions) {
    // cat reads until a read returns nothing (not up to the size a stat gave).
    const cat = await run('sh', ['-c', 'cat "$1" | sha1sum', 'cat', join(mount.mountpoint, name)]);
    t.is(cat.stdout.split(' ')[0], createHash('sha1').update(patternBytes(to, 2)).digest('hex'), `${name}: ${from} → ${to} bytes`);
  }
});

test('an object removed by another writer behind a cached listing: reads are EIO, and the listing forgets it', async (t) => {
  const held = Buffer.alloc(8 * 1024 * 1024, 'h');
  await put('removed/held.bin', held);
  await put('removed/unread.txt', 'unread\n');
  await put('removed/stays.txt', 'stays\n');
  const mount = await mountDirectory(t, 'removed');
  t.deepEqual((await must('ls', '-1', mount.mountpoint)).split('\n').filter(Boolean), ['held.bin', 'stays.txt', 'unread.txt']);
  const handle = await open(join(mount.mountpoint, 'held.bin'), 'r');
  try {
    t.true((await handle.read(Buffer.alloc(100), 0, 100, 0)).buffer.equals(held.subarray(0, 100)));
    for (const name of ['held.bin', 'unread.txt']) await client.send(new DeleteObjectCommand({ Bucket: endpoint.bucket, Key: `${prefix}removed/${name}` }));
    // A read past what was fetched finds no key: EIO, as for a replaced object (read(2) has
    // no ENOENT), not bytes and not "No such file or directory".
    const error = await t.throwsAsync(handle.read(Buffer.alloc(100), 0, 100, 7 * 1024 * 1024));
    t.is((error as NodeJS.ErrnoException).code, 'EIO');
  } finally {
    await handle.close();
  }
  // The listing still named it: opened by name, it fails the same way.
  const cat = await run('cat', [join(mount.mountpoint, 'unread.txt')]);
  t.regex(cat.stderr, /Input\/output error/);
  // Either failure dropped the listing that named them (60 s by default): ls asks S3 again.
  t.deepEqual((await must('ls', '-1', mount.mountpoint)).split('\n').filter(Boolean), ['stays.txt']);
});

test("a rename keeps the mtime of another writer's object that has no mtime metadata", async (t) => {
  await put('renamed/plain.txt', 'no metadata\n');
  await put('renamed/moded.txt', 'mode only\n', { mode: String(0o100600) });
  const mount = await mountDirectory(t, 'renamed');
  const mtimeOf = async (name: string) => (await must('stat', '-c', '%.9Y', join(mount.mountpoint, name))).trim();
  for (const name of ['plain', 'moded']) {
    // Last-Modified, whole seconds, with milliseconds stamped from the version.
    const before = await mtimeOf(`${name}.txt`);
    // The copy gets a Last-Modified of its own a second or more later.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await must('mv', join(mount.mountpoint, `${name}.txt`), join(mount.mountpoint, `${name}-moved.txt`));
    t.is(await mtimeOf(`${name}-moved.txt`), before, `${name}: right after the rename`);
    await invalidate(t, mount, `${name}-moved.txt`);
    t.is(await mtimeOf(`${name}-moved.txt`), before, `${name}: as S3 has it`);
  }
});

test('cache invalidate acts at once with the default options', async (t) => {
  await put('inval/a.txt', 'version 1\n');
  const mount = await mountDirectory(t, 'inval');
  const file = join(mount.mountpoint, 'a.txt');
  t.is(await must('cat', file), 'version 1\n');
  // Listed: from now on the mount knows the answer at once, and its FUSE binding keeps it.
  await must('ls', '-l', mount.mountpoint);
  t.is((await must('stat', '-c', '%s', file)).trim(), '10');

  await put('inval/a.txt', 'version 2, longer\n');
  await put('inval/new.txt', 'new\n');
  // Once the kernel's copy ran out, it takes a fresh one of what s3mount's cache (60 s) still
  // says, which the mount's FUSE binding keeps too.
  await new Promise((resolve) => setTimeout(resolve, 1100));
  t.is((await must('stat', '-c', '%s', file)).trim(), '10');
  for (const path of ['a.txt', 'new.txt']) await invalidate(t, mount, path);
  t.is((await must('stat', '-c', '%s', file)).trim(), '18');
  t.is(await must('cat', file), 'version 2, longer\n');
  t.is(await must('cat', join(mount.mountpoint, 'new.txt')), 'new\n');
});

// Found trying the mount (helper C): tools that keep times (s3fs, rclone) replace an object by
// one of the same size and mtime; libfuse's auto_cache then kept the kernel's pages of the old
// bytes across opens, and cat read them after `cache invalidate`, and after the TTL too.
test('cache invalidate of a file replaced by one of the same size and mtime: the next cat reads the new bytes', async (t) => {
  const kept = { mtime: '1700000000' };
  await put('same-times/f.txt', 'CCCCCCCCCC', kept);
  const mount = await mountDirectory(t, 'same-times');
  const file = join(mount.mountpoint, 'f.txt');
  t.is(await must('cat', file), 'CCCCCCCCCC');
  await put('same-times/f.txt', 'DDDDDDDDDD', kept);
  await invalidate(t, mount, 'f.txt');
  t.is(await must('cat', file), 'DDDDDDDDDD');
});

// Found trying the mount: `cache clear` returned while the kernel still held what it had been
// told, so a stat right after it showed the old size (and a read, the new bytes cut to it).
test('cache clear, as invalidate, returns once the kernel holds nothing older than it', async (t) => {
  await put('cleared/a.txt', 'short\n');
  // A kernel TTL long enough that the stat after a clear that does not wait falls inside it.
  const mount = await mountDirectory(t, 'cleared', ['--kernel-cache-ttl', '3']);
  const file = join(mount.mountpoint, 'a.txt');
  t.is(await must('cat', file), 'short\n');
  t.is((await must('stat', '-c', '%s', file)).trim(), '6');
  await put('cleared/a.txt', '123456 and longer\n');
  const cleared = await run(process.execPath, [CLI, 'cache', 'clear', mount.mountpoint]);
  t.is(cleared.code, 0, cleared.stderr);
  t.is((await must('stat', '-c', '%s', file)).trim(), '18');
  t.is(await must('cat', file), '123456 and longer\n');
});

test('a replaced object of the same size and Last-Modified second never shows its old pages', async (t) => {
  const mount = await mountDirectory(t, 'second');
  // Both versions must fall in one second of Last-Modified (S3 gives whole seconds), so the
  // kernel sees the same size and mtime: start right after a second begins, and check.
  for (let attempt = 0; ; attempt++) {
    const name = `same-${attempt}.txt`;
    await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000)));
    await put(`second/${name}`, '1111\n');
    const first = await lastModified(`second/${name}`);
    t.is(await must('cat', join(mount.mountpoint, name)), '1111\n', 'the kernel now holds the first version in its pages');
    await put(`second/${name}`, '2222\n');
    if ((await lastModified(`second/${name}`)) !== first && attempt < 5) continue;
    await invalidate(t, mount, name);
    t.is(await must('cat', join(mount.mountpoint, name)), '2222\n');
    return;
  }
});

async function lastModified(key: string): Promise<number | undefined> {
  return (await client.send(new HeadObjectCommand({ Bucket: endpoint.bucket, Key: prefix + key }))).LastModified?.getTime();
}

async function invalidate(t: { is(a: unknown, b: unknown, message?: string): void }, mount: Mount, path: string): Promise<void> {
  const result = await run(process.execPath, [CLI, 'cache', 'invalidate', mount.mountpoint, path]);
  t.is(result.code, 0, result.stderr);
}

test('10 processes × 20 rounds of cat, rm -f and cp onto 5 names: no error, nothing lost', async (t) => {
  const PROCESSES = 10;
  const ROUNDS = 20;
  const NAMES = 5;
  await put('churn/.keep', '');
  const sources = await mkdtemp(join(tmpdir(), 's3mount-churn-'));
  t.teardown(() => rm(sources, { recursive: true, force: true }));
  const staging = join(sources, 'staging');
  const mount = await mountDirectory(t, 'churn', ['--staging-dir', staging]);
  // Every version has its own content and size, so any mix of two would show.
  const versionOf = (p: number, r: number) => `${`process ${p} round ${r} `.repeat(1 + ((p * 7 + r * 3) % 40))}\n`;
  for (let p = 0; p < PROCESSES; p++) for (let r = 0; r < ROUNDS; r++) await writeFile(join(sources, `p${p}-r${r}`), versionOf(p, r));
  // Each process: read a name, remove another, copy a new version onto a third. What a local
  // disk answers to this workload is allowed, and nothing else: a cat of a name another process
  // just removed says "No such file or directory", and cp, which creates a name it found
  // missing with O_EXCL, says "File exists" when another process created it in between.
  const script = `
    p=$1; dir=$2; src=$3; fails=0
    for r in $(seq 0 ${ROUNDS - 1}); do
      a=$(( (p + r) % ${NAMES} )); b=$(( (p + 2 * r + 1) % ${NAMES} )); c=$(( (3 * p + r + 2) % ${NAMES} ))
      out=$(cat "$dir/f$a" 2>&1 >/dev/null) || case "$out" in *"No such file or directory") ;; *) echo "cat f$a: $out" >&2; fails=1 ;; esac
      rm -f "$dir/f$b" || fails=1
      out=$(cp "$src/p$p-r$r" "$dir/f$c" 2>&1) || case "$out" in *"cannot create regular file"*"File exists") ;; *) echo "cp f$c: $out" >&2; fails=1 ;; esac
    done
    exit $fails`;
  const results = await Promise.all(
    Array.from({ length: PROCESSES }, (_, p) => run('sh', ['-c', script, 'churn', String(p), mount.mountpoint, sources], { timeoutMs: 240_000 })),
  );
  t.deepEqual(
    results.map((result, p) => `process ${p}: exit ${result.code} ${result.stderr}`.trim()),
    results.map((_, p) => `process ${p}: exit 0`),
  );
  // Each name ends as a version written to it, or absent; the mount shows the same. Two cp
  // onto one name at once share the file, as on a local disk: when both truncate before
  // either writes, the shorter version ends over the tail of the longer one. Anything else
  // (a mix of versions at other offsets, a cut version) is a torn upload.
  for (let n = 0; n < NAMES; n++) {
    const written: string[] = [];
    for (let p = 0; p < PROCESSES; p++) for (let r = 0; r < ROUNDS; r++) if ((3 * p + r + 2) % NAMES === n) written.push(versionOf(p, r));
    const inBucket = await objectText(`churn/f${n}`);
    if (inBucket !== undefined)
      t.true(
        asLocalDiskCouldEnd(inBucket, written),
        `f${n} holds what a local disk could: ${inBucket.length} bytes ${JSON.stringify(inBucket.slice(0, 60))}…${JSON.stringify(inBucket.slice(-60))}`,
      );
    const seen = await run('cat', [join(mount.mountpoint, `f${n}`)]);
    t.is(seen.code === 0 ? seen.stdout : undefined, inBucket, `f${n} through the mount`);
  }
  t.notRegex(mount.logs(), /"level":(50|60)/, 'no error logged');
  // Once unmounted, no staged copy or sidecar is left behind.
  await mount.stop();
  t.deepEqual(await readdir(staging), []);
  // Files removed while open were hidden (by libfuse or by the mount), and removed at release.
  const left = await client.send(new ListObjectsV2Command({ Bucket: endpoint.bucket, Prefix: `${prefix}churn/` }));
  t.deepEqual(
    (left.Contents ?? []).map((object) => object.Key?.slice(`${prefix}churn/`.length)).filter((name) => !/^f\d$/.test(name ?? '')),
    ['.keep'],
    'no hidden file left in the bucket',
  );
});

/** `content` is one of `versions`, or one written over the tail of a longer one. */
function asLocalDiskCouldEnd(content: string, versions: readonly string[]): boolean {
  return versions.some(
    (version) =>
      content === version ||
      (content.startsWith(version) && versions.some((longer) => longer.length === content.length && longer.endsWith(content.slice(version.length)))),
  );
}

async function objectText(key: string): Promise<string | undefined> {
  try {
    const out = await client.send(new GetObjectCommand({ Bucket: endpoint.bucket, Key: prefix + key }));
    return await out.Body?.transformToString();
  } catch (error) {
    if ((error as { name?: string }).name === 'NoSuchKey') return undefined;
    throw error;
  }
}

// Writes through a MAP_SHARED mapping after close(): the kernel sends them as writes on the
// mapping's handle when it is unmapped (or msync'ed), after the flush that close() sent.
const MMAP_SCRIPT = `
import mmap, sys
path, mode = sys.argv[1], sys.argv[2]
with open(path, 'r+b') as f:
    mapping = mmap.mmap(f.fileno(), 0)
mapping[0:6] = b'MAPPED'
if mode == 'msync':
    mapping.flush()
if mode != 'munmap':
    print('written', flush=True)
    sys.stdin.read()
mapping.close()
`;

for (const mode of ['munmap', 'msync', 'writeback'] as const) {
  test(`pages written through a shared mapping after close() reach S3 (${mode})`, async (t) => {
    await put(`mmap-${mode}/file.txt`, 'original content\n');
    const mount = await mountDirectory(t, `mmap-${mode}`);
    const child = spawn('python3', ['-c', MMAP_SCRIPT, join(mount.mountpoint, 'file.txt'), mode], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const written = new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    t.teardown(() => {
      child.stdin.end();
      return exited.then(() => undefined);
    });
    if (mode === 'munmap') t.is(await exited, 0, stderr);
    else await written;
    // The kernel writes dirty pages back on its own after about 30 s; syncfs asks for it now,
    // without the fsync of the file that msync sends.
    if (mode === 'writeback') t.is((await run('sync', ['-f', mount.mountpoint])).code, 0);
    // The mapping stays open while waiting (msync): the upload may not wait for its release.
    const deadline = Date.now() + 60_000;
    let inBucket = await objectText(`mmap-${mode}/file.txt`);
    while (inBucket !== 'MAPPEDal content\n' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      inBucket = await objectText(`mmap-${mode}/file.txt`);
    }
    t.is(inBucket, 'MAPPEDal content\n');
  });
}

test('after a read failed because the object was replaced under it, the next cat reads the new object, not old pages mixed with it', async (t) => {
  const size = 10 * 1024 * 1024;
  const before = patternBytes(size, 1);
  const after = patternBytes(size, 2);
  await put('mixed/data.bin', before);
  const mount = await mountDirectory(t, 'mixed');
  const file = join(mount.mountpoint, 'data.bin');
  // The kernel keeps pages of the first MiB (and what it read ahead) of the old version.
  t.is((await run('head', ['-c', String(1024 * 1024), file])).code, 0);
  await put('mixed/data.bin', after);
  // A cat finds the rest of the old version gone: it read the old pages, so it fails (EIO)
  // and the mount learns the new version.
  const first = await run('cat', [file]);
  t.not(first.code, 0, 'the handle that returned old bytes fails');
  const digest = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');
  // Read right away, as a user retrying does: the kernel's copy of the attributes is still the old one.
  const again = await run('sh', ['-c', `sha256sum < '${file}'`]);
  t.is(again.code, 0, again.stderr);
  t.is(again.stdout.split(' ')[0], digest(after), 'the new object, whole');
});
