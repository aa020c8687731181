// The attribute cache in the FUSE binding (scripts/fuse-native-attr-cache.h) on a real mount:
// repeated stats are answered there, and nothing it holds outlives a change: operations through
// the mount, another process writing, invalidations of what another writer changed, the TTL
// of the entries an answer came from. Each test first makes the binding hold the answer it
// then checks (a stat after the kernel's own copy ran out, counted as a hit of the binding).

import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import test from 'ava';
import { type S3Endpoint, seedClient, startS3Endpoint, testPrefix } from '../../scripts/local-s3.js';
import { sendControl } from '../../src/control/client.js';
import { CLI, type Mount, mountBucket, quiescentStats, run } from '../support/mount.js';

let endpoint: S3Endpoint;
let client: S3Client;
let prefix: string;
let mount: Mount;

const target = (directory = '') => `${endpoint.bucket}:${prefix}${directory}`;
// --kernel-cache-ttl is 1 s by default: past this, a stat reaches the mount again.
const KERNEL_TTL_MS = 1000;

test.before(async () => {
  endpoint = await startS3Endpoint();
  client = seedClient(endpoint);
  prefix = testPrefix(endpoint);
  mount = await mountBucket(endpoint, { target: target() });
});

test.after.always(async () => {
  await mount?.stop();
  await endpoint?.stop();
});

const at = (path: string, where: Mount = mount) => join(where.mountpoint, path);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const kernelForgets = () => sleep(KERNEL_TTL_MS + 200);

async function put(key: string, body: string, metadata?: Record<string, string>): Promise<void> {
  await client.send(
    new PutObjectCommand({ Bucket: endpoint.bucket, Key: prefix + key, Body: body, ContentLength: Buffer.byteLength(body), Metadata: metadata }),
  );
}

/** `stat --format` of paths (in one process), failing on any error. */
async function stat(format: string, ...paths: string[]): Promise<string> {
  const result = await run('stat', ['--format', format, ...paths]);
  if (result.code !== 0) throw new Error(`stat ${paths.join(' ')}: ${result.stderr}`);
  return result.stdout.trim();
}

async function must(command: string, ...args: string[]): Promise<string> {
  const result = await run(command, args);
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

// Asked over the control socket from here, as `cache stats` does, without starting a process.
async function bindingHits(where: Mount = mount): Promise<number> {
  const response = await sendControl(where.mountpoint, { command: 'stats' });
  const native = response.ok ? response.stats?.nativeAttrCache : undefined;
  if (!native) throw new Error('the mount has no attribute cache in its FUSE binding (see its log)');
  return native.hits;
}

/**
 * Lists `directory` (the answers are known at once from then on), lets the kernel forget, and
 * stats `paths` twice: the first answer is kept by the binding, the second comes from it.
 */
async function heldByBinding(t: { true(value: boolean, message?: string): void }, directory: string, paths: string[], where: Mount = mount): Promise<void> {
  await must('ls', '-l', at(directory, where));
  await kernelForgets();
  await stat('%s', ...paths.map((path) => at(path, where)));
  await kernelForgets();
  const before = await bindingHits(where);
  await stat('%s', ...paths.map((path) => at(path, where)));
  t.true((await bindingHits(where)) - before >= paths.length, `the binding answered the stats of ${paths.join(', ')}`);
}

async function invalidate(...args: string[]): Promise<void> {
  await must(process.execPath, CLI, 'cache', ...args);
}

test('repeated stats of listed entries are answered by the binding', async (t) => {
  const names = Array.from({ length: 20 }, (_, i) => `many/f${i}`);
  await Promise.all(names.map((name) => put(name, name)));
  await heldByBinding(t, 'many', names);
  t.regex(await must(process.execPath, CLI, 'cache', 'stats', mount.mountpoint), /^stat cache +\d+\/\d+ entries in the FUSE binding, hits [1-9]/m);
});

// Serial (ava runs serial tests before the others): a concurrent test's `cache invalidate` or
// `cache clear` would drop what the HEADs put into the binding.
test.serial('the first stats after a readdir are answered by the binding: the HEADs sent ahead put their answers there', async (t) => {
  const names = Array.from({ length: 20 }, (_, i) => `ahead/f${String(i).padStart(2, '0')}`);
  // Every other file with a mode of its own: only its HEAD tells it.
  await Promise.all(names.map((name, i) => put(name, name, i % 2 ? { mode: String(0o100600) } : undefined)));
  // Names only (no stat): the readdir sends the HEADs of its first entries ahead.
  await must('python3', '-c', 'import os, sys; os.listdir(sys.argv[1])', at('ahead'));
  await quiescentStats(mount.mountpoint);
  // The directory itself, which the stats below may look up again, is kept by its own stat.
  await stat('%a', at('ahead'));
  const before = await sendControl(mount.mountpoint, { command: 'stats' });
  const was = before.ok ? before.stats?.nativeAttrCache : undefined;
  // The first stats of these names: the kernel never looked them up, the core never was asked.
  const modes = await stat('%a', ...names.map((name) => at(name)));
  t.deepEqual(
    modes.split('\n'),
    names.map((_, i) => (i % 2 ? '600' : '644')),
  );
  const after = await sendControl(mount.mountpoint, { command: 'stats' });
  const now = after.ok ? after.stats?.nativeAttrCache : undefined;
  if (!was || !now) return t.fail('the mount has no attribute cache in its FUSE binding');
  t.true(now.hits - was.hits >= names.length, 'every stat answered by the binding');
  t.is(now.misses - was.misses, 0, 'none went to JavaScript');
});

test("cache invalidate shows another writer's attributes at once, though the binding held the old ones", async (t) => {
  await put('inval/a.txt', 'version 1\n');
  await put('inval/sub/b.txt', 'version 1\n');
  await put('inval/c.txt', 'version 1\n');
  await must('ls', '-l', at('inval/sub'));
  await heldByBinding(t, 'inval', ['inval/a.txt', 'inval/sub/b.txt', 'inval/c.txt']);

  const mode = String(0o100600);
  await put('inval/a.txt', 'version 2, longer\n', { mode });
  await put('inval/sub/b.txt', 'version 2, longer\n', { mode });
  await put('inval/c.txt', 'version 2, longer\n', { mode });
  await invalidate('invalidate', mount.mountpoint, 'inval/a.txt');
  t.is(await stat('%s %a', at('inval/a.txt')), '18 600');
  await invalidate('invalidate', '--recursive', mount.mountpoint, 'inval/sub');
  t.is(await stat('%s %a', at('inval/sub/b.txt')), '18 600');
  await invalidate('clear', mount.mountpoint);
  await kernelForgets();
  t.is(await stat('%s %a', at('inval/c.txt')), '18 600');
});

/** A Python process appending to `path`, one chunk per line it reads, "ok" after each; it holds the file open. */
function appender(path: string): { child: ChildProcess; append(): Promise<void>; close(): Promise<number | null> } {
  const script = `
import sys
f = open(sys.argv[1], 'ab', buffering=0)
print('open', flush=True)
for line in sys.stdin:
    f.write(b'x' * 1000)
    print('ok', flush=True)
f.close()
`;
  const child = spawn('python3', ['-c', script, path], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let waiting: (() => void) | undefined;
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    lines.push(...chunk.split('\n').filter(Boolean));
    waiting?.();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const next = (count: number) =>
    new Promise<void>((resolve) => {
      waiting = () => lines.length >= count && resolve();
      waiting();
    });
  let answered = 1;
  void next(1);
  return {
    child,
    append: async () => {
      await next(answered);
      child.stdin?.write('\n');
      await next(++answered);
    },
    close: async () => {
      child.stdin?.end();
      return exited;
    },
  };
}

test('a stat of a file another process is writing shows its size growing', async (t) => {
  await put('growing/f.txt', 'start');
  await heldByBinding(t, 'growing', ['growing/f.txt']);
  const writer = appender(at('growing/f.txt'));
  t.teardown(() => writer.close().then(() => undefined));
  for (let round = 1; round <= 3; round++) {
    await writer.append();
    t.is(await stat('%s', at('growing/f.txt')), String(5 + 1000 * round), `after ${round} appends`);
  }
  t.is(await writer.close(), 0);
  t.is(await stat('%s', at('growing/f.txt')), '3005');
  t.is((await client.send(new HeadObjectCommand({ Bucket: endpoint.bucket, Key: `${prefix}growing/f.txt` }))).ContentLength, 3005);
});

test("a directory's times move when an entry is created in it, while the new file is still open", async (t) => {
  await put('parent/d/keep', '');
  await heldByBinding(t, 'parent', ['parent/d']);
  const [mtime, ctime] = (await stat('%.9Y %.9Z', at('parent/d'))).split(' ').map(Number);
  const writer = appender(at('parent/d/new.txt'));
  t.teardown(() => writer.close().then(() => undefined));
  await writer.append();
  const [mtimeAfter, ctimeAfter] = (await stat('%.9Y %.9Z', at('parent/d'))).split(' ').map(Number);
  t.true(mtimeAfter > mtime, `mtime ${mtime} → ${mtimeAfter}`);
  t.true(ctimeAfter > ctime, `ctime ${ctime} → ${ctimeAfter}`);
});

test('a directory renamed away leaves nothing behind under its old name', async (t) => {
  await put('moved/r/x.txt', 'x');
  await must('ls', '-l', at('moved'));
  await heldByBinding(t, 'moved/r', ['moved/r', 'moved/r/x.txt']);
  await must('mv', at('moved/r'), at('moved/r2'));
  await must('mkdir', at('moved/r'));
  const gone = await run('stat', [at('moved/r/x.txt')]);
  t.regex(gone.stderr, /No such file or directory/);
  t.is(await stat('%s', at('moved/r2/x.txt')), '1');
});

test('chmod and touch through the mount show at once', async (t) => {
  await put('changed/f.txt', 'abc');
  await heldByBinding(t, 'changed', ['changed/f.txt']);
  await must('chmod', '600', at('changed/f.txt'));
  t.is(await stat('%a', at('changed/f.txt')), '600');
  await must('touch', '-m', '-d', '2001-02-03T04:05:06Z', at('changed/f.txt'));
  t.is(await stat('%Y', at('changed/f.txt')), String(Date.UTC(2001, 1, 3, 4, 5, 6) / 1000));
});

test('an answer the binding keeps ends with the metadata TTL of the entries it came from', async (t) => {
  const TTL_SECONDS = 5;
  await put('ttl/f.txt', 'version 1\n');
  const short = await mountBucket(endpoint, { target: target('ttl'), args: ['--metadata-ttl', String(TTL_SECONDS)] });
  t.teardown(() => short.stop());
  await heldByBinding(t, '', ['f.txt'], short);
  await put('ttl/f.txt', 'version 2, longer\n');
  // The listing and HEAD the answer came from expire within the TTL, the kernel's copy a
  // second after: what S3 holds shows then, with no invalidation.
  await sleep(TTL_SECONDS * 1000 + KERNEL_TTL_MS + 500);
  t.is(await stat('%s', at('f.txt', short)), '18');
});

test("a name that is not UTF-8 is refused (EILSEQ) before the binding's cache or JavaScript: never taken for the U+FFFD name", async (t) => {
  // The binding used to hand JavaScript U+FFFD for the byte 0xff: `\xff.txt` was the same
  // file as `\ufffd.txt`, and so were its key, listing and invalidations.
  const python = (script: string, ...args: string[]) => run('python3', ['-c', script, ...args]);
  const raw = `import os, sys; d = os.fsencode(sys.argv[1]); p = d + b'/\\xff.txt'`;
  // The U+FFFD name exists and is listed (so cached, in the binding too): the raw bytes are never it.
  await put('bytes/\u{fffd}.txt', 'version 2, longer\n');
  await must('ls', '-l', at('bytes'));
  const made = await python(`${raw}\nwith open(p, 'wb') as f: f.write(b'v1')`, at('bytes'));
  t.not(made.code, 0);
  t.regex(made.stderr, /Errno 84/, 'EILSEQ');
  for (let i = 0; i < 2; i++) {
    const seen = await python(`${raw}\nprint(os.stat(p).st_size)`, at('bytes'));
    t.regex(seen.stderr, /Errno 84/, 'EILSEQ, not the size of another name');
  }
  t.is(await must('cat', at('bytes/\u{fffd}.txt')), 'version 2, longer\n');
});
