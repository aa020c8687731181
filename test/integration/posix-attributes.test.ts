// Times, special files, the mount root's attributes and Content-Type through a real mount:
// Python's os.stat/os.utime (nanoseconds), coreutils and sockets as child processes; what
// lands in the bucket is checked with HeadObject through the SDK.

import { join } from 'node:path';
import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import test from 'ava';
import { type S3Endpoint, seedClient, startS3Endpoint, testPrefix } from '../../scripts/local-s3.js';
import { CLI, type Mount, mountBucket, run } from '../support/mount.js';
import { mountThroughProxy } from '../support/proxied-mount.js';

let endpoint: S3Endpoint;
let client: S3Client;
let prefix: string;
let mount: Mount;

const target = () => (prefix ? `${endpoint.bucket}:${prefix}` : endpoint.bucket);
const mountArgs = ['--metadata-ttl', '3600'];

test.before(async () => {
  endpoint = await startS3Endpoint();
  client = seedClient(endpoint);
  prefix = testPrefix(endpoint);
  mount = await mountBucket(endpoint, { target: target(), args: mountArgs });
});

test.after.always(async () => {
  await mount?.stop();
  await endpoint?.stop();
});

const at = (path: string, where: Mount = mount) => join(where.mountpoint, path);

interface Stat {
  mode: number;
  rdev: number;
  atime: bigint;
  mtime: bigint;
  ctime: bigint;
}

// Python scripts run as child processes: the test process never touches the mount itself.
const STAT_SCRIPT = `
import json, os, sys
st = os.lstat(sys.argv[1])
print(json.dumps({"mode": st.st_mode, "rdev": st.st_rdev, "atime": str(st.st_atime_ns), "mtime": str(st.st_mtime_ns), "ctime": str(st.st_ctime_ns)}))
`;

async function stat(path: string): Promise<Stat> {
  const result = await run('python3', ['-c', STAT_SCRIPT, path]);
  if (result.code !== 0) throw new Error(`stat ${path}: ${result.stderr}`);
  const raw = JSON.parse(result.stdout) as { mode: number; rdev: number; atime: string; mtime: string; ctime: string };
  return { mode: raw.mode, rdev: raw.rdev, atime: BigInt(raw.atime), mtime: BigInt(raw.mtime), ctime: BigInt(raw.ctime) };
}

/** os.utime(path, ns=(atime, mtime)). */
async function utime(path: string, atimeNs: bigint, mtimeNs: bigint): Promise<void> {
  const result = await run('python3', [
    '-c',
    'import os, sys; os.utime(sys.argv[1], ns=(int(sys.argv[2]), int(sys.argv[3])))',
    path,
    String(atimeNs),
    String(mtimeNs),
  ]);
  if (result.code !== 0) throw new Error(`utime ${path}: ${result.stderr}`);
}

async function sh(script: string) {
  return run('sh', ['-c', script]);
}

async function head(key: string) {
  return client.send(new HeadObjectCommand({ Bucket: endpoint.bucket, Key: prefix + key }));
}

/** Now, in nanoseconds, to the millisecond: every time s3mount sets from its clock is at least this. */
const nowNs = () => BigInt(Date.now()) * 1_000_000n;

const OLD_A = 978_307_200_000_000_000n; // 2001-01-01
const OLD_M = 1_009_843_200_000_000_000n; // 2002-01-01

test.serial('chmod and chown change ctime and leave atime and mtime; the new ctime is stored', async (t) => {
  t.is((await sh(`echo x > ${at('ct.txt')}`)).code, 0);
  await utime(at('ct.txt'), OLD_A, OLD_M);
  const before = nowNs();
  t.is((await run('chmod', ['600', at('ct.txt')])).code, 0);
  const afterChmod = await stat(at('ct.txt'));
  t.is(afterChmod.mode & 0o777, 0o600);
  t.is(afterChmod.atime, OLD_A);
  t.is(afterChmod.mtime, OLD_M);
  t.true(afterChmod.ctime >= before, `ctime ${afterChmod.ctime} moved to the chmod (>= ${before})`);
  const stored = await head('ct.txt');
  t.is(BigInt(Math.round(Number(stored.Metadata?.ctime) * 1000)) * 1_000_000n >= before - 1_000_000n, true, `stored ctime ${stored.Metadata?.ctime}`);

  const beforeChown = nowNs();
  t.is((await run('chown', [`${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`, at('ct.txt')])).code, 0);
  const afterChown = await stat(at('ct.txt'));
  t.true(afterChown.ctime >= beforeChown, 'chown moves ctime');
  t.is(afterChown.mtime, OLD_M);
});

test.serial('touch -a changes only atime, touch -m only mtime, touch -d both, all kept in S3', async (t) => {
  t.is((await sh(`echo a > ${at('ta.txt')} && echo m > ${at('tm.txt')}`)).code, 0);
  await utime(at('ta.txt'), OLD_A, OLD_M);
  await utime(at('tm.txt'), OLD_A, OLD_M);
  const before = nowNs();
  t.is((await run('touch', ['-a', at('ta.txt')])).code, 0);
  t.is((await run('touch', ['-m', at('tm.txt')])).code, 0);
  const a = await stat(at('ta.txt'));
  const m = await stat(at('tm.txt'));
  t.true(a.atime >= before, 'touch -a moved atime');
  t.is(a.mtime, OLD_M, 'touch -a left mtime');
  t.is(m.atime, OLD_A, 'touch -m left atime');
  t.true(m.mtime >= before, 'touch -m moved mtime');
  t.is((await head('ta.txt')).Metadata?.mtime, '1009843200');
  t.is((await head('tm.txt')).Metadata?.atime, '978307200');

  // An explicit time for one of them (utimensat with UTIME_OMIT for the other).
  t.is((await run('touch', ['-a', '-d', '2003-01-01 00:00:00.25 UTC', at('tm.txt')])).code, 0);
  const explicit = await stat(at('tm.txt'));
  t.is(explicit.atime, 1_041_379_200_250_000_000n);
  t.is(explicit.mtime, m.mtime);
  t.is((await run('touch', ['-d', '2004-01-01 00:00:00 UTC', at('ta.txt')])).code, 0);
  const both = await stat(at('ta.txt'));
  t.is(both.atime, 1_072_915_200_000_000_000n);
  t.is(both.mtime, 1_072_915_200_000_000_000n);
});

test.serial('writes move mtime and ctime; a rename moves ctime only', async (t) => {
  t.is((await sh(`echo w > ${at('w.txt')}`)).code, 0);
  await utime(at('w.txt'), OLD_A, OLD_M);
  const before = nowNs();
  t.is((await sh(`echo more >> ${at('w.txt')}`)).code, 0);
  const written = await stat(at('w.txt'));
  t.true(written.mtime >= before, 'a write moves mtime');
  t.true(written.ctime >= before, 'and ctime');
  t.is(written.atime, OLD_A);

  await utime(at('w.txt'), OLD_A, OLD_M);
  const beforeRename = nowNs();
  t.is((await run('mv', [at('w.txt'), at('w2.txt')])).code, 0);
  const renamed = await stat(at('w2.txt'));
  t.is(renamed.mtime, OLD_M, 'a rename leaves mtime');
  t.true(renamed.ctime >= beforeRename, 'a rename moves ctime');
  t.truthy((await head('w2.txt')).Metadata?.ctime);

  // Writes after the rename move ctime again (the rename's was held in memory over them).
  const beforeWrite = nowNs();
  t.is((await sh(`echo again >> ${at('w2.txt')}`)).code, 0);
  const rewritten = await stat(at('w2.txt'));
  t.true(rewritten.ctime >= beforeWrite, `a write after a rename moves ctime (${rewritten.ctime} >= ${beforeWrite})`);
  t.is(rewritten.ctime, rewritten.mtime);
  // And so do writes through a descriptor open across the rename (a log rotated by mv).
  const rotated = await sh(`exec 3>>${at('w2.txt')} && mv ${at('w2.txt')} ${at('w3.txt')} && sleep 0.05 && echo on >&3 && exec 3>&-`);
  t.is(rotated.code, 0, rotated.stderr);
  const appended = await stat(at('w3.txt'));
  t.is(appended.ctime, appended.mtime, 'the write after the rename set both');
});

test.serial("a directory's rename keeps the mtime of files stored without times by another writer", async (t) => {
  await client.send(new PutObjectCommand({ Bucket: endpoint.bucket, Key: `${prefix}od/plain.txt`, Body: 'p', ContentType: 'text/x-other' }));
  await client.send(
    new PutObjectCommand({ Bucket: endpoint.bucket, Key: `${prefix}od/timed.txt`, Body: 't', Metadata: { mtime: '1300000000.25', mode: '33152' } }),
  );
  const shown = await stat(at('od/plain.txt'));
  // A copy made a second later has another Last-Modified.
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  t.is((await run('mv', [at('od'), at('od2')])).code, 0);
  t.is((await stat(at('od2/plain.txt'))).mtime, shown.mtime, 'right after the rename');
  // Past the kernel's TTL for the moved inode, the mount answers from what S3 now holds.
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  t.is((await stat(at('od2/plain.txt'))).mtime, shown.mtime, 'after the kernel asked again');
  const moved = await head('od2/plain.txt');
  const [whole, fraction = ''] = (moved.Metadata?.mtime ?? '').split('.');
  t.is(BigInt(whole || 0) * 1_000_000_000n + BigInt(fraction.padEnd(9, '0').slice(0, 9)), shown.mtime, 'the copy holds that mtime');
  t.is(moved.ContentType, 'text/x-other', 'and its Content-Type');
  const timed = await stat(at('od2/timed.txt'));
  t.is(timed.mtime, 1_300_000_000_250_000_000n);
  t.is(timed.mode & 0o777, 0o600);
  t.is((await head('od2/timed.txt')).Metadata?.mtime, '1300000000.25', 'an object with times is copied as it was');
});

test.serial('a read moves atime the relatime way, held in memory', async (t) => {
  t.is((await sh(`echo r > ${at('r.txt')}`)).code, 0);
  // atime before mtime: the next read moves it.
  await utime(at('r.txt'), OLD_A, OLD_M);
  const before = nowNs();
  t.is((await run('cat', [at('r.txt')])).stdout, 'r\n');
  const read = await stat(at('r.txt'));
  t.true(read.atime >= before, 'the read moved atime');
  t.is(read.mtime, OLD_M);
  t.is((await head('r.txt')).Metadata?.atime, '978307200', 'not written to S3 by a read (as s3fs)');
  // atime after mtime and ctime, and recent: reads leave it.
  t.is((await run('cat', [at('r.txt')])).code, 0);
  t.is((await stat(at('r.txt'))).atime, read.atime);
  // A file renamed over it brings its own times: nothing held for the old one stays.
  t.is((await sh(`echo other > ${at('other.txt')}`)).code, 0);
  await utime(at('other.txt'), OLD_A, OLD_M);
  t.is((await run('mv', [at('other.txt'), at('r.txt')])).code, 0);
  const replaced = await stat(at('r.txt'));
  t.is(replaced.atime, OLD_A);
  t.is(replaced.mtime, OLD_M);
});

test.serial('times keep their nanoseconds through os.utime, S3 metadata and a remount', async (t) => {
  t.is((await sh(`echo n > ${at('ns.txt')}`)).code, 0);
  const atime = 1_700_000_000_123_456_789n;
  const mtime = 1_700_000_001_987_654_321n;
  await utime(at('ns.txt'), atime, mtime);
  const seen = await stat(at('ns.txt'));
  t.is(seen.atime, atime);
  t.is(seen.mtime, mtime);
  const stored = await head('ns.txt');
  t.is(stored.Metadata?.atime, '1700000000.123456789');
  t.is(stored.Metadata?.mtime, '1700000001.987654321');

  const again = await mountBucket(endpoint, { target: target(), args: mountArgs });
  try {
    const remounted = await stat(at('ns.txt', again));
    t.is(remounted.atime, atime);
    t.is(remounted.mtime, mtime);
    t.is(remounted.ctime, seen.ctime, 'ctime is stored too');
  } finally {
    await again.stop();
  }
});

test.serial('times before 1970 keep their sign and nanoseconds through utime, S3 metadata, an outside writer and a remount', async (t) => {
  t.is((await sh(`echo old > ${at('old.txt')}`)).code, 0);
  const atime = -302_659_200_000_000_000n; // 1960-05-30
  const mtime = -750_000_000n; // 0.75 s before the epoch: -1 s and 250,000,000 ns past it
  await utime(at('old.txt'), atime, mtime);
  const seen = await stat(at('old.txt'));
  t.is(seen.atime, atime);
  t.is(seen.mtime, mtime);
  const stored = await head('old.txt');
  t.is(stored.Metadata?.atime, '-302659200');
  t.is(stored.Metadata?.mtime, '-1.250000000', 'tv_sec and tv_nsec, as s3fs writes them');
  // touch -d, the way users set one.
  t.is((await sh(`touch -d '1960-06-01 00:00:00 UTC' ${at('touched.txt')}`)).code, 0);
  t.is((await sh(`stat -c %Y ${at('touched.txt')}`)).stdout.trim(), '-302486400');
  // Another writer's negative time is read, not replaced by Last-Modified.
  await client.send(new PutObjectCommand({ Bucket: endpoint.bucket, Key: `${prefix}outside-old.txt`, Body: 'x', Metadata: { mtime: '-86400' } }));

  const again = await mountBucket(endpoint, { target: target(), args: mountArgs });
  try {
    const remounted = await stat(at('old.txt', again));
    t.is(remounted.atime, atime);
    t.is(remounted.mtime, mtime);
    t.is((await sh(`stat -c %Y ${at('touched.txt', again)}`)).stdout.trim(), '-302486400');
    t.is((await stat(at('outside-old.txt', again))).mtime, -86_400_000_000_000n);
  } finally {
    await again.stop();
  }
});

test.serial("a directory's mtime and ctime follow creations, removals and renames in it", async (t) => {
  t.is((await run('mkdir', [at('pd')])).code, 0);
  const steps: Array<[string, string]> = [
    ['create', `echo x > ${at('pd/f')}`],
    ['mkdir', `mkdir ${at('pd/sub')}`],
    ['symlink', `ln -s f ${at('pd/link')}`],
    ['rename', `mv ${at('pd/f')} ${at('pd/g')}`],
    ['unlink', `rm ${at('pd/g')}`],
    ['rmdir', `rmdir ${at('pd/sub')}`],
  ];
  for (const [name, script] of steps) {
    await utime(at('pd'), OLD_A, OLD_M);
    const before = nowNs();
    t.is((await sh(script)).code, 0, name);
    const dir = await stat(at('pd'));
    t.true(dir.mtime >= before, `${name} moves the directory's mtime`);
    t.true(dir.ctime >= before, `${name} moves the directory's ctime`);
    t.is(dir.atime, OLD_A, `${name} leaves atime`);
  }
  // A rename into another directory changes both.
  t.is((await sh(`mkdir ${at('pd2')} && echo y > ${at('pd/y')}`)).code, 0);
  await utime(at('pd'), OLD_A, OLD_M);
  await utime(at('pd2'), OLD_A, OLD_M);
  const before = nowNs();
  t.is((await run('mv', [at('pd/y'), at('pd2/y')])).code, 0);
  t.true((await stat(at('pd'))).mtime >= before);
  t.true((await stat(at('pd2'))).mtime >= before);
  // A renamed directory's ctime moves too.
  const beforeDirRename = nowNs();
  t.is((await run('mv', [at('pd2'), at('pd3')])).code, 0);
  t.true((await stat(at('pd3'))).ctime >= beforeDirRename);
  // The root too.
  const rootBefore = nowNs();
  t.is((await sh(`echo r > ${at('rootfile')}`)).code, 0);
  t.true((await stat(mount.mountpoint)).mtime >= rootBefore);
});

test.serial('a marker without time metadata shows its LastModified; a chmod writes no made-up time', async (t) => {
  const lastModified = new Date('2005-06-07T08:09:10Z');
  endpoint.putDirect?.(`${prefix}mk/`, Buffer.alloc(0), { lastModified });
  endpoint.putDirect?.(`${prefix}mk/inside`, Buffer.from('i'), { lastModified });
  t.truthy(endpoint.putDirect, 'the emulator lets the test set LastModified');
  // Listed first (the marker comes through the parent's listing), then asked for.
  t.is((await run('ls', [mount.mountpoint])).code, 0);
  const seen = await stat(at('mk'));
  t.is(seen.mtime, BigInt(lastModified.getTime()) * 1_000_000n);
  t.is((await run('chmod', ['700', at('mk')])).code, 0);
  const stored = await head('mk/');
  t.is(stored.Metadata?.mode, String(0o40700));
  t.is(stored.Metadata?.mtime, String(lastModified.getTime() / 1000), 'the marker keeps the time it had');

  // The same when the parent's listing is one with delimiter (a large, deep directory), which
  // does not show markers: the marker's HEAD gives the time the chmod keeps.
  endpoint.putDirect?.(`${prefix}large/mk2/`, Buffer.alloc(0), { lastModified });
  endpoint.putDirect?.(`${prefix}large/mk2/inside`, Buffer.from('i'), { lastModified });
  for (let i = 0; i < 1000; i++) endpoint.putDirect?.(`${prefix}large/z${String(i).padStart(4, '0')}`, Buffer.alloc(0));
  // Keys put behind the mount's back show once its cached root listing is dropped (the mount's
  // own chmod above edited that listing in place rather than dropping it).
  t.is((await run(process.execPath, [CLI, 'cache', 'invalidate', mount.mountpoint, mount.mountpoint])).code, 0);
  t.is((await run('ls', [at('large')])).code, 0);
  t.is((await run('chmod', ['700', at('large/mk2')])).code, 0);
  t.is((await head('large/mk2/')).Metadata?.mtime, String(lastModified.getTime() / 1000), 'the marker keeps its LastModified');

  // A directory without any marker: its time is the mount's start, which is not written.
  endpoint.putDirect?.(`${prefix}nomarker/inside`, Buffer.from('i'));
  t.is((await run(process.execPath, [CLI, 'cache', 'invalidate', mount.mountpoint, mount.mountpoint])).code, 0);
  t.is((await run('chmod', ['711', at('nomarker')])).code, 0);
  const created = await head('nomarker/');
  t.is(created.Metadata?.mode, String(0o40711));
  t.is(created.Metadata?.mtime, undefined, 'no made-up mtime');
  t.is(created.Metadata?.atime, undefined, 'no made-up atime');
  t.truthy(created.Metadata?.ctime, 'the chmod itself is a known time');
});

test.serial('the mount root takes chmod, chown and touch for the mount lifetime', async (t) => {
  t.is((await run('chmod', ['700', mount.mountpoint])).code, 0);
  t.is((await stat(mount.mountpoint)).mode & 0o7777, 0o700);
  t.is((await run('chown', [`${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`, mount.mountpoint])).code, 0);
  t.is((await run('touch', ['-d', '2006-01-01 00:00:00 UTC', mount.mountpoint])).code, 0);
  t.is((await stat(mount.mountpoint)).mtime, 1_136_073_600_000_000_000n);
  t.is((await run('chmod', ['755', mount.mountpoint])).code, 0);
  t.is((await stat(mount.mountpoint)).mode & 0o7777, 0o755);
});

test.serial('FIFOs, sockets and device nodes are stored the s3fs way and survive a remount', async (t) => {
  t.is((await run('mkfifo', [at('fifo')])).code, 0);
  const bind = await run('python3', ['-c', 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.close()', at('sock')]);
  t.is(bind.code, 0, bind.stderr);
  const root = process.getuid?.() === 0;
  if (root) t.is((await run('mknod', [at('null'), 'c', '1', '3'])).code, 0);

  const check = async (where: Mount) => {
    t.is((await stat(at('fifo', where))).mode & 0o170000, 0o010000, 'a FIFO');
    t.is((await stat(at('sock', where))).mode & 0o170000, 0o140000, 'a socket');
    if (root) {
      const device = await stat(at('null', where));
      t.is(device.mode & 0o170000, 0o020000, 'a character device');
      t.is(device.rdev, (1 << 8) | 3, 'its device number');
    }
  };
  await check(mount);
  const fifo = await head('fifo');
  t.is(fifo.ContentLength, 0);
  t.is(Number(fifo.Metadata?.mode) & 0o170000, 0o010000);
  if (root) t.is((await head('null')).Metadata?.rdev, String((1 << 8) | 3));
  t.is((await run('ln', [at('fifo'), at('hard')])).code === 0, false, 'hard links stay unsupported');

  const again = await mountBucket(endpoint, { target: target(), args: mountArgs });
  try {
    await check(again);
  } finally {
    await again.stop();
  }
});

test.serial('uploads carry the Content-Type of their name, single PUT and multipart', async (t) => {
  t.is((await sh(`echo '<p>' > ${at('x.html')} && echo '{}' > ${at('y.json')} && echo z > ${at('z.unknownext')}`)).code, 0);
  t.is((await head('x.html')).ContentType, 'text/html');
  t.is((await head('y.json')).ContentType, 'application/json');
  t.is((await head('z.unknownext')).ContentType, 'application/octet-stream');
  // Above --write-part-size (5 MiB here): lib-storage's multipart upload.
  const big = await mountBucket(endpoint, { target: target(), args: [...mountArgs, '--write-part-size', '5'] });
  try {
    t.is((await sh(`head -c 7340032 /dev/zero > ${at('big.html', big)}`)).code, 0);
  } finally {
    await big.stop();
  }
  const stored = await head('big.html');
  t.is(stored.ContentLength, 7 * 1024 * 1024);
  t.is(stored.ContentType, 'text/html');
});

// fauxqs keeps the source's Content-Type on any copy (S3 takes the one a REPLACE copy names,
// and resets it when none is named): what s3mount sends is read from the fault proxy's log.
test.serial('copies name the Content-Type: kept by chmod and utime, re-derived by a rename', async (t) => {
  const proxied = await mountThroughProxy(async (put) => {
    await put('custom.bin', 'c');
  }, mountArgs);
  const { proxy } = proxied;
  const keyPrefix = testPrefix(proxied.endpoint);
  const direct = seedClient(proxied.endpoint);
  const on = (path: string) => join(proxied.mount.mountpoint, path);
  const copyTypes = (key: string) =>
    proxy
      .log()
      .filter((record) => record.operation === 'copy' && decodeURIComponent(record.path).endsWith(`/${keyPrefix}${key}`))
      .map((record) => record.contentType);
  try {
    t.is((await sh(`echo '<p>' > ${on('x.html')}`)).code, 0);
    t.is((await run('chmod', ['600', on('x.html')])).code, 0);
    t.deepEqual(copyTypes('x.html'), ['text/html'], 'a chmod (copy with REPLACE) names the type again');
    await utime(on('x.html'), OLD_A, OLD_M);
    t.deepEqual(copyTypes('x.html'), ['text/html', 'text/html'], 'so does utime');
    // A type set by someone else is kept by attribute changes (HEAD tells it).
    const seeded = proxied.endpoint;
    await direct.send(new PutObjectCommand({ Bucket: seeded.bucket, Key: `${keyPrefix}custom.bin`, Body: 'c', ContentType: 'image/x-custom' }));
    t.is((await run('chmod', ['600', on('custom.bin')])).code, 0);
    t.deepEqual(copyTypes('custom.bin'), ['image/x-custom']);
    t.is((await run('mv', [on('x.html'), on('x.json')])).code, 0);
    t.deepEqual(copyTypes('x.json'), ['application/json'], 'a rename takes the type of the new name (as s3fs)');
    const moved = await direct.send(new HeadObjectCommand({ Bucket: seeded.bucket, Key: `${keyPrefix}x.json` }));
    t.is(Number(moved.Metadata?.mode) & 0o777, 0o600, 'the rename kept the attributes');
    t.truthy(moved.Metadata?.ctime);
  } finally {
    direct.destroy();
    await proxied.stop();
  }
});
