// Cores over one bucket, each with its own caches (an hour of TTL) and a shared cache on a real
// Redis: what one changes, the others forget at once; listings are shared; a Redis cut off or
// restarted never leaves a core serving what it may have missed; what Redis holds is checked.
import test from 'ava';
import { Redis } from 'ioredis';
import { type RedisServer, startRedis } from '../../scripts/redis-server.js';
import type { MemoryStore } from '../../src/s3/memory-store.js';
import type { ObjectStore } from '../../src/s3/object-store.js';
import { entryKey, streamKey } from '../../src/shared-cache/keys.js';
import { sharedBucket, sharedCore, until, writeThrough } from '../support/shared-core.js';
import { startTcpProxy } from '../support/tcp-proxy.js';

let redis: RedisServer;
let inspect: Redis;

test.before(async () => {
  redis = await startRedis();
  inspect = new Redis(redis.port, '127.0.0.1');
});

test.after.always(async () => {
  inspect?.disconnect();
  await redis?.stop();
});

const names = async (core: Awaited<ReturnType<typeof sharedCore>>, path: string) =>
  (await core.fs.readdir(path))
    .map((entry) => entry.name)
    .filter((name) => name !== '.' && name !== '..')
    .sort();

test('a change through one core is forgotten by the others at once, and never by the core that made it', async (t) => {
  const store = sharedBucket();
  store.putObject('dir/a.txt', 'a');
  const [a, b] = [await sharedCore(redis.url, store), await sharedCore(redis.url, store, { sharedMetadata: false })];
  t.teardown(() => Promise.all([a.close(), b.close()]));
  t.deepEqual(await names(b, '/dir'), ['a.txt']);
  t.is((await b.fs.getattr('/dir/a.txt')).size, 1);

  await writeThrough(a.fs, '/dir/new.txt', 'new');
  await b.applied(1);
  t.deepEqual(await names(b, '/dir'), ['a.txt', 'new.txt']);

  await writeThrough(a.fs, '/dir/a.txt', 'longer now');
  await b.applied(2);
  t.is((await b.fs.getattr('/dir/a.txt')).size, 10);

  await a.fs.unlink('/dir/new.txt');
  await b.applied(3);
  t.deepEqual(await names(b, '/dir'), ['a.txt']);

  await a.fs.rename('/dir', '/moved');
  await until(() => b.shared.stats().bus.applied >= 5, 'the two tree changes of the rename');
  t.deepEqual(await names(b, '/'), ['moved']);
  t.deepEqual(await names(b, '/moved'), ['a.txt']);
  const stats = a.shared.stats().bus;
  t.is(stats.applied, 0, 'a core does not apply its own changes');
  t.true(stats.ownSkipped >= 5);
  t.is(b.shared.stats().bus.published, 0, 'nor publishes what it applied');
});

test('a second core lists a directory from Redis, with no LIST', async (t) => {
  const store = sharedBucket();
  for (let i = 0; i < 50; i++) store.putObject(`logs/e-${i}.log`, `entry ${i}`);
  const a = await sharedCore(redis.url, store);
  const b = await sharedCore(redis.url, store);
  t.teardown(() => Promise.all([a.close(), b.close()]));
  t.is((await names(a, '/logs')).length, 50);
  await a.settled();
  await until(() => a.shared.stats().tier?.stored !== undefined && (a.shared.stats().tier?.stored ?? 0) > 0, 'the listing stored in Redis');
  t.is((await names(b, '/logs')).length, 50);
  t.is(b.calls.list, 0, 'no LIST: the listing came from Redis');
  t.true((b.shared.stats().tier?.hits ?? 0) > 0);
});

test('values in Redis that are corrupt, foreign or misshapen are refused and counted; the listing comes from S3', async (t) => {
  const store = sharedBucket();
  store.putObject('dir/real.txt', 'r');
  const b = await sharedCore(redis.url, store);
  t.teardown(() => b.close());
  const field = 'dir';
  const future = Date.now() + 3_600_000;
  const forged = [
    'not even a header',
    `s3mount/1 ${store.bucket} ${future}\n{"entries":`,
    `s3mount/1 another-bucket ${future}\n{"entries":{"$map":[]}}`,
    // Well-formed JSON naming a file of another directory: never shown.
    `s3mount/1 ${store.bucket} ${future}\n{"entries":{"$map":[["evil",{"type":"file","key":"elsewhere/evil","size":1,"etag":"\\"e\\"","mtime":{"$date":0}}]]}}`,
  ];
  for (const [i, value] of forged.entries()) {
    await inspect.hset(entryKey(store.bucket, 'dir/'), field, value);
    const before = b.calls.list;
    t.deepEqual(await names(b, '/dir'), ['real.txt'], `forgery ${i}`);
    t.true(b.calls.list > before, `forgery ${i}: listed from S3`);
    t.is(b.shared.stats().tier?.rejected, i + 1);
    // Forget the listing in memory and in Redis before the next forgery.
    b.invalidation.changed('dir/x', 'remote');
    await until(async () => (await inspect.exists(entryKey(store.bucket, 'dir/'))) === 0, 'the listing dropped from Redis');
  }
});

test('a listing loaded across another core’s change is never left in Redis', async (t) => {
  const store = sharedBucket();
  store.putObject('dir/old.txt', 'o');
  // B's LIST answers the old listing, and only after A's change was published and applied by B.
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  let holding = true;
  let heldLists = 0;
  const holdLists = (inner: MemoryStore): ObjectStore =>
    new Proxy(inner, {
      get(target, name, receiver) {
        if (name !== 'list') return Reflect.get(target, name, receiver);
        return async (...args: Parameters<MemoryStore['list']>) => {
          const page = await target.list(...args);
          // The directory's own listing, not the LISTs of its lookup (its name, its one-key probe).
          if (holding && args[0].endsWith('/') && args[1]?.maxKeys !== 1) {
            heldLists++;
            await held;
          }
          return page;
        };
      },
    });
  const a = await sharedCore(redis.url, store);
  const b = await sharedCore(redis.url, store, { wrap: holdLists });
  const c = await sharedCore(redis.url, store);
  t.teardown(() => Promise.all([a.close(), b.close(), c.close()]));
  const listing = names(b, '/dir');
  await until(() => heldLists > 0, "B's LIST under way");
  await writeThrough(a.fs, '/dir/new.txt', 'n');
  await b.applied(1);
  holding = false;
  release();
  t.deepEqual(await listing, ['old.txt'], 'the load answers its caller as it was');
  await b.settled();
  t.deepEqual(await names(b, '/dir'), ['new.txt', 'old.txt'], 'but was not kept');
  t.deepEqual(await names(c, '/dir'), ['new.txt', 'old.txt'], 'nor written to Redis');
});

test('a listing written to Redis after another core dropped it is dropped again when the writer applies the change', async (t) => {
  const store = sharedBucket();
  store.putObject('dir/old.txt', 'o');
  const a = await sharedCore(redis.url, store);
  const bProxy = await startTcpProxy(redis.port);
  const b = await sharedCore(`redis://127.0.0.1:${bProxy.port}/0`, store);
  const c = await sharedCore(redis.url, store);
  t.teardown(async () => {
    await Promise.all([a.close(), b.close(), c.close()]);
    await bProxy.close();
  });
  // B hears of A's change late (its stream connection is cut meanwhile), after a listing B
  // loaded before the change was written to Redis, after A dropped the key.
  const stale = `s3mount/1 ${store.bucket} ${Date.now() + 3_600_000}\n{"entries":{"$map":[["old.txt",{"type":"file","key":"dir/old.txt","size":1,"etag":"\\"x\\"","mtime":{"$date":0}}]]}}`;
  await bProxy.down();
  await until(() => b.shared.stats().bus.state === 'down', 'B cut off');
  await writeThrough(a.fs, '/dir/new.txt', 'n');
  await inspect.hset(entryKey(store.bucket, 'dir/'), 'dir', stale);
  await bProxy.up();
  await b.applied(1);
  await until(async () => (await inspect.exists(entryKey(store.bucket, 'dir/'))) === 0, 'the stale entry dropped by B applying the change');
  t.deepEqual(await names(c, '/dir'), ['new.txt', 'old.txt']);
});

test('a core cut off from Redis catches up from its last id, or drops its metadata when the stream was trimmed past it', async (t) => {
  const store = sharedBucket();
  store.putObject('dir/a.txt', 'a');
  const proxy = await startTcpProxy(redis.port);
  const a = await sharedCore(redis.url, store);
  const b = await sharedCore(`redis://127.0.0.1:${proxy.port}/0`, store, { sharedMetadata: false });
  t.teardown(async () => {
    await Promise.all([a.close(), b.close()]);
    await proxy.close();
  });
  t.deepEqual(await names(b, '/dir'), ['a.txt']);

  await proxy.down();
  await until(() => b.shared.stats().bus.state === 'down', 'B cut off');
  await writeThrough(a.fs, '/dir/b.txt', 'b');
  t.deepEqual(await names(b, '/dir'), ['a.txt'], 'while cut off, B serves what it holds (TTL only)');
  await proxy.up();
  await until(() => b.shared.stats().bus.catchUps === 1 && b.shared.stats().bus.applied === 1, 'B caught up');
  t.deepEqual(await names(b, '/dir'), ['a.txt', 'b.txt']);
  t.is(b.shared.stats().bus.drops, 0);

  await proxy.down();
  await until(() => b.shared.stats().bus.state === 'down', 'B cut off again');
  await writeThrough(a.fs, '/dir/c.txt', 'c');
  await inspect.xtrim(streamKey(store.bucket), 'MAXLEN', 0);
  await proxy.up();
  await until(() => b.shared.stats().bus.drops === 1, 'B dropped its metadata');
  t.deepEqual(await names(b, '/dir'), ['a.txt', 'b.txt', 'c.txt'], 'the change trimmed away is not missed');
});

test('Redis restarted: changes made while it was down are published after, and every core drops what it may have missed', async (t) => {
  const own = await startRedis();
  t.teardown(() => own.stop());
  const store = sharedBucket();
  store.putObject('dir/a.txt', 'a');
  const a = await sharedCore(own.url, store);
  const b = await sharedCore(own.url, store);
  t.teardown(() => Promise.all([a.close(), b.close()]));
  t.deepEqual(await names(b, '/dir'), ['a.txt']);
  await own.kill();
  await until(() => a.shared.stats().state === 'down' && b.shared.stats().bus.state === 'down', 'both cut off');
  await writeThrough(a.fs, '/dir/b.txt', 'b');
  t.is(a.shared.stats().bus.pending, 1, 'the change waits for Redis');
  t.deepEqual(await names(a, '/dir'), ['a.txt', 'b.txt'], 'the mount goes on');
  await own.restart();
  await until(() => b.shared.stats().bus.drops === 1, 'B dropped what it may have missed');
  t.deepEqual(await names(b, '/dir'), ['a.txt', 'b.txt']);
  await until(() => a.shared.stats().bus.pending === 0, 'the waiting change published');
});

test('Redis absent at start: the core works with TTLs, says why once, and joins when Redis comes', async (t) => {
  const absent = await startRedis();
  const port = absent.port;
  await absent.stop();
  const store = sharedBucket();
  store.putObject('dir/a.txt', 'a');
  const b = await sharedCore(`redis://127.0.0.1:${port}/0`, store);
  t.teardown(() => b.close());
  t.regex(b.unavailable ?? '', /ECONNREFUSED/);
  t.deepEqual(await names(b, '/dir'), ['a.txt']);
  const late = await startRedis({ port });
  t.teardown(() => late.stop());
  await until(() => b.shared.stats().bus.state === 'in sync', 'B joined');
  t.is(b.shared.stats().bus.drops, 1, 'and dropped what it cached without the bus');
});

test('a core of a prefix applies changes under its prefix only', async (t) => {
  const store = sharedBucket();
  store.putObject('p/in.txt', 'i');
  store.putObject('q/out.txt', 'o');
  const a = await sharedCore(redis.url, store);
  const p = await sharedCore(redis.url, store, { prefix: 'p/' });
  t.teardown(() => Promise.all([a.close(), p.close()]));
  t.deepEqual(await names(p, '/'), ['in.txt']);
  await writeThrough(a.fs, '/q/other.txt', 'x');
  await writeThrough(a.fs, '/p/new.txt', 'n');
  await p.applied(1);
  await until(() => p.shared.stats().bus.outOfScope >= 1, 'the change under q/ seen');
  t.is(p.shared.stats().bus.applied, 1);
  t.deepEqual(await names(p, '/'), ['in.txt', 'new.txt']);
});
