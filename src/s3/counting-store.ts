// A decorator that counts and times every call to an ObjectStore and logs it at debug level.
// It never logs at warn or above: the filesystem logs a failure once, where it knows what it means.
import type { Logger } from '../log.js';
import { isStoreError, type ObjectStore, STORE_OPERATIONS, type StoreOperation } from './object-store.js';

export interface OperationCalls {
  /** Calls made, failed ones included. */
  count: number;
  /** Calls that failed. A NotFound answer is not counted: it is how S3 says "no such key". */
  errors: number;
  /** Time spent in calls, all of them (ms). */
  totalMs: number;
  /** Calls started and not finished yet (prefetches included): 0 everywhere means nothing is under way. */
  inFlight: number;
}

export interface InstrumentedStore extends ObjectStore {
  /** A snapshot of the counters, per operation. */
  calls(): Record<StoreOperation, OperationCalls>;
}

const OPERATIONS = STORE_OPERATIONS;

export function instrumentStore(inner: ObjectStore, log: Logger): InstrumentedStore {
  const counters = Object.fromEntries(OPERATIONS.map((op) => [op, { count: 0, errors: 0, totalMs: 0, inFlight: 0 }])) as Record<StoreOperation, OperationCalls>;

  async function timed<T>(operation: StoreOperation, key: string, call: () => Promise<T>, extra?: Record<string, unknown>): Promise<T> {
    const started = performance.now();
    const counter = counters[operation];
    counter.count++;
    counter.inFlight++;
    try {
      const result = await call();
      const ms = performance.now() - started;
      counter.totalMs += ms;
      if (log.isLevelEnabled('debug')) log.debug({ s3: operation, key, ms: round(ms), outcome: 'ok', ...extra }, 's3 call');
      return result;
    } catch (error) {
      const ms = performance.now() - started;
      counter.totalMs += ms;
      if (!isStoreError(error, 'NotFound')) counter.errors++;
      if (log.isLevelEnabled('debug')) {
        const outcome = isStoreError(error) ? error.kind : 'error';
        const details = isStoreError(error) ? { code: error.code, status: error.status } : { error: String(error) };
        log.debug({ s3: operation, key, ms: round(ms), outcome, ...details, ...extra }, 's3 call');
      }
      throw error;
    } finally {
      counter.inFlight--;
    }
  }

  return {
    get bucket() {
      return inner.bucket;
    },
    checkBucket: () => timed('checkBucket', '', () => inner.checkBucket()),
    head: (key) => timed('head', key, () => inner.head(key)),
    list: (prefix, options) =>
      timed(
        'list',
        prefix,
        () => inner.list(prefix, options),
        log.isLevelEnabled('debug') ? { page: options?.continuationToken ? 'next' : 'first' } : undefined,
      ),
    getRange: (key, start, end, options) =>
      timed('getRange', key, () => inner.getRange(key, start, end, options), log.isLevelEnabled('debug') ? { start, end } : undefined),
    put: (key, body, options) =>
      timed(
        'put',
        key,
        () => inner.put(key, body, options),
        log.isLevelEnabled('debug') ? { bytes: Buffer.isBuffer(body) ? body.length : body.size } : undefined,
      ),
    copy: (sourceKey, destinationKey, options) =>
      timed('copy', destinationKey, () => inner.copy(sourceKey, destinationKey, options), log.isLevelEnabled('debug') ? { source: sourceKey } : undefined),
    delete: (key) => timed('delete', key, () => inner.delete(key)),
    createUpload: (key, options) =>
      timed('multipart', key, () => inner.createUpload(key, options), log.isLevelEnabled('debug') ? { call: 'create' } : undefined),
    uploadPart: (key, uploadId, partNumber, body) =>
      timed(
        'put',
        key,
        () => inner.uploadPart(key, uploadId, partNumber, body),
        log.isLevelEnabled('debug') ? { part: partNumber, bytes: Buffer.isBuffer(body) ? body.length : body.end - body.start } : undefined,
      ),
    completeUpload: (key, uploadId, parts) =>
      timed(
        'multipart',
        key,
        () => inner.completeUpload(key, uploadId, parts),
        log.isLevelEnabled('debug') ? { call: 'complete', parts: parts.length } : undefined,
      ),
    abortUpload: (key, uploadId) =>
      timed('multipart', key, () => inner.abortUpload(key, uploadId), log.isLevelEnabled('debug') ? { call: 'abort' } : undefined),
    calls() {
      return Object.fromEntries(OPERATIONS.map((op) => [op, { ...counters[op] }])) as Record<StoreOperation, OperationCalls>;
    },
  };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
