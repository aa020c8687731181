// One retry policy for every S3 call of a store: the SDK's own StandardRetryStrategy (retry
// tokens drawn from one quota, the SDK's backoff), shared by the SDK client's retries (uploads,
// copies, deletes) and by the attempts this module runs itself (ranged GETs, LISTs and HEADs,
// on the lean path and through the SDK alike). An attempt here includes reading the body, so a
// connection lost mid-body is retried like one lost before the answer, on AWS as on custom
// endpoints. Only network failures, throttling and 500/502/503/504 are retried (as the SDK
// retries them); anything else, programming errors (TypeError, RangeError...) first, fails at once.
import { StandardRetryStrategy } from '@smithy/core/retry';
import type { RetryErrorType, RetryStrategyV2, RetryToken } from '@smithy/types';
import { RETRY_BACKOFF_MS } from '../tuning.js';
import { StoreError } from './object-store.js';

/** The status codes the SDK itself treats as transient. */
const TRANSIENT_STATUSES = new Set([500, 502, 503, 504]);

/** Network failures as the SDK store classifies them (see toStoreError in sdk-store.ts). */
export type ErrorClassifier = (error: unknown) => StoreError;

/** One failed attempt about to be retried. */
export interface RetryEvent {
  /** The attempt that failed, 1-based. */
  attempt: number;
  errorType: RetryErrorType;
  error: unknown;
}

export interface RetryPolicy {
  /** The strategy to hand to the SDK client, so that its retries draw on the same quota. */
  readonly strategy: RetryStrategyV2;
  /** Runs `attempt` until it succeeds, the error is not retryable, the strategy refuses, or `signal` aborts. */
  run<T>(attempt: (signal: AbortSignal) => Promise<T>, signal: AbortSignal, onRetry?: (retry: RetryEvent) => void): Promise<T>;
  /** Retry tokens left in the quota (for tests and logs). */
  capacity(): number;
}

/**
 * How the SDK's strategy sees an error: THROTTLING, TRANSIENT, or undefined when it must not be
 * retried. `classify` turns raw errors (sockets, the SDK's exceptions) into StoreErrors first.
 */
export function retryErrorType(error: unknown, classify: ErrorClassifier): RetryErrorType | undefined {
  const mapped = error instanceof StoreError ? error : classify(error);
  if (mapped.kind === 'Throttled') return 'THROTTLING';
  if (mapped.kind === 'Network') return 'TRANSIENT';
  if (mapped.kind === 'Other' && mapped.status !== undefined && TRANSIENT_STATUSES.has(mapped.status)) return 'TRANSIENT';
  return undefined;
}

/**
 * The SDK's backoff (full jitter over base × 2^retry; the base is 50 ms, 1 s after throttling),
 * capped at RETRY_BACKOFF_MS, the room the call deadline leaves between attempts (tuning.ts).
 */
export function cappedBackoff(capMs = RETRY_BACKOFF_MS) {
  let base = 50;
  return {
    setDelayBase(delay: number) {
      base = delay;
    },
    computeNextBackoffDelay(retries: number) {
      return Math.floor(Math.random() * Math.min(base * 2 ** retries, capMs));
    },
  };
}

export function createRetryPolicy(
  maxAttempts: number,
  classify: ErrorClassifier,
  strategy: RetryStrategyV2 = new StandardRetryStrategy({ maxAttempts, backoff: cappedBackoff() }),
): RetryPolicy {
  const capacity = () => (strategy as { getCapacity?: () => number }).getCapacity?.() ?? Number.NaN;
  return {
    strategy,
    capacity,
    async run(attempt, signal, onRetry) {
      let token: RetryToken = await strategy.acquireInitialRetryToken('s3mount');
      for (let attemptNumber = 1; ; attemptNumber++) {
        try {
          const result = await attempt(signal);
          strategy.recordSuccess(token);
          return result;
        } catch (error) {
          const errorType = signal.aborted ? undefined : retryErrorType(error, classify);
          if (errorType === undefined) throw error;
          try {
            // The strategy waits out its backoff before answering; an abort ends the wait.
            token = await untilAborted(strategy.refreshRetryTokenForRetry(token, { errorType }), signal);
          } catch {
            // No token (attempts spent, quota empty) or aborted: the attempt's own error tells why.
            throw error;
          }
          onRetry?.({ attempt: attemptNumber, errorType, error });
        }
      }
    },
  };
}

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
