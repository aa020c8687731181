// The in-memory store's own helpers (clock, seeding) and what the contract suite cannot show
// against fauxqs (byte order of astral keys, opaque tokens). Failures, latency and the hook are
// the faulty store's (test/unit/faulty-store.test.ts), counting the counting store's.
import test from 'ava';
import { compareKeys, MemoryStore, s3Etag } from '../../src/s3/memory-store.js';
import { isStoreError } from '../../src/s3/object-store.js';

async function kindOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'none';
  } catch (error) {
    return isStoreError(error) ? error.kind : `not a StoreError: ${String(error)}`;
  }
}

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
  t.deepEqual(
    first.objects.map((o) => o.key),
    ['p/a', 'p/b'],
  );
  t.truthy(first.nextContinuationToken);
  t.false(first.nextContinuationToken!.includes('p/b'), 'not the key in clear');
  // Keys added behind the cursor are not listed again; keys ahead are.
  store.putObject('p/aa', 'x');
  store.putObject('p/bb', 'x');
  const second = await store.list('p/', { maxKeys: 2, continuationToken: first.nextContinuationToken });
  t.deepEqual(
    second.objects.map((o) => o.key),
    ['p/bb', 'p/c'],
  );
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

test('an aborted call fails without looking at the object', async (t) => {
  const store = new MemoryStore();
  store.putObject('k', 'v');
  const controller = new AbortController();
  controller.abort();
  t.is(await kindOf(store.getRange('k', 0, 1, { signal: controller.signal })), 'Network');
});
