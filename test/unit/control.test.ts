// What the control socket does to a cache: invalidation by path, settings, request checks;
// and a control server answering a client over a real Unix socket.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { pathInMount } from '../../src/cli/cache-command.js';
import { configureCache } from '../../src/control/cache-control.js';
import { sendControl } from '../../src/control/client.js';
import { validateRequest } from '../../src/control/protocol.js';
import { ControlServer } from '../../src/control/server.js';
import { Invalidation, type InvalidationEvent } from '../../src/fs/invalidation.js';
import { silentLogger } from '../../src/log.js';
import type { MountStats } from '../../src/stats.js';
import { block, cacheWith, key } from './cache/fixture.js';

async function fill(cache: ReturnType<typeof cacheWith>['cache']) {
  const value = async () => ({ v: 1 });
  await cache.metadata.fetch(key('head', 'root/dir/a'), value);
  await cache.blocks.fetch(block('root/dir/a', 'e1', 0), async () => Buffer.from('a'));
  await cache.metadata.fetch(key('head', 'root/dir/b'), value);
  await cache.metadata.fetch(key('dir', 'root/dir/'), value);
  await cache.metadata.fetch(key('list', 'root/dir/', ''), value);
  await cache.metadata.fetch(key('head', 'root/dir/sub/c'), value);
  await cache.metadata.fetch(key('dir', 'root/dir/sub/'), value);
  await cache.metadata.fetch(key('dir', 'root/'), value);
  await cache.metadata.fetch(key('head', 'root/other'), value);
}

/** `s3mount cache invalidate` as the control socket runs it: through the mount's one Invalidation. */
function invalidatePath(cache: ReturnType<typeof cacheWith>['cache'], path: string, recursive: boolean, events: InvalidationEvent[] = []): number {
  const invalidation = new Invalidation(cache, 'b', 'root/');
  invalidation.subscribe((event) => events.push(event));
  return invalidation.changedPath(path, recursive, 'control');
}

test('invalidating a file drops its metadata, its content, its directory listing and the root listing only', async (t) => {
  const { cache } = cacheWith();
  await fill(cache);
  const events: InvalidationEvent[] = [];
  t.is(invalidatePath(cache, '/dir/a', false, events), 5);
  t.deepEqual(events, [{ kind: 'key', bucket: 'b', key: 'root/dir/a', origin: 'control' }]);
  t.is(cache.metadata.peek(key('head', 'root/dir/a')), undefined);
  t.false(cache.blocks.has(block('root/dir/a', 'e1', 0)));
  t.is(cache.metadata.peek(key('dir', 'root/dir/')), undefined, 'the listing describes the file too');
  t.truthy(cache.metadata.peek(key('head', 'root/dir/b')));
  t.truthy(cache.metadata.peek(key('dir', 'root/dir/sub/')));
  t.is(cache.metadata.peek(key('dir', 'root/')), undefined, "the same rule as the mount's own changes: the root listing too");
});

test('invalidating a directory recursively drops everything under it', async (t) => {
  const { cache } = cacheWith();
  await fill(cache);
  t.is(invalidatePath(cache, '/dir', false), 3, 'its listing (two entries) and its entry in the parent listing');
  t.truthy(cache.metadata.peek(key('head', 'root/dir/sub/c')), 'without --recursive the children stay');
  t.is(invalidatePath(cache, '/dir', true), 5);
  t.is(cache.metadata.peek(key('head', 'root/dir/sub/c')), undefined);
  t.truthy(cache.metadata.peek(key('head', 'root/other')));
  t.is(invalidatePath(cache, '/', true), 1, 'the root recursively is everything under the mount prefix');
  t.is(cache.metadata.peek(key('head', 'root/other')), undefined);
});

test('configure changes the TTL and bounds of a running cache', async (t) => {
  const { cache } = cacheWith();
  await fill(cache);
  const settings = configureCache(cache, { metadataTtlSeconds: 5, maxCacheEntries: 2, maxCacheSizeMiB: 3 });
  t.deepEqual(settings, { metadataTtlSeconds: 5, maxCacheEntries: 2, maxCacheSizeMiB: 3 });
  t.is(cache.config.ttlMs, 5000);
  t.true(cache.stats().metadata.entries <= 2, 'a smaller bound evicts at once');
  t.deepEqual(configureCache(cache, { metadataTtlSeconds: 0 }), { metadataTtlSeconds: 0, maxCacheEntries: 2, maxCacheSizeMiB: 3 }, 'unchanged settings stay');
});

test('requests from the socket are checked before anything runs', (t) => {
  t.deepEqual(validateRequest({ command: 'invalidate', path: '/a/b', recursive: true }), { command: 'invalidate', path: '/a/b', recursive: true });
  t.deepEqual(validateRequest({ command: 'configure', settings: { metadataTtlSeconds: 0 } }), { command: 'configure', settings: { metadataTtlSeconds: 0 } });
  const bad: Array<[unknown, RegExp]> = [
    [null, /JSON object/],
    [{ command: 'shutdown' }, /unknown command/],
    [{ command: 'invalidate', path: 'relative' }, /absolute path/],
    [{ command: 'invalidate', path: '/a/../b' }, /"\.\."/],
    [{ command: 'configure', settings: {} }, /nothing to change/],
    [{ command: 'configure', settings: { maxCacheEntries: 0 } }, /at least 1/],
    [{ command: 'configure', settings: { metadataTtlSeconds: 1.5 } }, /whole number/],
    [{ command: 'configure', settings: { evil: 1 } }, /unknown setting/],
  ];
  for (const [request, message] of bad) t.throws(() => validateRequest(request), { message }, JSON.stringify(request));
});

test('paths given to cache invalidate are paths inside the mount', (t) => {
  t.is(pathInMount('/mnt/s3', '/mnt/s3/photos/a.jpg'), '/photos/a.jpg');
  t.is(pathInMount('/mnt/s3', 'photos/a.jpg'), '/photos/a.jpg');
  t.is(pathInMount('/mnt/s3', '/mnt/s3'), '/');
  t.is(pathInMount('/mnt/s3', '..foo'), '/..foo');
  t.throws(() => pathInMount('/mnt/s3', '/mnt/other/a'), { message: /not inside the mount at \/mnt\/s3/ });
  t.throws(() => pathInMount('/mnt/s3', '../a'), { message: /not inside/ });
});

test('the control server answers a client over its socket, errors included', async (t) => {
  const runtime = await mkdtemp(join(tmpdir(), 's3mount-control-'));
  const previous = process.env.XDG_RUNTIME_DIR;
  process.env.XDG_RUNTIME_DIR = runtime;
  const calls: string[] = [];
  const server = new ControlServer(
    '/mnt/unit-test',
    {
      stats: () => ({ s3Calls: 7 }) as MountStats,
      clear: () => void calls.push('clear'),
      invalidate: (path, recursive) => (calls.push(`invalidate ${path} ${recursive}`), 3),
      configure: (change) => ({ metadataTtlSeconds: change.metadataTtlSeconds ?? 60, maxCacheEntries: 10, maxCacheSizeMiB: 1 }),
    },
    silentLogger(),
  );
  t.teardown(async () => {
    await server.close();
    process.env.XDG_RUNTIME_DIR = previous;
    await rm(runtime, { recursive: true, force: true });
  });
  await server.listen();
  t.is((await sendControl('/mnt/unit-test', { command: 'stats' })).ok, true);
  t.deepEqual(await sendControl('/mnt/unit-test', { command: 'invalidate', path: '/x', recursive: true }), { ok: true, dropped: 3 });
  t.deepEqual(await sendControl('/mnt/unit-test', { command: 'configure', settings: { metadataTtlSeconds: 9 } }), {
    ok: true,
    settings: { metadataTtlSeconds: 9, maxCacheEntries: 10, maxCacheSizeMiB: 1 },
  });
  t.deepEqual(await sendControl('/mnt/unit-test', { command: 'invalidate', path: 'x', recursive: false }), {
    ok: false,
    error: 'invalidate needs an absolute path inside the mount',
  });
  t.deepEqual(calls, ['invalidate /x true']);
  await t.throwsAsync(sendControl('/mnt/not-mounted', { command: 'stats' }), { message: 'no s3mount is serving /mnt/not-mounted' });
});
