// The test helpers of the in-memory store (counters, injected failures, hook, latency, clock,
// seeding) and what the contract suite cannot show against fauxqs (byte order of astral keys,
// opaque tokens); then the counting decorator over it.
import test from 'ava';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { instrumentStore } from '../../src/s3/counting-store.js';
import { compareKeys, MemoryStore, s3Etag } from '../../src/s3/memory-store.js';
import { isStoreError, StoreError, type StoreOperation } from '../../src/s3/object-store.js';

async function kindOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'none';
  } catch (error) {
    return isStoreError(error) ? error.kind : `not a StoreError: ${String(error)}`;
  }
}

test('callCounts count interface calls, failed ones included, and not the seeding helpers', async (t) => {
  const store = new MemoryStore();
  store.putObject('a', 'x');
  store.getObject('a');
  store.info('a');
  store.keys();
  t.deepEqual(store.callCounts, { checkBucket: 0, head: 0, list: 0, getRange: 0, put: 0, copy: 0, delete: 0 });
  await store.head('a');
  await kindOf(store.head('missing'));
  await store.list('');
  await store.getRange('a', 0, 1);
  await store.put('b', Buffer.from('y'));
  await store.copy('a', 'c');
  await store.delete('c');
  await store.checkBucket();
  t.deepEqual(store.callCounts, { checkBucket: 1, head: 2, list: 1, getRange: 1, put: 1, copy: 1, delete: 1 });
  store.resetCounts();
  t.is(store.callCounts.head, 0);
});

test('failNext queues failures per operation: kinds, errors, several times', async (t) => {
  const store = new MemoryStore();
  store.putObject('k', 'v');
  store.failNext('head', 'AccessDenied');
  store.failNext('head', 'Throttled', 2);
  const custom = new StoreError('Network', 'cable cut', 'ECONNRESET');
  store.failNext('getRange', custom);
  t.is(store.pendingFailures('head'), 3);
  t.is(await store.getRange('k', 0, 1).catch((error: unknown) => error), custom, 'the very error given');
  t.is(await kindOf(store.list('')), 'none', 'other operations are untouched');
  t.is(await kindOf(store.head('k')), 'AccessDenied');
  t.is(await kindOf(store.head('k')), 'Throttled');
  t.is(await kindOf(store.head('k')), 'Throttled');
  t.is(await kindOf(store.head('k')), 'none');
  store.failNext('put', 'Other');
  t.is(await kindOf(store.put('new', Buffer.from('n'))), 'Other');
  t.is(store.getObject('new'), undefined, 'a failed put stores nothing');
  store.failNext('delete');
  store.clearFailures();
  t.is(await kindOf(store.delete('k')), 'none');
});

test('the beforeCall hook sees every call, can fail it and can hold it', async (t) => {
  const seen: Array<[StoreOperation, string]> = [];
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => (release = resolve));
  const store = new MemoryStore('b', {
    beforeCall: async (op, key) => {
      seen.push([op, key]);
      if (key === 'forbidden') throw new StoreError('AccessDenied', 'no');
      if (key === 'slow') await gate;
    },
  });
  store.putObject('slow', 'old');
  t.is(await kindOf(store.head('forbidden')), 'AccessDenied');
  const pending = store.getRange('slow', 0, 3);
  // The read is held before it looks at the object: an overwrite meanwhile is what it reads.
  store.putObject('slow', 'new');
  release();
  t.is((await pending).toString(), 'new');
  await store.copy('slow', 'dest');
  t.deepEqual(seen, [
    ['head', 'forbidden'],
    ['getRange', 'slow'],
    ['copy', 'dest'],
  ]);
});

test('latency delays calls, and an aborted getRange stops waiting', async (t) => {
  const store = new MemoryStore('b', { latencyMs: (op) => (op === 'getRange' ? 5_000 : 30) });
  store.putObject('k', 'v');
  let started = Date.now();
  await store.head('k');
  t.true(Date.now() - started >= 25);
  const controller = new AbortController();
  started = Date.now();
  setTimeout(() => controller.abort(), 20);
  t.is(await kindOf(store.getRange('k', 0, 1, { signal: controller.signal })), 'Network');
  t.true(Date.now() - started < 1000);
});

test('lastModified comes from the injected clock; ETags follow the bytes', async (t) => {
  let now = new Date('2024-01-01T00:00:00Z');
  const store = new MemoryStore('b', { now: () => now });
  const first = store.putObject('k', 'one');
  t.deepEqual(first.lastModified, now);
  t.is(first.etag, `"${'f97c5d29941bfb1b2fdab0874906ab82'}"`, 'quoted MD5 hex');
  now = new Date('2024-06-01T00:00:00Z');
  const { etag } = await store.put('k', Buffer.from('two'));
  const info = await store.head('k');
  t.deepEqual(info.lastModified, now);
  t.is(info.etag, etag);
  t.not(etag, first.etag);
  t.is(store.putObject('same', 'one').etag, first.etag, 'same bytes, same ETag, as in S3');
});

test('stored bytes are isolated from the buffers given and returned', async (t) => {
  const store = new MemoryStore();
  const input = Buffer.from('abc');
  await store.put('k', input);
  input[0] = 0x7a;
  const out = store.getObject('k')!;
  out[1] = 0x7a;
  const range = await store.getRange('k', 0, 3);
  range[2] = 0x7a;
  t.is(store.getObject('k')!.toString(), 'abc');
});

test('putObject seeds synchronously with lower-case metadata; copyFrom replaces the contents', async (t) => {
  const store = new MemoryStore();
  const info = store.putObject('dir/k', Buffer.from('v'), { Mode: '33188', UID: '7' });
  t.deepEqual(info.metadata, { mode: '33188', uid: '7' });
  t.deepEqual((await store.head('dir/k')).metadata, { mode: '33188', uid: '7' });
  const other = new MemoryStore();
  other.putObject('stale', 'x');
  other.copyFrom(store);
  t.deepEqual(other.keys(), ['dir/k']);
  t.deepEqual((await other.head('dir/k')).metadata, { mode: '33188', uid: '7' });
  store.deleteObject('dir/k');
  t.deepEqual(other.keys(), ['dir/k'], 'a copy, not a view');
});

test('multipart puts get an S3-style ETag with the part count', async (t) => {
  const store = new MemoryStore();
  const body = Buffer.alloc(10, 1);
  const { etag } = await store.put('k', body, { partSize: 4 });
  t.is(etag, s3Etag(body, 4));
  t.regex(etag, /^"[0-9a-f]{32}-3"$/);
  t.regex((await store.copy('k', 'c')).etag, /^"[0-9a-f]{32}"$/, 'a copy is one piece');
});

test('keys are ordered by UTF-8 bytes, not UTF-16 code units', async (t) => {
  const store = new MemoryStore();
  const keys = ['😀', '\uffff', 'a', 'B', 'é'];
  for (const key of keys) store.putObject(key, 'x');
  const expected = ['B', 'a', 'é', '\uffff', '😀'];
  t.deepEqual(store.keys(), expected);
  t.deepEqual([...keys].sort(compareKeys), expected);
  const paged: string[] = [];
  let token: string | undefined;
  do {
    const page = await store.list('', { maxKeys: 2, continuationToken: token });
    paged.push(...page.objects.map((o) => o.key));
    token = page.nextContinuationToken;
  } while (token);
  t.deepEqual(paged, expected);
});

test('continuation tokens are opaque and checked', async (t) => {
  const store = new MemoryStore();
  for (const key of ['p/a', 'p/b', 'p/c', 'q/a']) store.putObject(key, 'x');
  const first = await store.list('p/', { maxKeys: 2 });
  t.deepEqual(first.objects.map((o) => o.key), ['p/a', 'p/b']);
  t.truthy(first.nextContinuationToken);
  t.false(first.nextContinuationToken!.includes('p/b'), 'not the key in clear');
  // Keys added behind the cursor are not listed again; keys ahead are.
  store.putObject('p/aa', 'x');
  store.putObject('p/bb', 'x');
  const second = await store.list('p/', { maxKeys: 2, continuationToken: first.nextContinuationToken });
  t.deepEqual(second.objects.map((o) => o.key), ['p/bb', 'p/c']);
  t.is(second.nextContinuationToken, undefined);
  t.is(await kindOf(store.list('q/', { continuationToken: first.nextContinuationToken })), 'Other', 'a token belongs to its prefix');
  t.is(await kindOf(store.list('p/', { continuationToken: 'garbage' })), 'Other');
  t.deepEqual((await store.list('p/', { maxKeys: 0 })).objects, []);
  t.is((await store.list('p/', { maxKeys: 5000 })).objects.length, 5);
});

test('a store whose bucket does not exist fails every call with NoSuchBucket', async (t) => {
  const store = new MemoryStore('gone');
  store.bucketExists = false;
  const error = await store.checkBucket().catch((e: unknown) => e);
  t.true(isStoreError(error, 'NoSuchBucket'));
  t.is((error as Error).message, 'bucket gone does not exist');
  t.is(await kindOf(store.head('k')), 'NoSuchBucket');
});

// ---- the counting decorator ---------------------------------------------------------------

function capturingLogger(level: 'debug' | 'info') {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      callback();
    },
  });
  return { log: pino({ level }, sink), lines };
}

test('instrumentStore counts calls, errors and time, and logs each call at debug only', async (t) => {
  const memory = new MemoryStore('b', { latencyMs: (op) => (op === 'list' ? 20 : 0) });
  memory.putObject('k', 'value');
  const { log, lines } = capturingLogger('debug');
  const store = instrumentStore(memory, log);
  t.is(store.bucket, 'b');
  await store.head('k');
  await kindOf(store.head('missing'));
  memory.failNext('getRange', 'Throttled');
  await kindOf(store.getRange('k', 0, 2));
  t.is((await store.getRange('k', 0, 2)).toString(), 'va');
  await store.list('');
  await store.copy('k', 'k2');
  const calls = store.calls();
  t.deepEqual(calls.head, { count: 2, errors: 0, totalMs: calls.head.totalMs }, 'NotFound is an answer, not an error');
  t.is(calls.getRange.count, 2);
  t.is(calls.getRange.errors, 1);
  t.true(calls.list.totalMs >= 15);
  t.is(calls.put.count, 0);
  await new Promise((resolve) => setImmediate(resolve));
  t.is(lines.length, 6);
  t.true(lines.every((line) => line.level === 20 && line.msg === 's3 call'), 'debug level, nothing louder');
  t.like(lines[0], { s3: 'head', key: 'k', outcome: 'ok' });
  t.like(lines[1], { s3: 'head', key: 'missing', outcome: 'NotFound' });
  t.like(lines[2], { s3: 'getRange', key: 'k', outcome: 'Throttled', code: 'Throttled', start: 0, end: 2 });
  t.like(lines[5], { s3: 'copy', key: 'k2', source: 'k', outcome: 'ok' });
  t.is(typeof lines[0].ms, 'number');
  const snapshot = store.calls();
  snapshot.head.count = 99;
  t.is(store.calls().head.count, 2, 'calls() is a snapshot');
});

test('instrumentStore logs nothing above debug, even for failures', async (t) => {
  const memory = new MemoryStore();
  const { log, lines } = capturingLogger('info');
  const store = instrumentStore(memory, log);
  memory.failNext('head', 'AccessDenied');
  await kindOf(store.head('k'));
  await store.put('k', Buffer.from('x'));
  await new Promise((resolve) => setImmediate(resolve));
  t.deepEqual(lines, []);
  t.is(store.calls().head.errors, 1);
});
