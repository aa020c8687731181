// An ObjectStore that wraps another and adds what tests need around it: injected failures,
// latency and a hook before every call. Counting is src/s3/counting-store.ts's job: wrap this
// store with instrumentStore to count calls (failed ones included) and see those in flight.
import { type ObjectStore, StoreError, type StoreErrorKind, type StoreOperation } from '../../src/s3/object-store.js';

export type BeforeCallHook = (operation: StoreOperation, key: string) => void | Promise<void>;
export type Latency = number | ((operation: StoreOperation, key: string) => number);

/** Runs once the inner store answered, before the answer is returned: may wait, to hold an answer while something else happens. */
export type AfterCallHook = (operation: StoreOperation, key: string) => void | Promise<void>;

export interface FaultyStoreOptions {
  /** Artificial latency of every call (ms), or per operation. Default 0 (no timer at all). */
  latencyMs?: Latency;
  /** Runs before every call (after the latency); may throw to fail it, or wait to delay it. */
  beforeCall?: BeforeCallHook;
  afterCall?: AfterCallHook;
}

export class FaultyStore<Inner extends ObjectStore = ObjectStore> implements ObjectStore {
  /** Runs before every call; may throw (the call fails with that error) or wait. */
  beforeCall?: BeforeCallHook;
  /** Runs after every successful inner call, before its answer is returned; may wait. */
  afterCall?: AfterCallHook;
  latencyMs: Latency;
  private readonly failures = new Map<StoreOperation, Array<StoreErrorKind | Error>>();

  constructor(
    readonly inner: Inner,
    options: FaultyStoreOptions = {},
  ) {
    this.latencyMs = options.latencyMs ?? 0;
    this.beforeCall = options.beforeCall;
    this.afterCall = options.afterCall;
  }

  get bucket(): string {
    return this.inner.bucket;
  }

  /**
   * The next `times` calls of `operation` fail with `error` (a StoreError of that kind, or the
   * error itself), without reaching the inner store. Failures queue up:
   * failNext('head', 'AccessDenied'); failNext('head', 'Other') fails the next two heads, in that order.
   */
  failNext(operation: StoreOperation, error: StoreErrorKind | Error = 'Other', times = 1): void {
    const queue = this.failures.get(operation) ?? [];
    for (let i = 0; i < times; i++) queue.push(error);
    this.failures.set(operation, queue);
  }

  /** Failures injected and not yet consumed, per operation. */
  pendingFailures(operation: StoreOperation): number {
    return this.failures.get(operation)?.length ?? 0;
  }

  clearFailures(): void {
    this.failures.clear();
  }

  async checkBucket(): Promise<void> {
    await this.enter('checkBucket', '');
    return this.leave('checkBucket', '', await this.inner.checkBucket());
  }

  async head(key: string) {
    await this.enter('head', key);
    return this.leave('head', key, await this.inner.head(key));
  }

  async list(prefix: string, options?: Parameters<ObjectStore['list']>[1]) {
    await this.enter('list', prefix);
    return this.leave('list', prefix, await this.inner.list(prefix, options));
  }

  async getRange(key: string, start: number, end: number, options?: Parameters<ObjectStore['getRange']>[3]) {
    await this.enter('getRange', key, options?.signal);
    return this.leave('getRange', key, await this.inner.getRange(key, start, end, options));
  }

  async put(key: string, body: Parameters<ObjectStore['put']>[1], options?: Parameters<ObjectStore['put']>[2]) {
    await this.enter('put', key);
    return this.leave('put', key, await this.inner.put(key, body, options));
  }

  async copy(sourceKey: string, destinationKey: string, options?: Parameters<ObjectStore['copy']>[2]) {
    await this.enter('copy', destinationKey);
    return this.leave('copy', destinationKey, await this.inner.copy(sourceKey, destinationKey, options));
  }

  async delete(key: string): Promise<void> {
    await this.enter('delete', key);
    return this.leave('delete', key, await this.inner.delete(key));
  }

  private async leave<T>(operation: StoreOperation, key: string, answer: T): Promise<T> {
    if (this.afterCall) await this.afterCall(operation, key);
    return answer;
  }

  async createUpload(key: string, options?: Parameters<ObjectStore['createUpload']>[1]) {
    await this.enter('multipart', key);
    return this.inner.createUpload(key, options);
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, body: Parameters<ObjectStore['uploadPart']>[3]) {
    await this.enter('put', key);
    return this.inner.uploadPart(key, uploadId, partNumber, body);
  }

  async completeUpload(key: string, uploadId: string, parts: Parameters<ObjectStore['completeUpload']>[2]) {
    await this.enter('multipart', key);
    return this.inner.completeUpload(key, uploadId, parts);
  }

  /** Never fails, as the stores' own (an injected failure is the store failing to abort: the upload stays). */
  async abortUpload(key: string, uploadId: string): Promise<void> {
    try {
      await this.enter('multipart', key);
    } catch {
      return;
    }
    return this.inner.abortUpload(key, uploadId);
  }

  /** Latency, then the hook, then any injected failure, in that order. */
  private async enter(operation: StoreOperation, key: string, signal?: AbortSignal): Promise<void> {
    const latency = typeof this.latencyMs === 'function' ? this.latencyMs(operation, key) : this.latencyMs;
    if (latency > 0) await delay(latency, signal);
    if (signal?.aborted) throw new StoreError('Network', `${operation} ${key}: aborted by the caller`, 'AbortError');
    if (this.beforeCall) await this.beforeCall(operation, key);
    const failure = this.failures.get(operation)?.shift();
    if (failure !== undefined) {
      throw typeof failure === 'string' ? new StoreError(failure, `${operation} ${key}: injected ${failure}`, failure) : failure;
    }
  }
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
