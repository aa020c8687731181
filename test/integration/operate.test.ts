// Operating a running mount: cache commands over the control socket, warm, the metrics
// endpoint, an fstab-style mount through mount.fuse3, and a debug log without secrets.
// Every mount is served by a child process and driven by further processes.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import test from 'ava';
import { type S3Endpoint, seedClient, startS3Endpoint, testPrefix } from '../../scripts/local-s3.js';
import { unmountWithRetries, waitForMount } from '../../scripts/mounts.js';
import type { MountStats } from '../../src/stats.js';
import { CLI, endpointArgs, endpointEnv, isMounted, type Mount, mountBucket, run } from '../support/mount.js';
import { parsePrometheusText, sample } from '../support/prometheus.js';

let endpoint: S3Endpoint;
let client: S3Client;
let prefix: string;
let scratch: string;

test.before(async () => {
  endpoint = await startS3Endpoint();
  client = seedClient(endpoint);
  prefix = testPrefix(endpoint);
  scratch = await mkdtemp(join(tmpdir(), 's3mount-operate-'));
});

test.after.always(async () => {
  await endpoint?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

async function put(key: string, body: string | Buffer): Promise<void> {
  await client.send(new PutObjectCommand({ Bucket: endpoint.bucket, Key: prefix + key, Body: body, ContentLength: Buffer.byteLength(body) }));
}

/** Each test mounts its own directory of the bucket, so tests run in parallel without sharing counters. */
async function mountDirectory(t: { teardown(fn: () => Promise<void>): void }, directory: string, args: string[] = []): Promise<Mount> {
  const mount = await mountBucket(endpoint, { target: `${endpoint.bucket}:${prefix}${directory}`, args });
  t.teardown(() => mount.stop());
  return mount;
}

async function cli(...args: string[]) {
  return run(process.execPath, [CLI, ...args]);
}

async function stats(mountpoint: string): Promise<MountStats> {
  const result = await cli('cache', 'stats', mountpoint, '--json');
  if (result.code !== 0) throw new Error(`cache stats failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as MountStats;
}

async function cat(path: string): Promise<string> {
  const result = await run('cat', [path]);
  if (result.code !== 0) throw new Error(`cat ${path}: ${result.stderr}`);
  return result.stdout;
}

async function ls(path: string): Promise<string[]> {
  const result = await run('ls', ['-1', path]);
  if (result.code !== 0) throw new Error(`ls ${path}: ${result.stderr}`);
  return result.stdout.split('\n').filter(Boolean);
}

// The kernel keeps nothing, so every access reaches s3mount and its cache decides. Negative
// answers are kept as long as the rest: a lookup's "no directory of that name" probe is a
// negative answer, and with the default 5 s it expired between two stats taken a few seconds
// apart on a loaded machine, adding a LIST to a count that was meant to stay the same.
const CACHE_DECIDES = ['--metadata-ttl', '3600', '--negative-metadata-ttl', '3600', '--kernel-cache-ttl', '0'];

test('cache stats follow reads, and cache clear makes the next read a miss', async (t) => {
  await put('stats/a.txt', 'alpha\n');
  const mount = await mountDirectory(t, 'stats', CACHE_DECIDES);
  const file = join(mount.mountpoint, 'a.txt');
  const before = await stats(mount.mountpoint);
  t.is(before.settings.kernelCacheTtlSeconds, 0);

  t.is(await cat(file), 'alpha\n');
  const afterFirst = await stats(mount.mountpoint);
  t.true(afterFirst.cache.totals.misses > before.cache.totals.misses);
  t.true(afterFirst.s3.getRange.count > before.s3.getRange.count, 'the content came from S3');
  t.true(afterFirst.cache.content.entries >= 1);

  t.is(await cat(file), 'alpha\n');
  const afterSecond = await stats(mount.mountpoint);
  t.true(afterSecond.cache.totals.hits > afterFirst.cache.totals.hits);
  t.is(afterSecond.s3Calls, afterFirst.s3Calls, 'the second read made no S3 call');
  t.true(afterSecond.s3CallsSaved > afterFirst.s3CallsSaved);

  const table = await cli('cache', 'stats', mount.mountpoint);
  t.is(table.code, 0, table.stderr);
  t.regex(table.stdout, /metadata TTL 3600 s \(kernel 0 s\)/);
  t.regex(table.stdout, /hit rate/);
  t.regex(table.stdout, new RegExp(`s3 calls made ${afterSecond.s3Calls}, saved by the cache`));

  const clear = await cli('cache', 'clear', mount.mountpoint);
  t.is(clear.code, 0, clear.stderr);
  const cleared = await stats(mount.mountpoint);
  t.is(cleared.cache.metadata.entries, 0);
  t.is(cleared.cache.content.entries, 0);

  t.is(await cat(file), 'alpha\n');
  const afterClear = await stats(mount.mountpoint);
  t.true(afterClear.cache.totals.misses > cleared.cache.totals.misses, 'the read after clear is a miss');
  t.true(afterClear.s3Calls > cleared.s3Calls);
});

test('cache invalidate shows what another writer changed, at once with --kernel-cache-ttl 0', async (t) => {
  await put('inval/a.txt', 'version 1\n');
  await put('inval/dir/b.txt', 'b\n');
  const mount = await mountDirectory(t, 'inval', CACHE_DECIDES);
  const file = join(mount.mountpoint, 'a.txt');
  const dir = join(mount.mountpoint, 'dir');
  t.is(await cat(file), 'version 1\n');
  t.deepEqual(await ls(dir), ['b.txt']);

  // Another writer changes the bucket behind the mount's back.
  await put('inval/a.txt', 'version 2, longer\n');
  await put('inval/dir/new.txt', 'new\n');
  t.is(await cat(file), 'version 1\n', 'the cache still answers with what it knew');
  t.deepEqual(await ls(dir), ['b.txt']);

  const single = await cli('cache', 'invalidate', mount.mountpoint, 'a.txt');
  t.is(single.code, 0, single.stderr);
  t.regex(single.stdout, /^dropped [1-9]\d* cached entries for \/a\.txt\n/);
  t.is(await cat(file), 'version 2, longer\n');
  t.deepEqual(await ls(dir), ['b.txt'], 'other paths keep their cache');

  const before = await stats(mount.mountpoint);
  const recursive = await cli('cache', 'invalidate', mount.mountpoint, dir, '--recursive');
  t.is(recursive.code, 0, recursive.stderr);
  t.deepEqual(await ls(dir), ['b.txt', 'new.txt']);
  t.true((await stats(mount.mountpoint)).cache.totals.misses > before.cache.totals.misses, 'the listing after invalidate is a miss');

  const outside = await cli('cache', 'invalidate', mount.mountpoint, '/somewhere/else');
  t.is(outside.code, 2);
  t.regex(outside.stderr, /not inside the mount/);
});

test('cache configure changes the TTL and bounds of a running mount', async (t) => {
  await put('configure/a.txt', 'a\n');
  const mount = await mountDirectory(t, 'configure', CACHE_DECIDES);
  const file = join(mount.mountpoint, 'a.txt');
  const s3CallsAfterStat = async () => {
    const result = await run('stat', [file]);
    if (result.code !== 0) throw new Error(result.stderr);
    return (await stats(mount.mountpoint)).s3Calls;
  };

  const off = await cli('cache', 'configure', mount.mountpoint, '--metadata-ttl', '0');
  t.is(off.code, 0, off.stderr);
  t.regex(off.stdout, /metadata TTL 0 s/);
  t.is((await stats(mount.mountpoint)).settings.metadataTtlSeconds, 0);
  await cli('cache', 'clear', mount.mountpoint);
  const first = await s3CallsAfterStat();
  t.true((await s3CallsAfterStat()) > first, 'with a TTL of 0 nothing is kept: every stat asks S3');

  const on = await cli('cache', 'configure', mount.mountpoint, '--metadata-ttl', '3600', '--max-cache-entries', '50', '--max-cache-size', '2');
  t.is(on.code, 0, on.stderr);
  const settings = (await stats(mount.mountpoint)).settings;
  t.like(settings, { metadataTtlSeconds: 3600, maxCacheEntries: 50, maxCacheSizeMiB: 2 });
  // Everything the next stat needs is loaded under the new settings, not left from before.
  await cli('cache', 'clear', mount.mountpoint);
  const kept = await s3CallsAfterStat();
  t.is(await s3CallsAfterStat(), kept, 'with a TTL again, the second stat is answered from the cache');

  const nothing = await cli('cache', 'configure', mount.mountpoint);
  t.is(nothing.code, 2);
  t.regex(nothing.stderr, /needs at least one setting/);
});

test('warm fills listings and attributes, and content with --content', async (t) => {
  const files = ['top.txt', 'x/one.txt', 'x/y/two.txt', 'x/y/three.txt', 'z/four.txt'];
  for (const name of files) await put(`warm/${name}`, `content of ${name}\n`);
  // A TTL no run outlasts: what warm loaded must still be there when find and cat come.
  const mount = await mountDirectory(t, 'warm', ['--metadata-ttl', '3600']);
  const walk = await cli('warm', mount.mountpoint);
  t.is(walk.code, 0, walk.stderr);
  t.regex(walk.stdout, /^warmed .*: 4 directories, 5 files in [\d.]+ s\n$/);
  const afterWalk = await stats(mount.mountpoint);
  t.is(afterWalk.s3.getRange.count, 0, 'without --content nothing is read');
  const find = await run('find', [mount.mountpoint, '-type', 'f', '-size', '+0']);
  t.is(find.stdout.split('\n').filter(Boolean).length, 5);
  t.is((await stats(mount.mountpoint)).s3Calls, afterWalk.s3Calls, 'find after warm makes no S3 call');

  const withContent = await cli('warm', join(mount.mountpoint, 'x'), '--content', '--concurrency', '2');
  t.is(withContent.code, 0, withContent.stderr);
  t.regex(withContent.stdout, /3 files, 0\.0 MiB read/);
  const afterContent = await stats(mount.mountpoint);
  t.true(afterContent.cache.content.entries >= 3);
  t.is(await cat(join(mount.mountpoint, 'x/y/two.txt')), 'content of x/y/two.txt\n');
  t.is((await stats(mount.mountpoint)).s3Calls, afterContent.s3Calls, 'reading warmed files makes no S3 call');

  const notMounted = await cli('warm', scratch);
  t.is(notMounted.code, 1);
  t.regex(notMounted.stderr, /is not inside an s3mount mount/);
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolvePort) => server.listen(0, '127.0.0.1', resolvePort));
  const { port } = server.address() as { port: number };
  await new Promise((closed) => server.close(closed));
  return port;
}

test('the metrics endpoint serves Prometheus text about FUSE, S3 and the cache', async (t) => {
  const body = Buffer.alloc(300 * 1024, 'm');
  await put('metrics/data.bin', body);
  const port = await freePort();
  const mount = await mountDirectory(t, 'metrics', ['--metrics-address', `127.0.0.1:${port}`]);
  t.is((await cat(join(mount.mountpoint, 'data.bin'))).length, body.length);
  t.is((await run('stat', [join(mount.mountpoint, 'missing.txt')])).code, 1);
  t.is((await run('sh', ['-c', `printf 'written' > ${join(mount.mountpoint, 'new.txt')}`])).code, 0);

  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  t.is(response.status, 200);
  t.regex(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const samples = parsePrometheusText(await response.text());
  const value = (name: string, labels: Record<string, string> = {}) => sample(samples, name, labels) ?? 0;
  t.true(value('s3mount_s3_requests_total', { operation: 'getRange', outcome: 'ok' }) >= 1);
  t.true(value('s3mount_s3_requests_total', { operation: 'put', outcome: 'ok' }) >= 1);
  t.true(value('s3mount_s3_request_duration_seconds_count', { operation: 'getRange' }) >= 1);
  t.true(value('s3mount_fuse_operations_total', { operation: 'read', outcome: 'ok' }) >= 1);
  t.true(value('s3mount_fuse_operations_total', { operation: 'getattr', outcome: 'ENOENT' }) >= 1);
  t.true(value('s3mount_fuse_operation_duration_seconds_count', { operation: 'read' }) >= 1);
  t.true(value('s3mount_read_bytes_total') >= body.length);
  t.is(value('s3mount_written_bytes_total'), 'written'.length);
  t.is(value('s3mount_uploads_pending'), 0);
  t.true(value('s3mount_cache_misses_total', { cache: 'block' }) >= 1);
  t.true(value('s3mount_cache_entries', { cache: 'content' }) >= 1);
  t.true(value('s3mount_cache_bytes') >= body.length);
  // getattrs passed on by the attribute cache in the FUSE binding (the lookups above).
  t.true(value('s3mount_native_attr_cache_misses_total') >= 1);
  t.not(sample(samples, 's3mount_native_attr_cache_entries', {}), undefined);
  t.is((await fetch(`http://127.0.0.1:${port}/other`)).status, 404);

  // SIGUSR1 writes the statistics to the log, even at the default level (warn).
  mount.child.kill('SIGUSR1');
  t.true(await eventually(() => mount.logs().includes('"msg":"statistics"')), mount.logs());
});

async function eventually(check: () => boolean, attempts = 200): Promise<boolean> {
  for (let i = 0; i < attempts && !check(); i++) await new Promise((resolveWait) => setTimeout(resolveWait, 50));
  return check();
}

const MOUNT_FUSE = ['/sbin/mount.fuse3', '/usr/sbin/mount.fuse3', '/usr/bin/mount.fuse3'].find((path) => existsSync(path));

test('an fstab line of type fuse.s3mount mounts through mount.fuse3 with -o options', async (t) => {
  t.truthy(MOUNT_FUSE, 'mount.fuse3 (Debian package fuse3) is needed, as mount(8) runs it for fuse.* types');
  await put('fstab/hello.txt', 'hello from fstab\n');
  const mountpoint = join(scratch, 'fstab-mount');
  const logFile = join(scratch, 'fstab.log');
  const bin = join(scratch, 'bin');
  await mkdir(mountpoint, { recursive: true });
  await mkdir(bin, { recursive: true });
  // mount.fuse3 runs the command named by the type from PATH, as mount(8) does at boot.
  await symlink(resolve('bin/s3mount'), join(bin, 's3mount'));
  t.teardown(() => unmountWithRetries(mountpoint));
  const options = [
    `_netdev`,
    'nofail',
    `endpoint-url=${endpoint.endpoint}`,
    ...(endpoint.forcePathStyle ? ['force-path-style'] : []),
    'metadata-ttl=5',
    'kernel_cache_ttl=1',
    `log-file=${logFile}`,
    'noatime',
  ];
  const env = { ...endpointEnv(endpoint), PATH: `${bin}:${process.env.PATH}` };
  const result = await run(MOUNT_FUSE ?? 'mount.fuse3', [`${endpoint.bucket}:${prefix}fstab`, mountpoint, '-t', 's3mount', '-o', options.join(',')], { env });
  t.is(result.code, 0, result.stderr);
  t.true(await isMounted(mountpoint));
  t.is(await cat(join(mountpoint, 'hello.txt')), 'hello from fstab\n');
  t.like((await stats(mountpoint)).settings, { metadataTtlSeconds: 5, kernelCacheTtlSeconds: 1 });
  t.true(existsSync(logFile), 'the background mount logs to the file named in -o');

  const table = await readFile('/proc/self/mountinfo', 'utf8');
  t.regex(table, new RegExp(`${mountpoint} .* - fuse\\.s3mount s3mount:${endpoint.bucket}`));
});

// Credentials nothing else uses, so that finding them anywhere in a log is a leak.
const SCAN_CREDENTIALS = {
  AWS_ACCESS_KEY_ID: 'AKIAS3MOUNTLOGSCAN01',
  AWS_SECRET_ACCESS_KEY: 'S3mountLogScanSecretKey/DoNotLog+0123456789',
  AWS_SESSION_TOKEN: 'S3mountLogScanSessionToken/DoNotLog+abcdefghijklmnopqrstuvwxyz',
};

test('a debug log shows FUSE operations, cache hits and misses and timed S3 calls, and no secret', async (t) => {
  await put('secrets/existing.txt', 'existing\n');
  // The emulator accepts any credentials; a real endpoint needs its own (which are scanned for then).
  const env = endpoint.external ? endpointEnv(endpoint) : { ...endpointEnv(endpoint), ...SCAN_CREDENTIALS };
  const secrets = [env.AWS_ACCESS_KEY_ID, env.AWS_SECRET_ACCESS_KEY, env.AWS_SESSION_TOKEN].filter((value): value is string => Boolean(value));
  const mountpoint = join(scratch, 'secrets-mount');
  await mkdir(mountpoint, { recursive: true });
  const child = spawn(process.execPath, [CLI, `${endpoint.bucket}:${prefix}secrets`, mountpoint, '-f', '--debug', ...endpointArgs(endpoint)], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let logs = '';
  child.stdout.on('data', (chunk: Buffer) => (logs += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (logs += chunk.toString()));
  const exited = new Promise((resolveExit) => child.once('exit', resolveExit));
  t.teardown(async () => {
    await unmountWithRetries(mountpoint);
    child.kill('SIGKILL');
  });
  await waitForMount(mountpoint, exited);

  const at = (name: string) => join(mountpoint, name);
  t.is(await cat(at('existing.txt')), 'existing\n');
  t.is(await cat(at('existing.txt')), 'existing\n');
  await run('stat', [at('missing.txt')]);
  t.is((await run('sh', ['-c', `printf 'new' > ${at('new.txt')} && mv ${at('new.txt')} ${at('moved.txt')} && rm ${at('moved.txt')}`])).code, 0);
  t.is((await run('ls', ['-la', mountpoint])).code, 0);
  child.kill('SIGUSR1');
  t.true(await eventually(() => logs.includes('"msg":"statistics"')));
  await unmountWithRetries(mountpoint);
  await exited;

  const lines = logs.split('\n').filter(Boolean);
  t.true(lines.length > 20, 'the debug log has content');
  t.notThrows(() => lines.forEach((line) => void JSON.parse(line)), 'every line is JSON');
  t.regex(logs, /"fuse":"getattr".*"ms":[\d.]+.*"msg":"fuse operation"/);
  t.regex(logs, /"msg":"cache miss"/);
  t.regex(logs, /"msg":"cache hit"/);
  t.regex(logs, /"s3":"getRange".*"ms":[\d.]+.*"msg":"s3 call"/);
  t.regex(logs, /"s3":"put".*"msg":"s3 call"/);
  for (const secret of secrets) t.false(logs.includes(secret), `a credential (${secret.slice(0, 4)}...) is in the log`);
  t.notRegex(logs, /Signature=[0-9a-f]{16,}/i);
  t.notRegex(logs, /Credential=[A-Z0-9]{16,}/);
  t.notRegex(logs, /x-amz-security-token"?\s*[:=]\s*"?[^"[\s]/i);
});
