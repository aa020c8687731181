// The ObjectStore over real S3 (or any S3-compatible endpoint) through AWS SDK v3.
// With list-xml.ts (whose error answers go through the SDK's XML parser) the only module that imports
// @aws-sdk/*: every SDK error leaves it as a StoreError.
//
// One retry policy (retry-policy.ts): the SDK's StandardRetryStrategy, one quota of retry
// tokens, shared by the SDK client and the reads (lean or SDK) whose attempts include their
// bodies; programming errors are never retried.
//
// Connection hygiene (see docs/notes/fuse-native.md, "AWS SDK v3 facts"): keep-alive agents with a bounded socket pool, a
// connection timeout, a per-attempt timeout up to the response headers, an idle-socket timeout
// while a body streams, and a deadline per call (all attempts and the body read included)
// through abortSignal. GetObject bodies are always read to the end or destroyed.

import { createReadStream } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Logger } from '../log.js';
import { callDeadlineMs, MAX_CONNECT_TIMEOUT_MS, REQUEST_TIMEOUT_MS } from '../tuning.js';
import { checkContentRange, createLeanClient, type LeanClient, readBody } from './lean-client.js';
import {
  type CopyOptions,
  type GetRangeOptions,
  isStoreError,
  type ListOptions,
  type ListPage,
  type ObjectInfo,
  type ObjectStore,
  type PartBody,
  type PutBody,
  type PutOptions,
  StoreError,
  type StoreErrorKind,
  type StoreOperation,
  type UploadedPart,
  type UploadOptions,
} from './object-store.js';
import { DEFAULT_REGION, regionChain } from './region.js';
import { createRetryPolicy, type RetryEvent } from './retry-policy.js';

export interface SdkStoreOptions {
  bucket: string;
  /** Default: AWS_REGION, AWS_DEFAULT_REGION, the profile's region, else us-east-1. */
  region?: string;
  /** Default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS. A profile's endpoint_url counts as custom only when given here (see profile-endpoint.ts). */
  endpoint?: string;
  forcePathStyle?: boolean;
  /** Shared config/credentials profile; default AWS_PROFILE or "default". */
  profile?: string;
  /** Attempts per request, the first one included (SDK standard retry). Default 3. */
  maxAttempts?: number;
  /** Per attempt: time to response headers, and longest silence while a body streams. Default REQUEST_TIMEOUT_MS (src/tuning.ts). */
  requestTimeoutMs?: number;
  /** Sockets per host in the keep-alive pool. Default 64. */
  maxSockets?: number;
  /** Default: 'when-required' for a custom endpoint, else the SDK's own default. */
  checksums?: 'when-required' | 'when-supported';
  /**
   * Plain signed HTTP for GETs, LISTs and HEADs on a custom path-style endpoint (lean-client.ts).
   * Default true; false sends them through the SDK as on AWS. Tests use it (or the environment
   * variable S3MOUNT_TEST_SDK_PATH=1, for a mount in a child process) to run the SDK path
   * against a local endpoint; it is not a user option.
   */
  lean?: boolean;
}

export type SdkStore = ObjectStore & {
  /**
   * Work to finish before closing: aborts of failed multipart uploads that failed themselves
   * are tried once more. Resolves to the uploads still not aborted (key and upload id).
   */
  finish(): Promise<string[]>;
  /** Destroys the socket pool; calls after this fail. */
  close(): void;
};

export const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
const DEFAULT_MAX_ATTEMPTS = 3;
const DEFAULT_MAX_SOCKETS = 64;
const UPLOAD_QUEUE_SIZE = 4;
// S3's limit for one CopyObject; above it, UploadPartCopy in parts of 512 MiB, 4 at a time.
const MAX_SINGLE_COPY_BYTES = 5 * 1024 ** 3;
const COPY_PART_BYTES = 512 * 1024 ** 2;
const COPY_PARTS_IN_FLIGHT = 4;

export function createSdkStore(options: SdkStoreOptions, log: Logger): SdkStore {
  const bucket = options.bucket;
  // The SDK reads these too; reading them here tells us the endpoint is custom (for checksums).
  const ignoreEnvironmentEndpoints = process.env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS?.toLowerCase() === 'true';
  const endpoint = options.endpoint || (ignoreEnvironmentEndpoints ? undefined : process.env.AWS_ENDPOINT_URL_S3 || process.env.AWS_ENDPOINT_URL) || undefined;
  const customEndpoint = endpoint !== undefined;
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const requestTimeoutMs = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  const maxSockets = options.maxSockets ?? DEFAULT_MAX_SOCKETS;
  const deadlineMs = callDeadlineMs(maxAttempts, requestTimeoutMs);
  const checksums = options.checksums ?? (customEndpoint ? 'when-required' : undefined);
  const checksumSetting = checksums === undefined ? undefined : checksums === 'when-required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED';
  const region = options.region || process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || regionChain(() => new S3Client({ profile: options.profile }));

  // One retry policy for the whole store: the SDK client retries with this strategy, and the
  // reads below (lean or SDK, their bodies included) run their attempts with it too.
  const retry = createRetryPolicy(maxAttempts, (error) => toStoreError(error, { operation: 'head', bucket, key: '', deadlineMs }));
  const agentOptions = { keepAlive: true, maxSockets };
  const config: S3ClientConfig = {
    region,
    endpoint,
    forcePathStyle: options.forcePathStyle ?? false,
    profile: options.profile,
    maxAttempts,
    retryStrategy: retry.strategy,
    // A wrong region on AWS is answered with a redirect naming the right one: follow it.
    followRegionRedirects: !customEndpoint,
    requestChecksumCalculation: checksumSetting,
    responseChecksumValidation: checksumSetting,
    requestHandler: {
      connectionTimeout: Math.min(MAX_CONNECT_TIMEOUT_MS, requestTimeoutMs),
      requestTimeout: requestTimeoutMs,
      throwOnRequestTimeout: true,
      socketTimeout: requestTimeoutMs,
      httpAgent: agentOptions,
      httpsAgent: agentOptions,
    },
  };
  const client = new S3Client(config);
  // Reads through the SDK make one attempt per send: retry.run() retries them, body included.
  // The same sockets (request handler) and credentials.
  const readClient = new S3Client({
    ...config,
    maxAttempts: 1,
    retryStrategy: undefined,
    requestHandler: client.config.requestHandler,
    credentials: client.config.credentials,
  });
  log.debug(
    {
      bucket,
      endpoint: endpoint ?? 'aws',
      forcePathStyle: config.forcePathStyle,
      profile: options.profile,
      maxAttempts,
      requestTimeoutMs,
      maxSockets,
      checksums: checksums ?? 'sdk-default',
    },
    's3 client created',
  );

  /**
   * Runs one call under a deadline covering all its attempts and the body read, also ended by
   * the caller's signal. The timer and the listener are gone when the call is.
   */
  async function send<T>(
    operation: StoreOperation,
    key: string,
    run: (abortSignal: AbortSignal) => Promise<T>,
    callerSignal?: AbortSignal,
    bucketLevel = false,
  ): Promise<T> {
    const controller = new AbortController();
    let abortedBy: 'deadline' | 'caller' | undefined;
    const timer = setTimeout(() => {
      abortedBy ??= 'deadline';
      controller.abort(new DOMException(`deadline of ${deadlineMs} ms exceeded`, 'TimeoutError'));
    }, deadlineMs);
    const onCallerAbort = () => {
      abortedBy ??= 'caller';
      controller.abort(callerSignal?.reason);
    };
    if (callerSignal?.aborted) onCallerAbort();
    else callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
    try {
      return await run(controller.signal);
    } catch (error) {
      throw toStoreError(error, { operation, bucket, key, deadlineMs, abortedBy, bucketLevel });
    } finally {
      clearTimeout(timer);
      callerSignal?.removeEventListener('abort', onCallerAbort);
    }
  }

  // Multipart uploads that failed and whose abort failed too (S3 down at that moment): their
  // parts cost storage until aborted, so the abort is tried again before every later upload
  // and at unmount. Upload id → key.
  const unaborted = new Map<string, string>();

  /** Aborts a multipart upload; one already gone (NoSuchUpload) counts as aborted. */
  async function abortUpload(key: string, uploadId: string): Promise<void> {
    try {
      await send('put', key, (abortSignal) => client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }), { abortSignal }));
      unaborted.delete(uploadId);
    } catch (error) {
      if (error instanceof StoreError && error.kind === 'NotFound') {
        unaborted.delete(uploadId);
        return;
      }
      unaborted.set(uploadId, key);
      log.warn({ key, uploadId, err: error }, 'abort of a multipart upload failed; tried again before the next upload and at unmount');
    }
  }

  async function retryAborts(): Promise<void> {
    for (const [uploadId, key] of [...unaborted]) await abortUpload(key, uploadId);
  }

  /**
   * CopyObject stops at 5 GiB: larger objects are copied part by part with UploadPartCopy.
   * The source's metadata and content type are carried over unless new metadata is given,
   * as CopyObject's COPY directive would. A failure aborts the upload, leaving no parts (or remembers it, see abortUpload).
   */
  async function multipartCopy(
    sourceKey: string,
    destinationKey: string,
    size: number,
    metadata?: Record<string, string>,
    contentType?: string,
  ): Promise<{ etag: string }> {
    const source = metadata
      ? undefined
      : await send('head', sourceKey, (abortSignal) => client.send(new HeadObjectCommand({ Bucket: bucket, Key: sourceKey }), { abortSignal }));
    const created = await send('copy', destinationKey, (abortSignal) =>
      client.send(
        new CreateMultipartUploadCommand({
          Bucket: bucket,
          Key: destinationKey,
          Metadata: metadata ?? source?.Metadata,
          ContentType: metadata ? contentType : source?.ContentType,
        }),
        { abortSignal },
      ),
    );
    const uploadId = created.UploadId as string;
    try {
      const starts = Array.from({ length: Math.ceil(size / COPY_PART_BYTES) }, (_, i) => i * COPY_PART_BYTES);
      const parts: Array<{ PartNumber: number; ETag?: string }> = [];
      for (let i = 0; i < starts.length; i += COPY_PARTS_IN_FLIGHT) {
        const batch = await Promise.all(
          starts.slice(i, i + COPY_PARTS_IN_FLIGHT).map((start, j) => {
            const partNumber = i + j + 1;
            const range = `bytes=${start}-${Math.min(start + COPY_PART_BYTES, size) - 1}`;
            return send('copy', destinationKey, (abortSignal) =>
              client.send(
                new UploadPartCopyCommand({
                  Bucket: bucket,
                  Key: destinationKey,
                  UploadId: uploadId,
                  PartNumber: partNumber,
                  CopySource: copySource(bucket, sourceKey),
                  CopySourceRange: range,
                }),
                { abortSignal },
              ),
            ).then((out) => ({ PartNumber: partNumber, ETag: out.CopyPartResult?.ETag }));
          }),
        );
        parts.push(...batch);
      }
      const done = await send('copy', destinationKey, (abortSignal) =>
        client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: destinationKey, UploadId: uploadId, MultipartUpload: { Parts: parts } }), {
          abortSignal,
        }),
      );
      return { etag: done.ETag ?? '' };
    } catch (error) {
      await abortUpload(destinationKey, uploadId);
      throw error;
    }
  }

  // Custom path-style endpoints get ranged GETs, LISTs, HEADs and single-request PUTs without
  // the SDK's per-request machinery (lean-client.ts); everything else goes through the SDK.
  const leanWanted = options.lean ?? process.env.S3MOUNT_TEST_SDK_PATH !== '1';
  const lean: LeanClient | undefined =
    leanWanted && customEndpoint && config.forcePathStyle && endpoint
      ? createLeanClient(
          {
            endpoint,
            bucket,
            region: () => client.config.region(),
            credentials: () => client.config.credentials(),
            maxSockets,
            requestTimeoutMs,
          },
          log,
        )
      : undefined;

  /**
   * A read (lean or through the SDK), or a lean PUT, under the store's retry policy, its body
   * read (or sent) inside each attempt, within one deadline.
   */
  function retried<T>(operation: StoreOperation, key: string, attempt: (abortSignal: AbortSignal) => Promise<T>, callerSignal?: AbortSignal): Promise<T> {
    const onRetry = ({ attempt: failed, errorType, error }: RetryEvent) =>
      log.debug({ operation, key, attempt: failed, errorType, err: error }, 's3 read retried');
    return send(operation, key, (abortSignal) => retry.run(attempt, abortSignal, onRetry), callerSignal);
  }

  async function endpointDescription(): Promise<string> {
    if (endpoint) return endpoint;
    const resolvedRegion = await client.config.region().catch(() => DEFAULT_REGION);
    return `https://s3.${resolvedRegion}.amazonaws.com`;
  }

  const store: SdkStore = {
    bucket,

    async checkBucket(): Promise<void> {
      try {
        await send('checkBucket', '', (abortSignal) => client.send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal }), undefined, true);
      } catch (error) {
        const mapped = error as StoreError;
        throw new StoreError(mapped.kind, await bucketMessage(mapped, bucket, endpointDescription), mapped.code, mapped.status);
      }
    },

    head(key: string): Promise<ObjectInfo> {
      if (lean) return retried('head', key, (abortSignal) => lean.head(key, abortSignal));
      return retried('head', key, async (abortSignal) => {
        const out = await readClient.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal });
        return {
          key,
          size: out.ContentLength ?? 0,
          etag: out.ETag ?? '',
          lastModified: out.LastModified ?? new Date(0),
          metadata: lowerCaseNames(out.Metadata),
          contentType: out.ContentType,
        };
      });
    },

    list(prefix: string, listOptions: ListOptions = {}): Promise<ListPage> {
      if (lean) return retried('list', prefix, (abortSignal) => lean.list(prefix, listOptions, abortSignal));
      return retried('list', prefix, async (abortSignal) => {
        const out = await readClient.send(
          new ListObjectsV2Command({
            Bucket: bucket,
            Prefix: prefix || undefined,
            Delimiter: listOptions.delimiter || undefined,
            ContinuationToken: listOptions.continuationToken || undefined,
            MaxKeys: listOptions.maxKeys,
          }),
          { abortSignal },
        );
        const objects: ObjectInfo[] = [];
        for (const entry of out.Contents ?? []) {
          if (entry.Key === undefined) continue;
          objects.push({ key: entry.Key, size: entry.Size ?? 0, etag: entry.ETag ?? '', lastModified: entry.LastModified ?? new Date(0) });
        }
        const commonPrefixes: string[] = [];
        for (const common of out.CommonPrefixes ?? []) if (common.Prefix !== undefined) commonPrefixes.push(common.Prefix);
        const page: ListPage = { objects, commonPrefixes };
        if (out.IsTruncated && out.NextContinuationToken) page.nextContinuationToken = out.NextContinuationToken;
        return page;
      });
    },

    async getRange(key: string, start: number, end: number, rangeOptions: GetRangeOptions = {}): Promise<Buffer> {
      if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
        throw new StoreError('InvalidRange', `getRange ${key}: invalid range [${start}, ${end})`);
      }
      if (start === end) return Buffer.alloc(0);
      if (lean)
        return retried(
          'getRange',
          key,
          (abortSignal) => lean.getRange(key, start, end, { ifMatch: rangeOptions.ifMatch, signal: abortSignal, into: rangeOptions.into }),
          rangeOptions.signal,
        );
      return retried(
        'getRange',
        key,
        async (abortSignal) => {
          const out = await readClient.send(
            new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${end - 1}`, IfMatch: rangeOptions.ifMatch }),
            { abortSignal },
          );
          const body = out.Body as Readable | undefined;
          if (!body) throw new StoreError('Network', `getRange ${key}: response without a body`);
          try {
            checkContentRange(key, out.ContentRange, start, end);
          } catch (error) {
            body.destroy();
            throw error;
          }
          return readBody(body, end - start, key, abortSignal, rangeOptions.into);
        },
        rangeOptions.signal,
      );
    },

    async put(key: string, body: PutBody, putOptions: PutOptions = {}): Promise<{ etag: string }> {
      if (unaborted.size > 0) await retryAborts();
      const partSize = putOptions.partSize ?? DEFAULT_PART_SIZE;
      const size = Buffer.isBuffer(body) ? body.length : body.size;
      const common = { Bucket: bucket, Key: key, Metadata: putOptions.metadata, ContentType: putOptions.contentType };
      // One request on a custom endpoint: plain and signed, as reads are (lean-client.ts), under
      // the same retry policy. Checksums asked for are the SDK's to compute.
      if (size <= partSize && lean && checksums === 'when-required') {
        const bytes = await smallBody(key, body, size);
        const { metadata, contentType, sha256 } = putOptions;
        const attempt = (given?: string) =>
          retried('put', key, (abortSignal) => lean.put(key, bytes, { metadata, contentType, sha256: given, signal: abortSignal }));
        try {
          return await attempt(sha256);
        } catch (error) {
          // The hash kept by the caller disagrees with the bytes read: never fail a PUT for it.
          if (!sha256 || !isStoreError(error) || error.code !== 'XAmzContentSHA256Mismatch') throw error;
          log.warn({ key }, 'put: the SHA-256 kept while writing did not match the staged bytes; sent again with the bytes hashed');
          return attempt(undefined);
        }
      }
      if (size <= partSize) {
        return send('put', key, async (abortSignal) => {
          // Small bodies go as one buffer, so that a retried attempt can send them again.
          const bytes = await smallBody(key, body, size);
          const out = await client.send(new PutObjectCommand({ ...common, Body: bytes, ContentLength: size }), { abortSignal });
          return { etag: out.ETag ?? '' };
        });
      }
      // Multipart: each part is a buffer retried on its own; the per-attempt timeouts of the
      // request handler bound every part, not one deadline for the whole (size-dependent) upload.
      const stream = Buffer.isBuffer(body) ? undefined : createReadStream(body.path);
      let upload: Upload | undefined;
      try {
        upload = new Upload({
          client,
          params: { ...common, Body: stream ?? (body as Buffer), ContentLength: size },
          partSize,
          queueSize: UPLOAD_QUEUE_SIZE,
          leavePartsOnError: false,
        });
        const out = await upload.done();
        return { etag: out.ETag ?? '' };
      } catch (error) {
        // lib-storage aborts a failed upload once; if that abort failed too, the parts would
        // stay. Aborting again is harmless (an upload already gone answers NoSuchUpload).
        if (upload?.uploadId) await abortUpload(key, upload.uploadId);
        throw toStoreError(error, { operation: 'put', bucket, key, deadlineMs });
      } finally {
        stream?.destroy();
      }
    },

    async createUpload(key: string, uploadOptions: UploadOptions = {}): Promise<string> {
      if (unaborted.size > 0) await retryAborts();
      const out = await send('multipart', key, (abortSignal) =>
        client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, Metadata: uploadOptions.metadata, ContentType: uploadOptions.contentType }), {
          abortSignal,
        }),
      );
      if (!out.UploadId) throw new StoreError('Other', `createUpload ${key}: the answer names no upload id`);
      return out.UploadId;
    },

    uploadPart(key: string, uploadId: string, partNumber: number, body: PartBody): Promise<{ etag: string }> {
      // A part is a buffer (read from the file once), so that every attempt can send it again;
      // one deadline per part, as for a single PUT of the same size.
      return send('put', key, async (abortSignal) => {
        const bytes = Buffer.isBuffer(body) ? body : await readRange(key, body.path, body.start, body.end, body.into);
        const out = await client.send(
          new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, Body: bytes, ContentLength: bytes.length }),
          { abortSignal },
        );
        return { etag: out.ETag ?? '' };
      });
    },

    completeUpload(key: string, uploadId: string, parts: UploadedPart[]): Promise<{ etag: string }> {
      return send('multipart', key, async (abortSignal) => {
        const out = await client.send(
          new CompleteMultipartUploadCommand({
            Bucket: bucket,
            Key: key,
            UploadId: uploadId,
            MultipartUpload: { Parts: parts.map((part) => ({ PartNumber: part.partNumber, ETag: part.etag })) },
          }),
          { abortSignal },
        );
        return { etag: out.ETag ?? '' };
      });
    },

    abortUpload(key: string, uploadId: string): Promise<void> {
      return abortUpload(key, uploadId);
    },

    copy(sourceKey: string, destinationKey: string, copyOptions: CopyOptions = {}): Promise<{ etag: string }> {
      if ((copyOptions.size ?? 0) > MAX_SINGLE_COPY_BYTES)
        return multipartCopy(sourceKey, destinationKey, copyOptions.size as number, copyOptions.metadata, copyOptions.contentType);
      return send('copy', destinationKey, async (abortSignal) => {
        const out = await client.send(
          new CopyObjectCommand({
            Bucket: bucket,
            Key: destinationKey,
            CopySource: copySource(bucket, sourceKey),
            MetadataDirective: copyOptions.metadata ? 'REPLACE' : 'COPY',
            Metadata: copyOptions.metadata,
            ContentType: copyOptions.metadata ? copyOptions.contentType : undefined,
          }),
          { abortSignal },
        );
        return { etag: out.CopyObjectResult?.ETag ?? '' };
      });
    },

    delete(key: string): Promise<void> {
      return send('delete', key, async (abortSignal) => {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), { abortSignal });
      });
    },

    async finish(): Promise<string[]> {
      await retryAborts();
      return [...unaborted].map(([uploadId, key]) => `${key} (upload ${uploadId})`);
    },

    close(): void {
      lean?.close();
      readClient.destroy();
      client.destroy();
    },
  };
  return store;
}

/** A body small enough for one request, as one buffer (so that a retried attempt can send it again). */
async function smallBody(key: string, body: PutBody, size: number): Promise<Buffer> {
  if (!Buffer.isBuffer(body) && body.into) return readWhole(key, body.path, size, body.into);
  const bytes = Buffer.isBuffer(body) ? body : await readFile(body.path);
  if (bytes.length !== size)
    throw new StoreError('Other', `put ${key}: ${Buffer.isBuffer(body) ? 'body' : body.path} holds ${bytes.length} bytes, expected ${size}`);
  return bytes;
}

/** A local file of exactly `size` bytes, read into `into` (a buffer lent for it, reused: no fresh pages to fault in). */
async function readWhole(key: string, path: string, size: number, into: Buffer): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const held = (await handle.stat()).size;
    if (held !== size) throw new StoreError('Other', `put ${key}: ${path} holds ${held} bytes, expected ${size}`);
    const bytes = into.subarray(0, size);
    let filled = 0;
    while (filled < size) {
      const { bytesRead } = await handle.read(bytes, filled, size - filled, filled);
      if (bytesRead === 0) throw new StoreError('Other', `put ${key}: ${path} ends at ${filled}, before ${size}`, 'ReadFailed');
      filled += bytesRead;
    }
    return bytes;
  } finally {
    await handle.close();
  }
}

/** Bytes [start, end) of a local file; fewer bytes there than asked is an error, never a short part. */
async function readRange(key: string, path: string, start: number, end: number, into?: Buffer): Promise<Buffer> {
  const bytes = into ? into.subarray(0, end - start) : Buffer.allocUnsafe(end - start);
  const handle = await open(path, 'r');
  try {
    let filled = 0;
    while (filled < bytes.length) {
      const { bytesRead } = await handle.read(bytes, filled, bytes.length - filled, start + filled);
      if (bytesRead === 0) throw new StoreError('Other', `uploadPart ${key}: ${path} ends at ${start + filled}, before ${end}`, 'ReadFailed');
      filled += bytesRead;
    }
    return bytes;
  } finally {
    await handle.close();
  }
}

/** `bucket/key` for CopySource, every path segment URI-encoded (spaces, `+`, `%`, non-ASCII). */
export function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

function lowerCaseNames(metadata: Record<string, string> | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(metadata ?? {})) result[name.toLowerCase()] = value;
  return result;
}

export interface ErrorContext {
  operation: StoreOperation;
  bucket: string;
  key: string;
  deadlineMs: number;
  /** Set when the call's own signal fired: the error is then the abort, whatever it looks like. */
  abortedBy?: 'deadline' | 'caller';
  /** A 404 without a code means the bucket, not a key (HeadBucket). */
  bucketLevel?: boolean;
}

interface SdkErrorShape {
  name?: string;
  message?: string;
  code?: string;
  Code?: string;
  cause?: unknown;
  $metadata?: { httpStatusCode?: number };
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTDOWN',
  'EPROTO',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
]);
const NOT_FOUND_CODES = new Set(['NotFound', 'NoSuchKey', 'NoSuchUpload']);
const ACCESS_CODES = new Set([
  'AccessDenied',
  'Forbidden',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'AllAccessDisabled',
  'AccountProblem',
]);
const THROTTLE_CODES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'ServiceUnavailable',
  'RequestThrottled',
]);
const NETWORK_NAMES = new Set(['AbortError', 'TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);

/** Maps anything the SDK (or the network under it) throws to a StoreError, keeping its code and HTTP status. */
export function toStoreError(error: unknown, context: ErrorContext): StoreError {
  if (error instanceof StoreError) return error;
  const e = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as SdkErrorShape;
  const status = e.$metadata?.httpStatusCode;
  const code = e.Code ?? (e.name && e.name !== 'Error' ? e.name : undefined) ?? e.code ?? 'Unknown';
  const what = `${context.operation}${context.key ? ` ${context.key}` : ''}`;
  const detail = `${code}${status ? ` (HTTP ${status})` : ''}${e.message && e.message !== code && e.message !== 'UnknownError' ? `: ${e.message}` : ''}`;
  if (context.abortedBy === 'caller') return new StoreError('Network', `${what}: aborted by the caller`, 'AbortError', status);
  if (context.abortedBy === 'deadline')
    return new StoreError('Network', `${what}: no complete answer within the ${context.deadlineMs} ms deadline`, 'DeadlineExceeded', status);
  const kind = classify(e, code, status, context);
  let message = `${what}: ${detail}`;
  if (kind === 'AccessDenied' && e.name === 'CredentialsProviderError') {
    message = `${what}: no AWS credentials found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE or a profile): ${e.message ?? ''}`;
  }
  return new StoreError(kind, message, code, status);
}

function classify(e: SdkErrorShape, code: string, status: number | undefined, context: ErrorContext): StoreErrorKind {
  if (code === 'NoSuchBucket') return 'NoSuchBucket';
  if (e.name === 'CredentialsProviderError') return 'AccessDenied';
  if (NOT_FOUND_CODES.has(code)) return context.bucketLevel ? 'NoSuchBucket' : 'NotFound';
  if (ACCESS_CODES.has(code) || status === 403) return 'AccessDenied';
  if (code === 'PreconditionFailed' || status === 412) return 'PreconditionFailed';
  if (code === 'InvalidRange' || status === 416) return 'InvalidRange';
  if (THROTTLE_CODES.has(code) || status === 503 || status === 429) return 'Throttled';
  if (status === 404) return context.bucketLevel ? 'NoSuchBucket' : 'NotFound';
  if (NETWORK_NAMES.has(e.name ?? '') || NETWORK_CODES.has(e.code ?? '') || NETWORK_CODES.has(code)) return 'Network';
  // A transport failure has no HTTP status; anything with an errno-like code is one.
  if (status === undefined && typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code)) return 'Network';
  return 'Other';
}

async function bucketMessage(mapped: StoreError, bucket: string, endpointDescription: () => Promise<string>): Promise<string> {
  const reason = `${mapped.code}${mapped.status ? `, HTTP ${mapped.status}` : ''}`;
  const detail = mapped.message.replace(/^checkBucket: /, '');
  switch (mapped.kind) {
    case 'NoSuchBucket':
      return `bucket ${bucket} does not exist (${reason})`;
    case 'AccessDenied':
      if (mapped.code === 'CredentialsProviderError') {
        return `no AWS credentials found for bucket ${bucket}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or --profile`;
      }
      return `access denied to bucket ${bucket}: check credentials (${reason})`;
    case 'Network':
      return `cannot reach endpoint ${await endpointDescription()}: ${detail}`;
    case 'Throttled':
      return `bucket ${bucket}: the endpoint is throttling requests (${reason}); try again later`;
    default:
      return `cannot use bucket ${bucket}: ${detail}`;
  }
}
