// The store's one retry policy: the SDK's StandardRetryStrategy (attempts, quota of retry
// tokens) driving attempts whose errors are classified as the store classifies them.

import { StandardRetryStrategy } from '@smithy/core/retry';
import test from 'ava';
import { StoreError } from '../../src/s3/object-store.js';
import { cappedBackoff, createRetryPolicy, retryErrorType } from '../../src/s3/retry-policy.js';
import { toStoreError } from '../../src/s3/sdk-store.js';

const classify = (error: unknown) => toStoreError(error, { operation: 'getRange', bucket: 'b', key: 'k', deadlineMs: 1000 });
const noBackoff = { computeNextBackoffDelay: () => 0, setDelayBase: () => undefined };
const policy = (maxAttempts = 3) => createRetryPolicy(maxAttempts, classify, new StandardRetryStrategy({ maxAttempts, backoff: noBackoff }));

/** How many times `error` is attempted before the policy gives up. */
async function attemptsFor(error: unknown, maxAttempts = 3): Promise<number> {
  let attempts = 0;
  await policy(maxAttempts)
    .run(async () => {
      attempts++;
      throw error;
    }, new AbortController().signal)
    .catch((thrown) => {
      if (thrown !== error) throw new Error(`another error came out: ${String(thrown)}`);
    });
  return attempts;
}

test('network failures, throttling and 500/502/503/504 are retried up to maxAttempts', async (t) => {
  t.is(await attemptsFor(new StoreError('Network', 'cut short', 'BodyCutShort')), 3);
  t.is(await attemptsFor(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })), 3);
  t.is(await attemptsFor(new StoreError('Throttled', 'slow down', 'SlowDown', 503)), 3);
  t.is(await attemptsFor(new StoreError('Other', 'internal', 'InternalError', 500)), 3);
  t.is(await attemptsFor(new StoreError('Other', 'gateway', 'HTTP504', 504), 5), 5);
});

test('programming errors and answers that will not change are not retried', async (t) => {
  t.is(await attemptsFor(new TypeError('x.subarray is not a function')), 1);
  t.is(await attemptsFor(Object.assign(new TypeError('Invalid character in header content'), { code: 'ERR_INVALID_CHAR' })), 1);
  t.is(await attemptsFor(new RangeError('offset out of range')), 1);
  t.is(await attemptsFor(new Error('plain')), 1);
  t.is(await attemptsFor(new StoreError('NotFound', 'gone', 'NoSuchKey', 404)), 1);
  t.is(await attemptsFor(new StoreError('PreconditionFailed', 'changed', 'PreconditionFailed', 412)), 1);
  t.is(await attemptsFor(new StoreError('Other', 'not implemented', 'NotImplemented', 501)), 1);
  t.is(await attemptsFor(new StoreError('Other', 'unreadable', 'MalformedXML', 200)), 1);
  t.is(retryErrorType(new SyntaxError('bad'), classify), undefined);
});

test('retries draw on one quota: once it is spent, calls get one attempt until successes refill it', async (t) => {
  const shared = policy(3);
  const start = shared.capacity();
  const failing = async () => {
    throw new StoreError('Network', 'reset', 'ECONNRESET');
  };
  let calls = 0;
  // Each failing call spends two retries' worth of tokens.
  while (shared.capacity() >= 14 && calls < 1000) {
    calls++;
    await shared.run(failing, new AbortController().signal).catch(() => undefined);
  }
  t.true(shared.capacity() < start);
  let attempts = 0;
  await shared
    .run(async () => {
      attempts++;
      throw new StoreError('Network', 'reset', 'ECONNRESET');
    }, new AbortController().signal)
    .catch(() => undefined);
  t.is(attempts, 1, 'no retry token left');
  for (let i = 0; i < 100; i++) await shared.run(async () => 'ok', new AbortController().signal);
  attempts = 0;
  await shared
    .run(async () => {
      attempts++;
      if (attempts < 2) throw new StoreError('Network', 'reset', 'ECONNRESET');
      return 'ok';
    }, new AbortController().signal)
    .then((value) => t.is(value, 'ok'));
  t.is(attempts, 2, 'successes gave tokens back');
});

test('an abort ends the wait between attempts and no further attempt is made', async (t) => {
  // A backoff of a minute: only the abort can end the wait before the second attempt.
  const minute = { computeNextBackoffDelay: () => 60_000, setDelayBase: () => undefined };
  const slow = createRetryPolicy(3, classify, new StandardRetryStrategy({ maxAttempts: 3, backoff: minute }));
  const controller = new AbortController();
  let attempts = 0;
  const error = new StoreError('Throttled', 'slow down', 'SlowDown', 503);
  const running = slow.run(async () => {
    attempts++;
    if (attempts === 1) setImmediate(() => controller.abort(new Error('deadline')));
    throw error;
  }, controller.signal);
  t.is(await t.throwsAsync(running), error, "the attempt's own error tells why");
  t.is(attempts, 1);
});

test("the backoff follows the SDK's (full jitter, base doubling per retry) within RETRY_BACKOFF_MS", (t) => {
  const backoff = cappedBackoff(2_000);
  for (let i = 0; i < 200; i++) {
    backoff.setDelayBase(1_000);
    const delay = backoff.computeNextBackoffDelay(5);
    t.true(delay >= 0 && delay < 2_000, String(delay));
    backoff.setDelayBase(50);
    t.true(backoff.computeNextBackoffDelay(0) < 50);
  }
});
