// --s3-events-queue on the command line, where its SQS client sends requests, and how SQS
// errors read.
import test from 'ava';
import { parseMountArguments, UsageError } from '../../src/cli/options.js';
import { toQueueError } from '../../src/sqs/event-queue.js';
import { awsQueueRegion, queueEndpoint } from '../../src/sqs/queue-endpoint.js';

const AWS_QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/s3-events';
const FAUXQS_QUEUE = 'http://sqs.us-east-1.localhost:4566/000000000000/s3-events';

test('--s3-events-queue, its variable and -o s3_events_queue= give the queue; off by default', (t) => {
  t.is(parseMountArguments(['b-1', '/m'], {}).s3EventsQueue, undefined);
  t.is(parseMountArguments(['b-1', '/m', '--s3-events-queue', AWS_QUEUE], {}).s3EventsQueue, AWS_QUEUE);
  t.is(parseMountArguments(['b-1', '/m', `--s3-events-queue=${AWS_QUEUE}`], {}).s3EventsQueue, AWS_QUEUE);
  t.is(parseMountArguments(['b-1', '/m'], { S3MOUNT_S3_EVENTS_QUEUE: AWS_QUEUE }).s3EventsQueue, AWS_QUEUE);
  t.is(parseMountArguments(['b-1', '/m', '-o', `ro,s3_events_queue=${FAUXQS_QUEUE}`], {}).s3EventsQueue, FAUXQS_QUEUE);
  t.is(
    parseMountArguments(['b-1', '/m', '--s3-events-queue', FAUXQS_QUEUE], { S3MOUNT_S3_EVENTS_QUEUE: AWS_QUEUE }).s3EventsQueue,
    FAUXQS_QUEUE,
    'the flag wins',
  );
});

test('a queue URL that cannot be one is a usage error, before anything is contacted', (t) => {
  for (const bad of ['s3-events', 'sqs://x/y', 'https://sqs.eu-west-1.amazonaws.com', 'https://sqs.eu-west-1.amazonaws.com/', 'https://user:secret@host/1/q']) {
    t.throws(
      () => parseMountArguments(['b-1', '/m', '--s3-events-queue', bad], {}),
      { instanceOf: UsageError, message: /^--s3-events-queue must be an SQS queue URL/ },
      bad,
    );
  }
});

test('a queue on AWS is reached at its own host, in its region, whatever the S3 endpoint', (t) => {
  t.deepEqual(queueEndpoint(AWS_QUEUE, undefined, {}), { endpoint: 'https://sqs.eu-west-1.amazonaws.com', region: 'eu-west-1' });
  t.deepEqual(queueEndpoint(AWS_QUEUE, 'http://minio.lan:9000', {}), { endpoint: 'https://sqs.eu-west-1.amazonaws.com', region: 'eu-west-1' });
  t.is(awsQueueRegion(new URL('https://sqs-fips.us-gov-west-1.amazonaws.com/1/q')), 'us-gov-west-1');
  t.is(awsQueueRegion(new URL('https://sqs.cn-north-1.amazonaws.com.cn/1/q')), 'cn-north-1');
  t.is(awsQueueRegion(new URL('https://ap-south-1.queue.amazonaws.com/1/q')), 'ap-south-1');
  t.is(awsQueueRegion(new URL('https://queue.amazonaws.com/1/q')), 'us-east-1');
  t.is(awsQueueRegion(new URL('https://sqs.us-east-1.api.aws/1/q')), 'us-east-1');
  t.is(awsQueueRegion(new URL(FAUXQS_QUEUE)), undefined);
});

test('another queue goes to the custom S3 endpoint (one port for S3 and SQS), else to its own host', (t) => {
  t.deepEqual(queueEndpoint(FAUXQS_QUEUE, 'http://127.0.0.1:35000', {}), { endpoint: 'http://127.0.0.1:35000' });
  t.deepEqual(queueEndpoint('http://elasticmq.lan:9324/queue/events', undefined, {}), { endpoint: 'http://elasticmq.lan:9324' });
});

test('AWS_ENDPOINT_URL_SQS wins, unless configured endpoints are ignored', (t) => {
  const env = { AWS_ENDPOINT_URL_SQS: 'http://sqs.lan:9324' };
  t.deepEqual(queueEndpoint(FAUXQS_QUEUE, 'http://127.0.0.1:35000', env), { endpoint: 'http://sqs.lan:9324' });
  t.deepEqual(queueEndpoint(AWS_QUEUE, undefined, env), { endpoint: 'http://sqs.lan:9324', region: 'eu-west-1' });
  t.deepEqual(queueEndpoint(FAUXQS_QUEUE, 'http://127.0.0.1:35000', { ...env, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' }), {
    endpoint: 'http://127.0.0.1:35000',
  });
});

test('SQS errors become one line of a known kind', (t) => {
  const sdkError = (name: string, status?: number, extra: Record<string, unknown> = {}) =>
    Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode: status }, ...extra });
  const kind = (error: unknown, aborted = false) => toQueueError(error, AWS_QUEUE, 'https://sqs.eu-west-1.amazonaws.com', aborted);
  t.like(kind(sdkError('QueueDoesNotExist', 400, { Code: 'AWS.SimpleQueueService.NonExistentQueue' })), {
    kind: 'missing',
    message: `queue ${AWS_QUEUE} does not exist (QueueDoesNotExist, HTTP 400)`,
  });
  t.like(kind(sdkError('AWS.SimpleQueueService.NonExistentQueue', 400)), { kind: 'missing' });
  t.like(kind(sdkError('AccessDenied', 403)), { kind: 'denied' });
  t.regex(kind(sdkError('AccessDenied', 403)).message, /sqs:GetQueueAttributes, sqs:ReceiveMessage, sqs:DeleteMessage/);
  t.like(kind(sdkError('InvalidClientTokenId', 403)), { kind: 'denied' });
  t.like(kind(sdkError('RequestThrottled', 400)), { kind: 'throttled' });
  t.like(kind(sdkError('InternalError', 500)), { kind: 'other' });
  t.like(kind(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })), {
    kind: 'network',
    message: `cannot reach SQS at https://sqs.eu-west-1.amazonaws.com for queue ${AWS_QUEUE}: connect ECONNREFUSED 127.0.0.1:1`,
  });
  t.like(kind(sdkError('AbortError'), true), { kind: 'aborted' });
  for (const error of [kind(sdkError('AccessDenied', 403)), kind(sdkError('X', 500))]) t.false(error.message.includes('\n'));
});
