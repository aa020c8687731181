// Mounts of one bucket sharing a cache on a real Redis (--shared-cache), as machines would.
// Every mount trusts what it cached for an hour (--metadata-ttl and --negative-metadata-ttl
// 3600), so only the invalidation bus can make one mount show another's change: each check
// waits until the other mount has applied the change, then looks once with stat, ls and cat.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import test from 'ava';
import { Redis } from 'ioredis';
import { type S3Endpoint, seedClient, startS3Endpoint, testPrefix } from '../../scripts/local-s3.js';
import { type RedisServer, startRedis } from '../../scripts/redis-server.js';
import { versionOf } from '../../src/fs/names/object-kinds.js';
import { entryKey } from '../../src/shared-cache/keys.js';
import type { MountStats } from '../../src/stats.js';
import { CLI, type Mount, mountBucket, mountStats, quiescentStats, run } from '../support/mount.js';

let endpoint: S3Endpoint;
let client: S3Client;
let prefix: string;
let redis: RedisServer;

test.before(async () => {
  endpoint = await startS3Endpoint();
  client = seedClient(endpoint);
  prefix = testPrefix(endpoint);
  redis = await startRedis();
});

test.after.always(async () => {
  await redis?.stop();
  await endpoint?.stop();
});

const LONG_TTLS = ['--metadata-ttl', '3600', '--negative-metadata-ttl', '3600'];

async function put(key: string, body: string): Promise<void> {
  await client.send(new PutObjectCommand({ Bucket: endpoint.bucket, Key: prefix + key, Body: body, ContentLength: Buffer.byteLength(body) }));
}

async function mountShared(t: { teardown(fn: () => Promise<void>): void }, url: string, options: { directory?: string; args?: string[] } = {}): Promise<Mount> {
  const target = `${endpoint.bucket}:${prefix}${options.directory ?? ''}`;
  const mount = await mountBucket(endpoint, { target, args: ['--shared-cache', url, ...LONG_TTLS, ...(options.args ?? [])] });
  t.teardown(() => mount.stop());
  return mount;
}

/** stdout of a command that must succeed. */
async function must(command: string, ...args: string[]): Promise<string> {
  const result = await run(command, args);
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

async function shared(mount: Mount): Promise<NonNullable<MountStats['sharedCache']>> {
  const stats = await mountStats(mount.mountpoint);
  if (!stats.sharedCache) throw new Error('the mount reports no shared cache');
  return stats.sharedCache;
}

/** Polls the mount's shared-cache statistics until `check` holds (at most 30 s). */
async function waitFor(mount: Mount, what: string, check: (stats: NonNullable<MountStats['sharedCache']>) => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const stats = await shared(mount);
    if (check(stats)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(stats)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const ls = async (dir: string) => (await must('ls', '-1A', dir)).split('\n').filter(Boolean);
const exists = async (path: string) => (await run('stat', ['-c', '%s', path])).code === 0;

test.serial('each kind of change through one mount shows through the other once applied', async (t) => {
  await put('kinds/a.txt', 'version 1\n');
  await put('kinds/dir/inner.txt', 'inner\n');
  await put('kinds/gone.txt', 'to be removed\n');
  await put('kinds/empty/', '');
  const a = await mountShared(t, redis.url);
  const b = await mountShared(t, redis.url);
  const inA = (path: string) => join(a.mountpoint, 'kinds', path);
  const inB = (path: string) => join(b.mountpoint, 'kinds', path);
  // B has seen (and cached, for an hour) everything it is asked about below.
  t.deepEqual(await ls(inB('')), ['a.txt', 'dir', 'empty', 'gone.txt']);
  t.is(await readFile(inB('a.txt'), 'utf8'), 'version 1\n');
  t.true(await exists(inB('gone.txt')));
  t.true(await exists(inB('empty')));
  t.false(await exists(inB('new.txt')));
  t.false(await exists(inB('made')));
  t.deepEqual(await ls(inB('dir')), ['inner.txt']);

  // B applies every change A publishes (B publishes none): a step is through once B has
  // applied as many as A published, A more than before and with none waiting.
  let published = (await shared(a)).bus.published;
  const step = async (what: string, change: () => Promise<unknown>) => {
    await change();
    const deadline = Date.now() + 30_000;
    for (;;) {
      const [fromA, inB] = await Promise.all([shared(a), shared(b)]);
      if (fromA.bus.published > published && fromA.bus.pending === 0 && inB.bus.applied >= fromA.bus.published) {
        t.log(`${what}: ${fromA.bus.published - published} changes published, applied by the other mount (lag ${inB.bus.lastLagMs} ms)`);
        published = fromA.bus.published;
        return;
      }
      if (Date.now() > deadline) throw new Error(`${what}: not applied in time: ${JSON.stringify({ a: fromA.bus, b: inB.bus })}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  await step('create', () => must('sh', '-c', `printf 'created\\n' > ${inA('new.txt')}`));
  t.deepEqual(await ls(inB('')), ['a.txt', 'dir', 'empty', 'gone.txt', 'new.txt'], 'create: ls');
  t.is(await readFile(inB('new.txt'), 'utf8'), 'created\n', 'create: cat');

  await step('overwrite', () => must('sh', '-c', `printf 'version 2, longer\\n' > ${inA('a.txt')}`));
  t.is((await must('stat', '-c', '%s', inB('a.txt'))).trim(), '18', 'overwrite: stat');
  t.is(await readFile(inB('a.txt'), 'utf8'), 'version 2, longer\n', 'overwrite: cat, not the pages of version 1');

  await step('unlink', () => must('rm', inA('gone.txt')));
  t.false(await exists(inB('gone.txt')), 'unlink: stat');
  t.deepEqual(await ls(inB('')), ['a.txt', 'dir', 'empty', 'new.txt'], 'unlink: ls');

  await step('rename of a file', () => must('mv', inA('a.txt'), inA('b.txt')));
  t.deepEqual(await ls(inB('')), ['b.txt', 'dir', 'empty', 'new.txt'], 'rename: ls');
  t.false(await exists(inB('a.txt')), 'rename: stat of the old name');
  t.is(await readFile(inB('b.txt'), 'utf8'), 'version 2, longer\n', 'rename: cat of the new name');

  await step('rename of a directory', () => must('mv', inA('dir'), inA('moved')));
  t.deepEqual(await ls(inB('')), ['b.txt', 'empty', 'moved', 'new.txt'], 'directory rename: ls');
  t.deepEqual(await ls(inB('moved')), ['inner.txt'], 'directory rename: ls of the new name');
  t.false(await exists(inB('dir/inner.txt')), 'directory rename: stat under the old name');

  await step('mkdir', () => must('mkdir', inA('made')));
  t.true(await exists(inB('made')), 'mkdir: stat');
  await step('rmdir', () => must('rmdir', inA('empty')));
  t.false(await exists(inB('empty')), 'rmdir: stat');

  // Another writer (not a mount) replaces an object both mounts have read: `cache invalidate` on
  // one makes both show it.
  t.is(await readFile(inB('b.txt'), 'utf8'), 'version 2, longer\n');
  await put('kinds/b.txt', 'version 3 from elsewhere\n');
  await step('cache invalidate', () => must(process.execPath, CLI, 'cache', 'invalidate', a.mountpoint, inA('b.txt')));
  t.is(await readFile(inB('b.txt'), 'utf8'), 'version 3 from elsewhere\n', 'invalidate: cat on the other mount');
  t.is((await shared(b)).bus.published, 0, 'the other mount republished nothing');
});

test.serial('a second mount lists a directory from Redis: no LIST to S3', async (t) => {
  for (let i = 0; i < 20; i++) await put(`tier/f-${i}.txt`, `file ${i}\n`);
  const a = await mountShared(t, redis.url);
  t.is((await ls(join(a.mountpoint, 'tier'))).length, 20);
  await waitFor(a, 'the listing stored in Redis', (stats) => (stats.tier?.stored ?? 0) > 0);
  const b = await mountShared(t, redis.url);
  t.is((await ls(join(b.mountpoint, 'tier'))).length, 20);
  const stats = await quiescentStats(b.mountpoint);
  t.is(stats.s3.list.count, 0, "the second mount's ls made no LIST");
  t.true((stats.sharedCache?.tier?.hits ?? 0) > 0);
});

test.serial('a value in Redis that is corrupt or lists names of another directory is rejected', async (t) => {
  await put('forged/real.txt', 'real\n');
  const b = await mountShared(t, redis.url);
  const inspect = new Redis(redis.port, '127.0.0.1');
  t.teardown(() => inspect.disconnect());
  const key = entryKey(endpoint.bucket, `${prefix}forged/`);
  const future = Date.now() + 3_600_000;
  const evil = `{"entries":{"$map":[["evil",{"type":"file","key":"${prefix}elsewhere/evil","size":1,"etag":"\\"e\\"","mtime":{"$date":0}}]]}}`;
  // A listing naming a file of another directory, and a HEAD answer cut short.
  await inspect.hset(key, 'dir', `s3mount/1 ${endpoint.bucket} ${future}\n${evil}`);
  // (The HEAD answer of the version listed: what the tiers below memory keep of a HEAD.)
  const head = await client.send(new HeadObjectCommand({ Bucket: endpoint.bucket, Key: `${prefix}forged/real.txt` }));
  const version = versionOf({ etag: head.ETag as string, lastModified: head.LastModified as Date });
  await inspect.hset(entryKey(endpoint.bucket, `${prefix}forged/real.txt`), `head=${version}`, `s3mount/1 ${endpoint.bucket} ${future}\n{"key":`);
  t.deepEqual(await ls(join(b.mountpoint, 'forged')), ['real.txt']);
  t.is((await must('stat', '-c', '%s', join(b.mountpoint, 'forged/real.txt'))).trim(), '5');
  const stats = await shared(b);
  // Each forged value is rejected whenever it is read: the version entry may be asked for by
  // the HEAD sent ahead and by the stat before the HEAD's answer replaces it.
  t.true((stats.tier?.rejected ?? 0) >= 2, `rejected ${stats.tier?.rejected}`);
});

test.serial('a mount of a prefix applies changes under it and ignores the rest', async (t) => {
  await put('scoped/p/in.txt', 'in\n');
  const a = await mountShared(t, redis.url);
  const p = await mountShared(t, redis.url, { directory: 'scoped/p' });
  t.deepEqual(await ls(p.mountpoint), ['in.txt']);
  const before = await shared(p);
  await must('sh', '-c', `printf x > ${join(a.mountpoint, 'scoped/elsewhere.txt')}`);
  await waitFor(p, 'the change outside the prefix seen', (stats) => stats.bus.outOfScope > before.bus.outOfScope);
  t.is((await shared(p)).bus.applied, before.bus.applied, 'and not applied');
  await must('sh', '-c', `printf x > ${join(a.mountpoint, 'scoped/p/new.txt')}`);
  await waitFor(p, 'the change under the prefix applied', (stats) => stats.bus.applied > before.bus.applied);
  t.deepEqual(await ls(p.mountpoint), ['in.txt', 'new.txt']);
});

test.serial('Redis killed and restarted mid-run: reads and writes go on, and nothing changed meanwhile is served stale after', async (t) => {
  const own = await startRedis();
  t.teardown(() => own.stop());
  await put('outage/a.txt', 'before\n');
  const a = await mountShared(t, own.url);
  const b = await mountShared(t, own.url);
  const inA = (path: string) => join(a.mountpoint, 'outage', path);
  const inB = (path: string) => join(b.mountpoint, 'outage', path);
  t.is(await readFile(inB('a.txt'), 'utf8'), 'before\n');
  t.deepEqual(await ls(inB('')), ['a.txt']);

  await own.kill();
  await waitFor(a, 'the connection lost', (stats) => stats.state !== 'connected');
  await waitFor(b, 'the bus down', (stats) => stats.bus.state === 'down');
  await must('sh', '-c', `printf 'during the outage\\n' > ${inA('a.txt')} && printf 'new\\n' > ${inA('new.txt')}`);
  t.is(await readFile(inA('a.txt'), 'utf8'), 'during the outage\n', 'writes and reads go on without Redis');
  t.true((await shared(a)).bus.pending > 0, 'the changes wait for Redis');
  t.is(await readFile(inB('a.txt'), 'utf8'), 'before\n', 'while Redis is down the other mount serves what it cached (TTL only)');

  await own.restart();
  await waitFor(b, 'the other mount back in step', (stats) => stats.bus.state === 'in sync');
  t.is(await readFile(inB('a.txt'), 'utf8'), 'during the outage\n', 'no stale read once Redis is back');
  t.deepEqual(await ls(inB('')), ['a.txt', 'new.txt']);
  await waitFor(a, 'the waiting changes published', (stats) => stats.bus.pending === 0 && stats.state === 'connected');
  const stats = await shared(b);
  t.true(stats.bus.reconnects >= 1, 'reconnects are counted');
  const table = await must(process.execPath, CLI, 'cache', 'stats', b.mountpoint);
  t.regex(table, /^bus +in sync, .*drops 1/m);
});

test.serial('Redis absent at start: the mount works on TTLs and says so once', async (t) => {
  const gone = await startRedis();
  await gone.stop();
  await put('absent/a.txt', 'a\n');
  const b = await mountShared(t, gone.url);
  t.is(await readFile(join(b.mountpoint, 'absent/a.txt'), 'utf8'), 'a\n');
  await must('sh', '-c', `printf x > ${join(b.mountpoint, 'absent/b.txt')}`);
  t.deepEqual(await ls(join(b.mountpoint, 'absent')), ['a.txt', 'b.txt']);
  const said = b
    .logs()
    .split('\n')
    .filter((line) => line.startsWith('s3mount: shared cache'));
  t.is(said.length, 1, b.logs());
  t.regex(
    said[0],
    /^s3mount: shared cache redis:\/\/127\.0\.0\.1:\d+\/0 unavailable \(.*ECONNREFUSED.*\): changes made by other mounts show after --metadata-ttl/,
  );
  const stats = await shared(b);
  t.is(stats.bus.state, 'down');
});

test.serial('a background mount prints the notice on the terminal that started it, and logs no password', async (t) => {
  const gone = await startRedis({ password: 'hunter22-redis' });
  await gone.stop();
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const mountpoint = await mkdtemp(join(tmpdir(), 's3mount-it-'));
  const logFile = join(mountpoint, '..', `${mountpoint.split('/').pop()}.log`);
  const { endpointArgs, endpointEnv, unmount } = await import('../support/mount.js');
  t.teardown(async () => {
    await unmount(mountpoint);
    await rm(mountpoint, { recursive: true, force: true });
    await rm(logFile, { force: true });
  });
  const result = await run(
    process.execPath,
    [CLI, `${endpoint.bucket}:${prefix}`, mountpoint, ...endpointArgs(endpoint), '--no-disk-cache', '--log-file', logFile, '--log-level', 'debug'],
    { env: { ...endpointEnv(endpoint), S3MOUNT_SHARED_CACHE: gone.url } },
  );
  t.is(result.code, 0, result.stderr);
  t.regex(result.stderr, /^s3mount: shared cache redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/0 unavailable/m);
  const log = await readFile(logFile, 'utf8');
  t.true(log.includes('shared cache unavailable at start'));
  t.false(log.includes('hunter22-redis') || result.stderr.includes('hunter22-redis'));
});
