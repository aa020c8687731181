// The one door to object storage. The filesystem and the caches speak only this
// interface; only src/s3/ imports @aws-sdk/* (sdk-store.ts, and list-xml.ts for error
// answers), and src/s3/memory-store.ts is the in-memory twin used by core tests.

/** What S3 tells us about one object (HeadObject, or one entry of a listing). */
export interface ObjectInfo {
  key: string;
  size: number;
  /** ETag as S3 returns it, quotes included; identifies one version of the bytes. */
  etag: string;
  lastModified: Date;
  /** User metadata (x-amz-meta-*), lower-case names without the prefix. Absent in listings. */
  metadata?: Record<string, string>;
  /** Content-Type (HEAD only; absent in listings). s3fs marks old-style directories with application/x-directory. */
  contentType?: string;
}

/** Options of a server-side copy. */
export interface CopyOptions {
  /** Replaces the source's metadata (MetadataDirective REPLACE) when given. */
  metadata?: Record<string, string>;
  /** Content-Type of the copy; only with `metadata` (a REPLACE copy that names none gets S3's default). */
  contentType?: string;
  /** The source's size when known (copies above 5 GiB go part by part). */
  size?: number;
}

export interface ListOptions {
  /** Usually "/" so that deeper keys fold into common prefixes. */
  delimiter?: string;
  /** Continuation token from the previous page. */
  continuationToken?: string;
  /** Page size; S3 caps it at 1000. */
  maxKeys?: number;
}

/** One page of ListObjectsV2. */
export interface ListPage {
  objects: ObjectInfo[];
  /** Full common prefixes, each ending in the delimiter. */
  commonPrefixes: string[];
  /** Set when another page follows. */
  nextContinuationToken?: string;
}

export interface PutOptions {
  metadata?: Record<string, string>;
  contentType?: string;
  /** Above this size a multipart upload is used (bytes). */
  partSize?: number;
  /** The body's SHA-256 (hex) when the caller kept it as the bytes were written: a signed PUT need not hash them again. */
  sha256?: string;
}

/**
 * A body to upload: bytes in memory, or a local file (staged writes), read when it is sent
 * (into `into` when given, at least size bytes, which the caller keeps until the call returned).
 */
export type PutBody = Buffer | { path: string; size: number; into?: Buffer };

/** A part of a multipart upload: bytes in memory, or bytes [start, end) of a local file. */
/**
 * A part: bytes, or the range [start, end) of a local file, read when it is sent (into `into`
 * when given, at least end - start bytes, which the caller keeps until the call returned).
 */
export type PartBody = Buffer | { path: string; start: number; end: number; into?: Buffer };

/** Options of a multipart upload, fixed when it is created. */
export interface UploadOptions {
  metadata?: Record<string, string>;
  contentType?: string;
}

/** A part sent, as CompleteMultipartUpload names it. */
export interface UploadedPart {
  /** 1 to 10,000. */
  partNumber: number;
  etag: string;
}

export interface GetRangeOptions {
  /** Refuse (PreconditionFailed) when the object no longer has this ETag. */
  ifMatch?: string;
  signal?: AbortSignal;
  /** Where the bytes go (at least end - start long); the answer is then a view of it. */
  into?: Buffer;
}

export interface ObjectStore {
  readonly bucket: string;
  /** Fails with a StoreError naming the cause when the bucket cannot be used. */
  checkBucket(): Promise<void>;
  /** HeadObject. NotFound when the key does not exist. */
  head(key: string): Promise<ObjectInfo>;
  /** One page of ListObjectsV2 under `prefix`. */
  list(prefix: string, options?: ListOptions): Promise<ListPage>;
  /** Bytes [start, end) of an object; `end` must not exceed its size. */
  getRange(key: string, start: number, end: number, options?: GetRangeOptions): Promise<Buffer>;
  put(key: string, body: PutBody, options?: PutOptions): Promise<{ etag: string }>;
  /**
   * Server-side copy; `metadata` replaces the source's when given. `size` (the source's, when
   * known) lets a store copy objects above S3's 5 GiB CopyObject limit part by part.
   */
  copy(sourceKey: string, destinationKey: string, options?: CopyOptions): Promise<{ etag: string }>;
  /** Deleting a missing key succeeds, as in S3. */
  delete(key: string): Promise<void>;
  /**
   * Multipart uploads sent part by part (CreateMultipartUpload): the caller sends parts as it
   * pleases, then completes or aborts. Returns the upload id.
   */
  createUpload(key: string, options?: UploadOptions): Promise<string>;
  /** UploadPart. Sending a part number again replaces that part. */
  uploadPart(key: string, uploadId: string, partNumber: number, body: PartBody): Promise<{ etag: string }>;
  /**
   * CompleteMultipartUpload of `parts`, in ascending order; every part but the last must hold
   * at least 5 MiB. Parts sent and not named are dropped.
   */
  completeUpload(key: string, uploadId: string, parts: UploadedPart[]): Promise<{ etag: string }>;
  /**
   * AbortMultipartUpload; an upload already gone counts as aborted. Never fails: an upload the
   * store could not abort is remembered and aborted later (SdkStore.finish names those left).
   */
  abortUpload(key: string, uploadId: string): Promise<void>;
}

export type StoreErrorKind = 'NotFound' | 'NoSuchBucket' | 'AccessDenied' | 'PreconditionFailed' | 'InvalidRange' | 'Throttled' | 'Network' | 'Other';

/** Every failure of an ObjectStore is one of these, whatever the backend said. */
export class StoreError extends Error {
  readonly kind: StoreErrorKind;
  /** The backend's own error code (e.g. "NoSuchKey", "SlowDown"), for logs. */
  readonly code: string;
  readonly status?: number;

  constructor(kind: StoreErrorKind, message: string, code: string = kind, status?: number) {
    super(message);
    this.name = 'StoreError';
    this.kind = kind;
    this.code = code;
    this.status = status;
  }
}

export function isStoreError(error: unknown, kind?: StoreErrorKind): error is StoreError {
  return error instanceof StoreError && (kind === undefined || error.kind === kind);
}

/** S3 operation names, used as labels for call counters. */
export type StoreOperation = 'checkBucket' | 'head' | 'list' | 'getRange' | 'put' | 'copy' | 'delete' | 'multipart';

/**
 * The label of each call: uploadPart is a `put` (a PUT carrying bytes), createUpload,
 * completeUpload and abortUpload are `multipart`.
 */
export const STORE_OPERATIONS: readonly StoreOperation[] = ['checkBucket', 'head', 'list', 'getRange', 'put', 'copy', 'delete', 'multipart'];
