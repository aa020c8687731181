// The S3 events consumer over a scripted queue: what it forgets, what it counts and deletes,
// how it backs off and logs outages, and that stop() ends a pending poll at once.
import { Writable } from 'node:stream';
import test from 'ava';
import { pino } from 'pino';
import { EventConsumer } from '../../src/events/event-consumer.js';
import { type EventQueue, QueueError, type QueueMessage } from '../../src/sqs/event-queue.js';
import { rawEvent, s3EventRecord, snsWrapped, testEvent } from '../support/s3-events.js';

type Answer = QueueMessage[] | QueueError;

/** A queue whose receives answer from a script, then wait (a long poll) until aborted. */
class ScriptedQueue implements EventQueue {
  readonly url = 'https://sqs.us-east-1.amazonaws.com/123456789012/events';
  readonly endpoint = 'https://sqs.us-east-1.amazonaws.com';
  readonly deleted: string[] = [];
  receives = 0;
  deleteAnswer: () => Promise<number> = async () => 0;
  private waiting?: () => void;

  constructor(private readonly script: Answer[]) {}

  async attributes() {
    return {};
  }

  async receive(signal: AbortSignal): Promise<QueueMessage[]> {
    this.receives++;
    const answer = this.script.shift();
    if (answer instanceof QueueError) throw answer;
    if (answer) return answer;
    this.waiting?.();
    return new Promise((_resolve, reject) =>
      signal.addEventListener('abort', () => reject(new QueueError('aborted', 'aborted', 'AbortError')), { once: true }),
    );
  }

  async delete(receiptHandles: string[]): Promise<number> {
    this.deleted.push(...receiptHandles);
    return this.deleteAnswer();
  }

  close() {}

  /** Resolves once the script is used up and a receive waits. */
  idle(): Promise<void> {
    return new Promise((resolve) => (this.waiting = resolve));
  }
}

let ids = 0;
function message(body: string): QueueMessage {
  ids++;
  return { id: `m${ids}`, body, receiptHandle: `r${ids}` };
}

function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      callback();
    },
  });
  return { log: pino({ level: 'info' }, sink), lines };
}

function consumerOver(script: Answer[], options: { retentionSeconds?: number } = {}) {
  const queue = new ScriptedQueue(script);
  const forgotten: string[] = [];
  let everything = 0;
  const { log, lines } = capturingLogger();
  const consumer = new EventConsumer(queue, { changed: (key) => forgotten.push(key), everythingMayHaveChanged: () => everything++ }, log, {
    scope: { bucket: 'b', prefix: 'root/' },
    backoff: { initialMs: 1, maxMs: 4 },
    ...options,
  });
  return { queue, consumer, forgotten, everything: () => everything, lines };
}

const missing = () => new QueueError('missing', 'queue does not exist', 'QueueDoesNotExist');
const down = () => new QueueError('network', 'cannot reach SQS', 'ECONNREFUSED');

test('events for the mount are forgotten; every message is deleted, malformed and foreign ones too', async (t) => {
  const batch = [
    message(rawEvent(s3EventRecord('ObjectCreated:Put', 'b', 'root/dir/a b.txt'))),
    message(snsWrapped(rawEvent(s3EventRecord('ObjectRemoved:Delete', 'b', 'root/gone')))),
    message(rawEvent(s3EventRecord('ObjectCreated:Put', 'other-bucket', 'root/x'))),
    message(testEvent('b')),
    message('not json'),
    message('{"Records": [1, 2]}'),
  ];
  const { queue, consumer, forgotten, lines } = consumerOver([batch]);
  const idle = queue.idle();
  consumer.start();
  await idle;
  await consumer.stop();
  t.deepEqual(forgotten, ['root/dir/a b.txt', 'root/dir', 'root/gone']);
  t.deepEqual(
    queue.deleted,
    batch.map((m) => m.receiptHandle),
  );
  t.like(consumer.stats(), { received: 6, applied: 2, foreign: 2, malformed: 2, keys: 3, errors: 0, outages: 0, connected: true });
  t.truthy(consumer.stats().lastReceiveAt);
  const warnings = lines.filter((line) => line.level === 40);
  t.is(warnings.length, 1, 'one line for malformed messages within a minute');
  t.regex(String(warnings[0].msg), /not an S3 event notification/);
});

test('an outage is logged once, however many retries; the return once more', async (t) => {
  const { queue, consumer, lines, everything } = consumerOver([down(), down(), down(), down(), []]);
  const idle = queue.idle();
  consumer.start();
  await idle;
  await consumer.stop();
  t.like(consumer.stats(), { errors: 4, outages: 1, connected: true });
  t.is(queue.receives, 6);
  const warnings = lines.filter((line) => line.level === 40).map((line) => String(line.msg));
  t.is(warnings.length, 2);
  t.regex(warnings[0], /unavailable/);
  t.regex(warnings[1], /answers again; events sent meanwhile waited/);
  t.is(everything(), 0, 'messages wait in the queue while it cannot be reached: nothing is lost');
});

test('a queue that was gone may have lost events: everything under the mount is forgotten when it is back', async (t) => {
  const { queue, consumer, lines, everything } = consumerOver([missing(), down(), [], missing(), []]);
  const idle = queue.idle();
  consumer.start();
  await idle;
  await consumer.stop();
  t.like(consumer.stats(), { errors: 3, outages: 2, connected: true });
  t.is(everything(), 2);
  t.is(lines.filter((line) => /answers again; events may have been lost/.test(String(line.msg))).length, 2);
});

test('an outage as long as the queue keeps messages may have lost events too', async (t) => {
  const { queue, consumer, everything } = consumerOver([down(), []], { retentionSeconds: 0.001 });
  const idle = queue.idle();
  consumer.start();
  await idle;
  await consumer.stop();
  t.is(everything(), 1);
});

test('the state shows while the queue is unavailable', async (t) => {
  const { queue, consumer } = consumerOver([down()]);
  let during: ReturnType<EventConsumer['stats']> | undefined;
  queue.receive = async () => {
    queue.receives++;
    if (queue.receives === 1) throw down();
    during ??= consumer.stats();
    throw down();
  };
  consumer.start();
  while (during === undefined) await new Promise((resolve) => setTimeout(resolve, 1));
  await consumer.stop();
  t.like(during, { connected: false, outages: 1 });
});

test('deletes SQS refuses are counted and logged once; the mount goes on', async (t) => {
  const batches = [
    [message(rawEvent(s3EventRecord('ObjectCreated:Put', 'b', 'root/a')))],
    [message(rawEvent(s3EventRecord('ObjectCreated:Put', 'b', 'root/b')))],
  ];
  const { queue, consumer, forgotten, lines } = consumerOver(batches);
  queue.deleteAnswer = async () => {
    throw new QueueError('denied', 'access denied', 'AccessDenied');
  };
  const idle = queue.idle();
  consumer.start();
  await idle;
  await consumer.stop();
  t.deepEqual(forgotten, ['root/a', 'root/b']);
  t.like(consumer.stats(), { applied: 2, errors: 2 });
  t.is(lines.filter((line) => /not deleted/.test(String(line.msg))).length, 1);
});

test('stop ends a pending long poll at once', async (t) => {
  const { queue, consumer } = consumerOver([]);
  const idle = queue.idle();
  consumer.start();
  await idle;
  // The scripted poll only ends when aborted: stop() returning proves the abort reached it.
  await consumer.stop();
  t.is(queue.receives, 1);
  t.like(consumer.stats(), { errors: 0, outages: 0 });
});
