// --s3-events-queue against fauxqs's SQS: another writer (the SDK here, not a mount) changes
// objects a mount has listed and cached for an hour, sends the S3 event notification S3 would
// send, and the mount shows the change without waiting for its TTL. Malformed and foreign
// messages are counted and deleted, a queue that vanishes is retried with one log line, and
// an idle consumer does not hold up the unmount.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import test, { type ExecutionContext } from 'ava';
import { type S3Endpoint, seedClient, startS3Endpoint, testPrefix } from '../../scripts/local-s3.js';
import type { EventConsumerStats } from '../../src/events/event-consumer.js';
import { CLI, endpointArgs, endpointEnv, isMounted, type Mount, mountBucket, mountStats, run } from '../support/mount.js';
import { eventBridgeEvent, rawEvent, s3EventRecord, snsWrapped, testEvent } from '../support/s3-events.js';
import { createQueue, deleteQueue, queueDepth, sendMessage, sqsClient } from '../support/sqs.js';

let endpoint: S3Endpoint;
let s3: S3Client;
let sqs: SQSClient;
let prefix: string;

test.before(async () => {
  endpoint = await startS3Endpoint();
  s3 = seedClient(endpoint);
  sqs = sqsClient(endpoint);
  prefix = testPrefix(endpoint);
});

test.after.always(async () => {
  sqs?.destroy();
  s3?.destroy();
  await endpoint?.stop();
});

// Kernel attributes last --kernel-cache-ttl (1 s by default); its timeouts count in jiffies.
const KERNEL_TTL_MS = 1_050;
// What the mount caches must outlive the test: without events it would show the old state.
const LONG_TTLS = ['--metadata-ttl', '3600', '--negative-metadata-ttl', '3600'];

async function put(key: string, body: string): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: endpoint.bucket, Key: prefix + key, Body: body, ContentLength: Buffer.byteLength(body) }));
}

async function remove(key: string): Promise<void> {
  await s3.send(new DeleteObjectCommand({ Bucket: endpoint.bucket, Key: prefix + key }));
}

async function mountWithQueue(t: ExecutionContext, directory: string, queueUrl: string): Promise<Mount> {
  const mount = await mountBucket(endpoint, { target: `${endpoint.bucket}:${prefix}${directory}`, args: ['--s3-events-queue', queueUrl, ...LONG_TTLS] });
  t.teardown(() => mount.stop());
  return mount;
}

/** stdout of a command that must succeed. */
async function must(command: string, ...args: string[]): Promise<string> {
  const result = await run(command, args);
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

const sizeOf = async (path: string) => Number((await must('stat', '-c', '%s', path)).trim());
const names = async (directory: string) => (await must('ls', '-1A', directory)).split('\n').filter(Boolean);
const exists = async (path: string) => (await run('stat', [path])).code === 0;

/** Polls the mount's consumer statistics until `ready` holds (fails after 30 s with what it saw). */
async function eventsWhen(mount: Mount, ready: (events: EventConsumerStats) => boolean): Promise<EventConsumerStats> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { events } = await mountStats(mount.mountpoint);
    if (!events) throw new Error('the mount reports no events consumer');
    if (ready(events)) return events;
    if (Date.now() > deadline) throw new Error(`the consumer never got there: ${JSON.stringify(events)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Waits until the queue holds nothing, received or not: every message was deleted. */
async function queueDrained(url: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while ((await queueDepth(sqs, url)) > 0) {
    if (Date.now() > deadline) throw new Error(`messages left in ${url}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Lists the directory and stats and reads each file, so the mount holds all of it. */
async function cacheEverything(mount: Mount, files: string[], absent: string[]): Promise<void> {
  await must('ls', '-lA', mount.mountpoint);
  for (const file of files) await must('cat', join(mount.mountpoint, file));
  for (const file of absent) await run('stat', [join(mount.mountpoint, file)]);
}

test('raw S3 events: a replaced, a deleted and a new object show at once, with no wait for the TTL', async (t) => {
  const queue = await createQueue(sqs);
  await put('raw/a.txt', 'version 1\n');
  await put('raw/b.txt', 'delete me\n');
  const mount = await mountWithQueue(t, 'raw', queue);
  const at = (name: string) => join(mount.mountpoint, name);
  await cacheEverything(mount, ['a.txt', 'b.txt'], ['c d+é.txt']);

  await put('raw/a.txt', 'version 2, longer\n');
  await remove('raw/b.txt');
  await put('raw/c d+é.txt', 'new\n');
  // Without an event the mount keeps showing what it cached (for an hour here).
  await new Promise((resolve) => setTimeout(resolve, KERNEL_TTL_MS));
  t.is(await sizeOf(at('a.txt')), 10);
  t.deepEqual(await names(mount.mountpoint), ['a.txt', 'b.txt']);

  const bucket = endpoint.bucket;
  await sendMessage(sqs, queue, rawEvent(s3EventRecord('ObjectCreated:Put', bucket, `${prefix}raw/a.txt`, 18)));
  await sendMessage(
    sqs,
    queue,
    rawEvent(s3EventRecord('ObjectRemoved:Delete', bucket, `${prefix}raw/b.txt`), s3EventRecord('ObjectCreated:Put', bucket, `${prefix}raw/c d+é.txt`, 4)),
  );
  const events = await eventsWhen(mount, (e) => e.received >= 2);
  t.like(events, { received: 2, applied: 2, foreign: 0, malformed: 0, keys: 3, errors: 0, connected: true });
  await queueDrained(queue);
  await new Promise((resolve) => setTimeout(resolve, KERNEL_TTL_MS));

  t.is(await sizeOf(at('a.txt')), 18);
  t.is(await must('cat', at('a.txt')), 'version 2, longer\n');
  t.false(await exists(at('b.txt')));
  t.is(await must('cat', at('c d+é.txt')), 'new\n');
  t.deepEqual(await names(mount.mountpoint), ['a.txt', 'c d+é.txt']);
});

test("directories another writer makes appear or vanish show in their parents' listings", async (t) => {
  const queue = await createQueue(sqs);
  await put('nested/top/keep.txt', 'keep\n');
  await put('nested/old/keep.txt', 'keep\n');
  await put('nested/old/only/y.txt', 'y\n');
  const mount = await mountWithQueue(t, 'nested', queue);
  const at = (path: string) => join(mount.mountpoint, path);
  t.deepEqual(await names(at('top')), ['keep.txt']);
  t.deepEqual(await names(at('old')), ['keep.txt', 'only']);
  t.deepEqual(await names(at('old/only')), ['y.txt']);
  t.false(await exists(at('top/new')));

  // S3 has no directories: one key makes two appear, deleting one makes one vanish.
  await put('nested/top/new/deep/x.txt', 'x\n');
  await remove('nested/old/only/y.txt');
  const bucket = endpoint.bucket;
  await sendMessage(sqs, queue, rawEvent(s3EventRecord('ObjectCreated:Put', bucket, `${prefix}nested/top/new/deep/x.txt`)));
  await sendMessage(sqs, queue, rawEvent(s3EventRecord('ObjectRemoved:Delete', bucket, `${prefix}nested/old/only/y.txt`)));
  t.like(await eventsWhen(mount, (e) => e.received >= 2), { applied: 2, keys: 7 });
  await queueDrained(queue);
  await new Promise((resolve) => setTimeout(resolve, KERNEL_TTL_MS));

  t.deepEqual(await names(at('top')), ['keep.txt', 'new']);
  t.is(await must('cat', at('top/new/deep/x.txt')), 'x\n');
  t.deepEqual(await names(at('old')), ['keep.txt']);
  t.false(await exists(at('old/only')));
});

test('SNS-wrapped and EventBridge events are applied as raw ones', async (t) => {
  const queue = await createQueue(sqs);
  await put('wrapped/sns.txt', 'v1\n');
  await put('wrapped/bridge.txt', 'v1\n');
  await put('wrapped/gone.txt', 'v1\n');
  const mount = await mountWithQueue(t, 'wrapped', queue);
  const at = (name: string) => join(mount.mountpoint, name);
  await cacheEverything(mount, ['sns.txt', 'bridge.txt', 'gone.txt'], ['new a+b.txt']);

  await put('wrapped/sns.txt', 'version 2 via SNS\n');
  await put('wrapped/bridge.txt', 'version 2 via EventBridge\n');
  await remove('wrapped/gone.txt');
  await put('wrapped/new a+b.txt', 'new\n');
  const bucket = endpoint.bucket;
  await sendMessage(sqs, queue, snsWrapped(rawEvent(s3EventRecord('ObjectCreated:Put', bucket, `${prefix}wrapped/sns.txt`))));
  await sendMessage(sqs, queue, snsWrapped(testEvent(bucket)));
  await sendMessage(sqs, queue, eventBridgeEvent('Object Created', bucket, `${prefix}wrapped/bridge.txt`));
  await sendMessage(sqs, queue, eventBridgeEvent('Object Deleted', bucket, `${prefix}wrapped/gone.txt`));
  // EventBridge keys are not URL-encoded: '+' is a plus.
  await sendMessage(sqs, queue, eventBridgeEvent('Object Created', bucket, `${prefix}wrapped/new a+b.txt`));
  t.like(await eventsWhen(mount, (e) => e.received >= 5), { received: 5, applied: 4, foreign: 1, malformed: 0 });
  await queueDrained(queue);
  await new Promise((resolve) => setTimeout(resolve, KERNEL_TTL_MS));

  t.is(await sizeOf(at('sns.txt')), 18);
  t.is(await sizeOf(at('bridge.txt')), 26);
  t.false(await exists(at('gone.txt')));
  t.deepEqual(await names(mount.mountpoint), ['bridge.txt', 'new a+b.txt', 'sns.txt']);
});

test('foreign and malformed messages are counted and deleted; they change nothing and the mount goes on', async (t) => {
  const queue = await createQueue(sqs);
  await put('foreign/a.txt', 'version 1\n');
  const mount = await mountWithQueue(t, 'foreign', queue);
  const file = join(mount.mountpoint, 'a.txt');
  await cacheEverything(mount, ['a.txt'], []);
  await put('foreign/a.txt', 'version 2, longer\n');

  const bucket = endpoint.bucket;
  const foreign = [
    rawEvent(s3EventRecord('ObjectCreated:Put', 'another-bucket', `${prefix}foreign/a.txt`)),
    rawEvent(s3EventRecord('ObjectCreated:Put', bucket, `${prefix}elsewhere/a.txt`)),
    rawEvent(s3EventRecord('ObjectTagging:Put', bucket, `${prefix}foreign/a.txt`)),
    testEvent(bucket),
  ];
  const malformed = [
    'not JSON at all',
    '{"Records": [{"eventName": "ObjectCreated:Put"}]}',
    '{"Records": [1, "junk", null, {"s3": {}}]}',
    '{"Records": []}',
    JSON.stringify({ Type: 'Notification', TopicArn: 'arn:aws:sns:us-east-1:1:t', Message: '{"Records": ' }),
    '{"detail-type": "Object Created", "source": "aws.s3", "detail": {"bucket": {}}}',
  ];
  for (const body of [...foreign, ...malformed]) await sendMessage(sqs, queue, body);
  const events = await eventsWhen(mount, (e) => e.received >= foreign.length + malformed.length);
  t.like(events, { received: 10, applied: 0, foreign: 4, malformed: 6, keys: 0, errors: 0, connected: true });
  await queueDrained(queue);
  const table = await must(process.execPath, CLI, 'cache', 'stats', mount.mountpoint);
  t.regex(table, /^s3 events +http\S+ \(connected, last receive 20\d\d-/m);
  t.regex(table, /messages 10: applied 0, foreign 4, malformed 6; keys forgotten 0, errors 0, outages 0$/m);
  t.regex(mount.logs(), /not an S3 event notification was dropped/);
  t.is(mount.child.exitCode, null, 'the mount is still serving');

  // Nothing was forgotten: the cached size stays (for an hour), and the mount still answers.
  await new Promise((resolve) => setTimeout(resolve, KERNEL_TTL_MS));
  t.is(await sizeOf(file), 10);
  await sendMessage(sqs, queue, rawEvent(s3EventRecord('ObjectCreated:Put', bucket, `${prefix}foreign/a.txt`)));
  t.like(await eventsWhen(mount, (e) => e.received >= 11), { applied: 1 });
  await new Promise((resolve) => setTimeout(resolve, KERNEL_TTL_MS));
  t.is(await sizeOf(file), 18);
});

test('a queue that vanishes is retried with one log line; when it is back, what was cached is dropped', async (t) => {
  const name = `s3mount-vanishing-${Date.now()}`;
  const queue = await createQueue(sqs, name);
  await put('vanish/a.txt', 'version 1\n');
  const mount = await mountWithQueue(t, 'vanish', queue);
  const file = join(mount.mountpoint, 'a.txt');
  await cacheEverything(mount, ['a.txt'], []);
  await sendMessage(sqs, queue, testEvent(endpoint.bucket));
  await eventsWhen(mount, (e) => e.received >= 1);

  await deleteQueue(sqs, queue);
  const during = await eventsWhen(mount, (e) => e.errors >= 3);
  t.like(during, { connected: false, outages: 1 });
  const unavailable = (mount.logs().match(/s3 events queue unavailable/g) ?? []).length;
  t.is(unavailable, 1, `one line for ${during.errors} failed receives`);
  t.is(await sizeOf(file), 10, 'the mount goes on meanwhile');

  // Changed while the queue was gone: S3 could not have told anyone.
  await put('vanish/a.txt', 'version 2, longer\n');
  t.is(await createQueue(sqs, name), queue);
  const back = await eventsWhen(mount, (e) => e.connected);
  t.like(back, { outages: 1 });
  t.regex(mount.logs(), /answers again; events may have been lost meanwhile/);
  t.is((mount.logs().match(/s3 events queue unavailable/g) ?? []).length, 1);
  await new Promise((resolve) => setTimeout(resolve, KERNEL_TTL_MS));
  t.is(await sizeOf(file), 18);
});

test('unmount with the consumer waiting in a long poll is prompt', async (t) => {
  const queue = await createQueue(sqs);
  const mount = await mountBucket(endpoint, { args: ['--s3-events-queue', queue] });
  t.teardown(() => mount.stop());
  // A receive that answered means the next one is waiting, for up to 20 s.
  await sendMessage(sqs, queue, testEvent(endpoint.bucket));
  await eventsWhen(mount, (e) => e.received >= 1);
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const started = performance.now();
  await mount.stop();
  const seconds = (performance.now() - started) / 1000;
  t.log(`unmount and exit took ${seconds.toFixed(2)} s with a long poll pending`);
  // Waiting the poll out would take 18-19 s more (the mount helper kills at 15 s).
  t.true(seconds < 10, `${seconds} s`);
  t.is(mount.child.exitCode, 0);
});

test('a queue that does not exist at mount time fails the mount with one line, in the foreground and the background', async (t) => {
  const queue = await createQueue(sqs);
  await deleteQueue(sqs, queue);
  const mountpoint = await mkdtemp(join(tmpdir(), 's3mount-it-'));
  t.teardown(() => rm(mountpoint, { recursive: true, force: true }));
  for (const mode of [['-f'], ['--log-file', join(mountpoint, '..', `${basename(mountpoint)}.log`)]]) {
    const result = await run(process.execPath, [CLI, endpoint.bucket, mountpoint, ...endpointArgs(endpoint), '--s3-events-queue', queue, ...mode], {
      env: endpointEnv(endpoint),
    });
    t.is(result.code, 1, mode[0]);
    t.regex(result.stderr, /^s3mount: --s3-events-queue: queue \S+ does not exist \(QueueDoesNotExist, HTTP 400\)\n$/, mode[0]);
    t.false(await isMounted(mountpoint));
  }
});
