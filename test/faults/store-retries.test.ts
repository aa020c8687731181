// One retry policy for both read paths of the SDK store: the lean client (custom path-style
// endpoints) and the SDK (as on AWS; forced here with `lean: false`); single-request PUTs take
// the lean path too. fauxqs behind the fault
// proxy; every request the store sends is in the proxy's log, and every retry in the store's
// debug log ('s3 read retried').

import { PutObjectCommand } from '@aws-sdk/client-s3';
import test from 'ava';
import pino from 'pino';
import { type S3Endpoint, seedClient, startS3Endpoint, testPrefix } from '../../scripts/local-s3.js';
import { isStoreError, type ObjectStore } from '../../src/s3/object-store.js';
import { createSdkStore, type SdkStore } from '../../src/s3/sdk-store.js';
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.js';
import { patternBytes } from '../support/pattern.js';

const SIZE = 300_000;
const body = patternBytes(SIZE, 7);
let endpoint: S3Endpoint;
let proxy: FaultProxy;
let prefix: string;
const stores: SdkStore[] = [];

test.before(async () => {
  endpoint = await startS3Endpoint();
  prefix = testPrefix(endpoint);
  process.env.AWS_ACCESS_KEY_ID = endpoint.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = endpoint.secretAccessKey;
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_SESSION_TOKEN;
  const client = seedClient(endpoint);
  await client.send(new PutObjectCommand({ Bucket: endpoint.bucket, Key: `${prefix}object.bin`, Body: body, ContentLength: SIZE }));
  client.destroy();
  proxy = await startFaultProxy(endpoint.endpoint);
});

test.afterEach.always(() => proxy.clear());

test.after.always(async () => {
  for (const store of stores) store.close();
  await proxy?.stop();
  await endpoint?.stop();
});

interface Probe {
  store: ObjectStore;
  /** Retries the store logged since it was made. */
  retries(): Array<{ operation: string; attempt: number; errorType: string }>;
}

function probe(lean: boolean): Probe {
  const lines: Array<{ msg: string; operation: string; attempt: number; errorType: string }> = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  const store = createSdkStore({ bucket: endpoint.bucket, endpoint: proxy.url, region: endpoint.region, forcePathStyle: true, maxAttempts: 3, lean }, log);
  stores.push(store);
  return { store, retries: () => lines.filter((l) => l.msg === 's3 read retried') };
}

/** Requests of `operation` the proxy saw since record `from`. */
const seen = (from: number, operation: string) =>
  proxy
    .log()
    .slice(from)
    .filter((r) => r.operation === operation);

for (const [path, lean] of [
  ['lean', true],
  ['sdk', false],
] as const) {
  test.serial(`${path}: a body cut mid-transfer is retried inside the call: the bytes are right`, async (t) => {
    const { store, retries } = probe(lean);
    const from = proxy.log().length;
    proxy.queue('read', { kind: 'cut' });
    const bytes = await store.getRange(`${prefix}object.bin`, 0, SIZE);
    t.true(bytes.equals(body));
    t.deepEqual(
      seen(from, 'read').map((r) => r.fault ?? 'none'),
      ['cut', 'none'],
    );
    t.like(retries(), [{ operation: 'getRange', attempt: 1, errorType: 'TRANSIENT' }]);
  });

  test.serial(`${path}: resets, 503 SlowDown, 500 and 502 before an answer are retried for GET, LIST and HEAD`, async (t) => {
    const { store, retries } = probe(lean);
    const from = proxy.log().length;
    proxy.queue('read', { kind: 'reset' }, { kind: 'status', status: 503, code: 'SlowDown' });
    proxy.queue('list', { kind: 'status', status: 500, code: 'InternalError' });
    // (A reset on a kept-alive socket before any answer is sent again at once by the HTTP
    // client, without an attempt: a status makes the HEAD's retry the policy's.)
    proxy.queue('head', { kind: 'status', status: 502, code: 'BadGateway' });
    t.true((await store.getRange(`${prefix}object.bin`, 1000, 5000)).equals(body.subarray(1000, 5000)));
    t.deepEqual(
      (await store.list(prefix)).objects.map((o) => o.key),
      [`${prefix}object.bin`],
    );
    t.is((await store.head(`${prefix}object.bin`)).size, SIZE);
    t.is(seen(from, 'read').length, 3);
    t.is(seen(from, 'list').length, 2);
    t.is(seen(from, 'head').length, 2);
    t.deepEqual(
      retries().map((r) => [r.operation, r.attempt, r.errorType]),
      [
        ['getRange', 1, 'TRANSIENT'],
        ['getRange', 2, 'THROTTLING'],
        ['list', 1, 'TRANSIENT'],
        ['head', 1, 'TRANSIENT'],
      ],
    );
  });

  test.serial(`${path}: a persistent fault takes exactly maxAttempts attempts; a 404 or 412 takes one`, async (t) => {
    const { store, retries } = probe(lean);
    let from = proxy.log().length;
    proxy.inject('read', { kind: 'cut' });
    const cut = await t.throwsAsync(store.getRange(`${prefix}object.bin`, 0, SIZE));
    t.true(isStoreError(cut, 'Network'), String(cut));
    t.is(seen(from, 'read').length, 3);
    proxy.clear();
    from = proxy.log().length;
    const missing = await t.throwsAsync(store.getRange(`${prefix}missing.bin`, 0, 10));
    t.true(isStoreError(missing, 'NotFound'), String(missing));
    const stale = await t.throwsAsync(store.getRange(`${prefix}object.bin`, 0, 10, { ifMatch: '"not-the-etag"' }));
    t.true(isStoreError(stale, 'PreconditionFailed'), String(stale));
    t.is(seen(from, 'read').length, 2, 'one GET each');
    t.is(retries().length, 2, 'only the cut bodies were retried');
  });

  test.serial(`${path}: a header that cannot be sent (CR/LF in an ETag) is a programming error: never sent, never retried`, async (t) => {
    const { store, retries } = probe(lean);
    const from = proxy.log().length;
    const error = await t.throwsAsync(store.getRange(`${prefix}object.bin`, 0, 10, { ifMatch: '"abc"\r\nx-injected: 1' }));
    t.true(isStoreError(error, 'Other'), String(error));
    t.is(seen(from, 'read').length, 0);
    t.is(retries().length, 0);
  });
}

test.serial('lean: a single-request PUT is a plain signed request, retried by the same policy; without lean it goes through the SDK', async (t) => {
  const { store, retries } = probe(true);
  const small = patternBytes(5000, 3);
  const from = proxy.log().length;
  proxy.queue('write', { kind: 'status', status: 503, code: 'SlowDown' }, { kind: 'status', status: 500, code: 'InternalError' });
  const { etag } = await store.put(`${prefix}put.bin`, small, { metadata: { mode: '33188' }, contentType: 'application/x-test' });
  const writes = seen(from, 'write');
  t.is(writes.length, 3);
  t.false(
    writes.some((r) => 'x-id' in r.query),
    'plain requests (the SDK adds ?x-id=PutObject)',
  );
  t.deepEqual(
    retries().map((r) => [r.operation, r.attempt, r.errorType]),
    [
      ['put', 1, 'THROTTLING'],
      ['put', 2, 'TRANSIENT'],
    ],
  );
  t.true((await store.getRange(`${prefix}put.bin`, 0, small.length)).equals(small));
  const head = await store.head(`${prefix}put.bin`);
  t.like(head, { etag, size: small.length, metadata: { mode: '33188' }, contentType: 'application/x-test' });

  proxy.inject('write', { kind: 'status', status: 500, code: 'InternalError' });
  const before = proxy.log().length;
  const failed = await t.throwsAsync(store.put(`${prefix}never.bin`, small));
  t.true(isStoreError(failed), String(failed));
  t.is(seen(before, 'write').length, 3, 'a persistent fault takes exactly maxAttempts attempts');
  proxy.clear();

  const sdk = probe(false);
  const sdkFrom = proxy.log().length;
  await sdk.store.put(`${prefix}sdk-put.bin`, small);
  t.deepEqual(
    seen(sdkFrom, 'write').map((r) => r.query['x-id']),
    ['PutObject'],
    'the SDK path sends PutObject',
  );
});
