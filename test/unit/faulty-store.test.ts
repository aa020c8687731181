// The test wrappers around an ObjectStore: the faulty store (injected failures, a hook before
// every call, latency) and the counting decorator (calls, errors, time, calls in flight).

import { Writable } from 'node:stream';
import test from 'ava';
import { pino } from 'pino';
import { silentLogger } from '../../src/log.js';
import { instrumentStore } from '../../src/s3/counting-store.js';
import { MemoryStore } from '../../src/s3/memory-store.js';
import { isStoreError, StoreError, type StoreOperation } from '../../src/s3/object-store.js';
import { liveCounts, settled } from '../support/core.js';
import { FaultyStore } from '../support/faulty-store.js';

async function kindOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'none';
  } catch (error) {
    return isStoreError(error) ? error.kind : `not a StoreError: ${String(error)}`;
  }
}

test('counted calls are interface calls, failed ones included, and not the seeding helpers', async (t) => {
  const memory = new MemoryStore();
  const faults = new FaultyStore(memory);
  const counted = instrumentStore(faults, silentLogger());
  const calls = liveCounts(counted);
  memory.putObject('a', 'x');
  memory.getObject('a');
  memory.info('a');
  memory.keys();
  t.deepEqual({ ...calls }, { checkBucket: 0, head: 0, list: 0, getRange: 0, put: 0, copy: 0, delete: 0, multipart: 0 });
  await counted.head('a');
  await kindOf(counted.head('missing'));
  faults.failNext('list', 'Throttled');
  await kindOf(counted.list(''));
  await counted.list('');
  await counted.getRange('a', 0, 1);
  await counted.put('b', Buffer.from('y'));
  await counted.copy('a', 'c');
  await counted.delete('c');
  await counted.checkBucket();
  // A part is a put; creating, completing and aborting multipart uploads are multipart calls.
  const uploadId = await counted.createUpload('m');
  const { etag } = await counted.uploadPart('m', uploadId, 1, Buffer.from('z'));
  await counted.completeUpload('m', uploadId, [{ partNumber: 1, etag }]);
  await counted.abortUpload('n', await counted.createUpload('n'));
  t.deepEqual({ ...calls }, { checkBucket: 1, head: 2, list: 2, getRange: 1, put: 2, copy: 1, delete: 1, multipart: 4 });
  t.is(counted.calls().list.errors, 1, 'the injected failure is an error; NotFound is not');
  t.is(counted.calls().head.errors, 0);
});

test('calls in flight are counted until they finish, and settled waits for them', async (t) => {
  const memory = new MemoryStore();
  memory.putObject('k', 'v');
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => (release = resolve));
  const faults = new FaultyStore(memory, { beforeCall: (op) => (op === 'getRange' ? gate : undefined) });
  const counted = instrumentStore(faults, silentLogger());
  const held = counted.getRange('k', 0, 1);
  await counted.head('k');
  t.is(counted.calls().getRange.inFlight, 1);
  t.is(counted.calls().head.inFlight, 0);
  let done = false;
  const waiting = settled(counted).then(() => (done = true));
  await new Promise((resolve) => setTimeout(resolve, 30));
  t.false(done, 'not settled while a GET is held');
  release();
  await waiting;
  t.is(counted.calls().getRange.inFlight, 0);
  t.is((await held).toString(), 'v');
  const failing = new FaultyStore(memory);
  const failingCounted = instrumentStore(failing, silentLogger());
  failing.failNext('head');
  await kindOf(failingCounted.head('k'));
  t.is(failingCounted.calls().head.inFlight, 0, 'a failed call is no longer in flight');
});

test('failNext queues failures per operation: kinds, errors, several times', async (t) => {
  const memory = new MemoryStore();
  const store = new FaultyStore(memory);
  memory.putObject('k', 'v');
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
  t.is(memory.getObject('new'), undefined, 'a failed put stores nothing');
  store.failNext('delete');
  store.clearFailures();
  t.is(await kindOf(store.delete('k')), 'none');
  t.is(memory.getObject('k'), undefined, 'calls that do not fail reach the inner store');
});

test('the beforeCall hook sees every call, can fail it and can hold it', async (t) => {
  const seen: Array<[StoreOperation, string]> = [];
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => (release = resolve));
  const memory = new MemoryStore('b');
  const store = new FaultyStore(memory, {
    beforeCall: async (op, key) => {
      seen.push([op, key]);
      if (key === 'forbidden') throw new StoreError('AccessDenied', 'no');
      if (key === 'slow') await gate;
    },
  });
  t.is(store.bucket, 'b');
  memory.putObject('slow', 'old');
  t.is(await kindOf(store.head('forbidden')), 'AccessDenied');
  const pending = store.getRange('slow', 0, 3);
  // The read is held before it looks at the object: an overwrite meanwhile is what it reads.
  memory.putObject('slow', 'new');
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
  const memory = new MemoryStore('b');
  const store = new FaultyStore(memory, { latencyMs: (op) => (op === 'getRange' ? 5_000 : 30) });
  memory.putObject('k', 'v');
  let started = Date.now();
  await store.head('k');
  t.true(Date.now() - started >= 25);
  const controller = new AbortController();
  started = Date.now();
  setTimeout(() => controller.abort(), 20);
  t.is(await kindOf(store.getRange('k', 0, 1, { signal: controller.signal })), 'Network');
  t.true(Date.now() - started < 1000);
});

test('the inner store still decides: a missing bucket fails through the wrapper', async (t) => {
  const memory = new MemoryStore('gone');
  memory.bucketExists = false;
  t.is(await kindOf(new FaultyStore(memory).checkBucket()), 'NoSuchBucket');
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
  const memory = new MemoryStore('b');
  const faults = new FaultyStore(memory, { latencyMs: (op) => (op === 'list' ? 20 : 0) });
  memory.putObject('k', 'value');
  const { log, lines } = capturingLogger('debug');
  const store = instrumentStore(faults, log);
  t.is(store.bucket, 'b');
  await store.head('k');
  await kindOf(store.head('missing'));
  faults.failNext('getRange', 'Throttled');
  await kindOf(store.getRange('k', 0, 2));
  t.is((await store.getRange('k', 0, 2)).toString(), 'va');
  await store.list('');
  await store.copy('k', 'k2');
  const calls = store.calls();
  t.deepEqual(calls.head, { count: 2, errors: 0, totalMs: calls.head.totalMs, inFlight: 0 }, 'NotFound is an answer, not an error');
  t.is(calls.getRange.count, 2);
  t.is(calls.getRange.errors, 1);
  t.true(calls.list.totalMs >= 15);
  t.is(calls.put.count, 0);
  await new Promise((resolve) => setImmediate(resolve));
  t.is(lines.length, 6);
  t.true(
    lines.every((line) => line.level === 20 && line.msg === 's3 call'),
    'debug level, nothing louder',
  );
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
  const faults = new FaultyStore(new MemoryStore());
  const { log, lines } = capturingLogger('info');
  const store = instrumentStore(faults, log);
  faults.failNext('head', 'AccessDenied');
  await kindOf(store.head('k'));
  await store.put('k', Buffer.from('x'));
  await new Promise((resolve) => setImmediate(resolve));
  t.deepEqual(lines, []);
  t.is(store.calls().head.errors, 1);
});
