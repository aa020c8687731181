// An ObjectStore decorator feeding the metrics: every call's operation, outcome and time,
// and uploads in flight. Only wired in when the metrics endpoint is on.
import { isStoreError, type ObjectStore, type StoreErrorKind, type StoreOperation } from '../s3/object-store.js';
import type { MountMetrics } from './mount-metrics.js';

const OUTCOMES: Record<StoreErrorKind, string> = {
  NotFound: 'not_found',
  NoSuchBucket: 'no_such_bucket',
  AccessDenied: 'access_denied',
  PreconditionFailed: 'precondition_failed',
  InvalidRange: 'invalid_range',
  Throttled: 'throttled',
  Network: 'network',
  Other: 'other',
};

/** Label value of a finished call: "ok", or the kind of failure in snake case. */
export function s3Outcome(error: unknown): string {
  return isStoreError(error) ? OUTCOMES[error.kind] : 'other';
}

export function meterStore(inner: ObjectStore, metrics: MountMetrics): ObjectStore {
  async function timed<T>(operation: StoreOperation, call: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      const result = await call();
      metrics.s3Request(operation, 'ok', performance.now() - started);
      return result;
    } catch (error) {
      metrics.s3Request(operation, s3Outcome(error), performance.now() - started);
      throw error;
    }
  }

  return {
    get bucket() {
      return inner.bucket;
    },
    checkBucket: () => timed('checkBucket', () => inner.checkBucket()),
    head: (key) => timed('head', () => inner.head(key)),
    list: (prefix, options) => timed('list', () => inner.list(prefix, options)),
    getRange: (key, start, end, options) => timed('getRange', () => inner.getRange(key, start, end, options)),
    put: async (key, body, options) => {
      metrics.uploadStarted();
      try {
        return await timed('put', () => inner.put(key, body, options));
      } finally {
        metrics.uploadFinished();
      }
    },
    copy: (sourceKey, destinationKey, options) => timed('copy', () => inner.copy(sourceKey, destinationKey, options)),
    delete: (key) => timed('delete', () => inner.delete(key)),
    // A multipart upload is pending from its creation to its completion or abort.
    createUpload: async (key, options) => {
      const uploadId = await timed('multipart', () => inner.createUpload(key, options));
      metrics.uploadStarted();
      return uploadId;
    },
    uploadPart: (key, uploadId, partNumber, body) => timed('put', () => inner.uploadPart(key, uploadId, partNumber, body)),
    completeUpload: async (key, uploadId, parts) => {
      const done = await timed('multipart', () => inner.completeUpload(key, uploadId, parts));
      metrics.uploadFinished();
      return done;
    },
    abortUpload: async (key, uploadId) => {
      await timed('multipart', () => inner.abortUpload(key, uploadId));
      metrics.uploadFinished();
    },
  };
}
