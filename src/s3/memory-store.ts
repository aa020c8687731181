// The in-memory twin of the S3 store, for unit and model tests: S3's listing semantics
// (prefix, delimiter, common prefixes, UTF-8 byte order, opaque continuation tokens, at most
// 1000 keys a page), ETags that follow the bytes, user metadata, ranges, If-Match and copies;
// with an injectable clock and synchronous seeding. Injected failures, latency and call
// counting are wrappers around it (test/support/faulty-store.ts, src/s3/counting-store.ts).
import { createHash, randomUUID } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import {
  type CopyOptions,
  type GetRangeOptions,
  type ListOptions,
  type ListPage,
  type ObjectInfo,
  type ObjectStore,
  type PartBody,
  type PutBody,
  type PutOptions,
  StoreError,
  type UploadedPart,
  type UploadOptions,
} from './object-store.js';

/** S3's cap on a listing page, and the default page size. */
export const MAX_LIST_KEYS = 1000;
const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
/** S3's smallest part, but for the last one (checked at completion, as S3 does). */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
/** What S3 answers for an object stored without a Content-Type. */
const DEFAULT_CONTENT_TYPE = 'binary/octet-stream';

export interface MemoryStoreOptions {
  /** Clock for lastModified; default the real one. */
  now?: () => Date;
}

/** One stored object. Stored buffers are never mutated in place. */
export interface MemoryObject {
  bytes: Buffer;
  etag: string;
  lastModified: Date;
  metadata: Record<string, string>;
  contentType?: string;
}

function md5(bytes: Buffer): Buffer {
  return createHash('md5').update(bytes).digest();
}

/** The ETag S3 gives: quoted MD5 of the bytes, or for a multipart upload the MD5 of the parts' MD5s and "-parts". */
export function s3Etag(bytes: Buffer, partSize?: number): string {
  if (partSize === undefined || bytes.length <= partSize) return `"${md5(bytes).toString('hex')}"`;
  const digests: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += partSize) digests.push(md5(bytes.subarray(offset, offset + partSize)));
  return `"${md5(Buffer.concat(digests)).toString('hex')}-${digests.length}"`;
}

/** Orders keys as S3 does: by their UTF-8 bytes. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function lowerCaseNames(metadata: Record<string, string> | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(metadata ?? {})) result[name.toLowerCase()] = value;
  return result;
}

/** A multipart upload in progress: its parts by number, each with its ETag. */
interface MemoryUpload {
  key: string;
  options: UploadOptions;
  parts: Map<number, { bytes: Buffer; etag: string }>;
}

interface TokenState {
  /** Listing resumes after this key or common prefix. */
  after: string;
  /** `after` is a common prefix: everything under it was already returned rolled up. */
  rolledUp: boolean;
  prefix: string;
}

export class MemoryStore implements ObjectStore {
  readonly bucket: string;
  now: () => Date;
  /** When false, checkBucket and every other call fail with NoSuchBucket. */
  bucketExists = true;

  private readonly objects = new Map<string, MemoryObject>();
  private readonly uploads = new Map<string, MemoryUpload>();
  private sortedKeys: string[] | undefined;

  constructor(bucket: string = 'bucket', options: MemoryStoreOptions = {}) {
    this.bucket = bucket;
    this.now = options.now ?? (() => new Date());
  }

  // ---- seeding and inspection ---------------------------------------------------------

  /** Stores an object directly, synchronously. */
  putObject(key: string, bytes: Buffer | string, metadata?: Record<string, string>, options: { contentType?: string; partSize?: number } = {}): ObjectInfo {
    const stored = Buffer.from(bytes);
    this.store(key, {
      bytes: stored,
      etag: s3Etag(stored, options.partSize),
      lastModified: this.now(),
      metadata: lowerCaseNames(metadata),
      contentType: options.contentType,
    });
    return this.info(key)!;
  }

  /** A copy of an object's bytes, or undefined. */
  getObject(key: string): Buffer | undefined {
    const object = this.objects.get(key);
    return object ? Buffer.from(object.bytes) : undefined;
  }

  /** What head would answer, synchronously. */
  info(key: string): ObjectInfo | undefined {
    const object = this.objects.get(key);
    return object
      ? {
          key,
          size: object.bytes.length,
          etag: object.etag,
          lastModified: object.lastModified,
          metadata: { ...object.metadata },
          contentType: object.contentType ?? DEFAULT_CONTENT_TYPE,
        }
      : undefined;
  }

  /** Removes an object directly; true when it existed. */
  deleteObject(key: string): boolean {
    const existed = this.objects.delete(key);
    if (existed) this.sortedKeys = undefined;
    return existed;
  }

  /** Multipart uploads created and neither completed nor aborted: "key upload-id". */
  uploadsInProgress(): string[] {
    return [...this.uploads].map(([uploadId, upload]) => `${upload.key} ${uploadId}`);
  }

  /** All keys, in S3 order. */
  keys(): string[] {
    return [...this.sorted()];
  }

  get size(): number {
    return this.objects.size;
  }

  /** Replaces this store's objects with those of another (a "remount" over the same bucket). */
  copyFrom(other: MemoryStore): void {
    this.objects.clear();
    for (const [key, object] of other.objects) this.objects.set(key, { ...object, metadata: { ...object.metadata } });
    this.sortedKeys = undefined;
  }

  // ---- ObjectStore --------------------------------------------------------------------

  async checkBucket(): Promise<void> {
    this.enter('checkBucket', '');
  }

  async head(key: string): Promise<ObjectInfo> {
    this.enter('head', key);
    const info = this.info(key);
    if (!info) throw new StoreError('NotFound', `head ${key}: no such key`, 'NotFound', 404);
    return info;
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    this.enter('list', prefix);
    const maxKeys = options.maxKeys ?? MAX_LIST_KEYS;
    if (!Number.isInteger(maxKeys) || maxKeys < 0) throw new StoreError('Other', `list ${prefix}: invalid maxKeys ${maxKeys}`, 'InvalidArgument', 400);
    const limit = Math.min(maxKeys, MAX_LIST_KEYS);
    if (limit === 0) return { objects: [], commonPrefixes: [] };
    const delimiter = options.delimiter || undefined;
    const resume = options.continuationToken === undefined ? undefined : decodeToken(options.continuationToken, prefix);

    const keys = this.sorted();
    let index = prefix === '' ? 0 : lowerBound(keys, prefix);
    if (resume) index = Math.max(index, upperBound(keys, resume.after));

    const page: ListPage = { objects: [], commonPrefixes: [] };
    let returned = 0;
    let last: TokenState | undefined;
    for (; index < keys.length; index++) {
      const key = keys[index];
      if (!key.startsWith(prefix)) break;
      if (resume?.rolledUp && key.startsWith(resume.after)) continue;
      const cut = delimiter === undefined ? -1 : key.indexOf(delimiter, prefix.length);
      if (cut >= 0) {
        const common = key.slice(0, cut + delimiter!.length);
        if (last?.rolledUp && last.after === common) continue;
        if (returned === limit) return { ...page, nextContinuationToken: encodeToken(last!) };
        page.commonPrefixes.push(common);
        last = { after: common, rolledUp: true, prefix };
      } else {
        if (returned === limit) return { ...page, nextContinuationToken: encodeToken(last!) };
        const object = this.objects.get(key)!;
        page.objects.push({ key, size: object.bytes.length, etag: object.etag, lastModified: object.lastModified });
        last = { after: key, rolledUp: false, prefix };
      }
      returned++;
    }
    return page;
  }

  async getRange(key: string, start: number, end: number, options: GetRangeOptions = {}): Promise<Buffer> {
    this.enter('getRange', key, options.signal);
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
      throw new StoreError('InvalidRange', `getRange ${key}: invalid range [${start}, ${end})`, 'InvalidRange', 416);
    }
    // As the SDK store: an empty range asks nothing of S3.
    if (start === end) return Buffer.alloc(0);
    const object = this.objects.get(key);
    if (!object) throw new StoreError('NotFound', `getRange ${key}: no such key`, 'NoSuchKey', 404);
    if (options.ifMatch !== undefined && options.ifMatch !== object.etag) {
      throw new StoreError('PreconditionFailed', `getRange ${key}: ETag is ${object.etag}, not ${options.ifMatch}`, 'PreconditionFailed', 412);
    }
    if (end > object.bytes.length) {
      throw new StoreError('InvalidRange', `getRange ${key}: range [${start}, ${end}) beyond ${object.bytes.length} bytes`, 'InvalidRange', 416);
    }
    if (options.into) {
      object.bytes.copy(options.into, 0, start, end);
      return options.into.subarray(0, end - start);
    }
    return Buffer.from(object.bytes.subarray(start, end));
  }

  async put(key: string, body: PutBody, options: PutOptions = {}): Promise<{ etag: string }> {
    this.enter('put', key);
    let bytes: Buffer;
    if (Buffer.isBuffer(body)) {
      bytes = Buffer.from(body);
    } else {
      try {
        bytes = await readFile(body.path);
      } catch (error) {
        throw new StoreError('Other', `put ${key}: cannot read ${body.path}: ${(error as Error).message}`, 'ReadFailed');
      }
      if (bytes.length !== body.size)
        throw new StoreError('Other', `put ${key}: ${body.path} holds ${bytes.length} bytes, expected ${body.size}`, 'ReadFailed');
    }
    const etag = s3Etag(bytes, options.partSize ?? DEFAULT_PART_SIZE);
    this.store(key, { bytes, etag, lastModified: this.now(), metadata: lowerCaseNames(options.metadata), contentType: options.contentType });
    return { etag };
  }

  async copy(sourceKey: string, destinationKey: string, options: CopyOptions = {}): Promise<{ etag: string }> {
    this.enter('copy', destinationKey);
    const source = this.objects.get(sourceKey);
    if (!source) throw new StoreError('NotFound', `copy ${sourceKey} -> ${destinationKey}: no such source key`, 'NoSuchKey', 404);
    // A copy is stored in one piece: its ETag is the plain MD5, as S3 gives for CopyObject.
    const etag = s3Etag(source.bytes);
    const metadata = options.metadata ? lowerCaseNames(options.metadata) : { ...source.metadata };
    // As S3: a REPLACE copy takes the Content-Type it names (or the default), a COPY keeps the source's.
    const contentType = options.metadata ? options.contentType : source.contentType;
    this.store(destinationKey, { bytes: source.bytes, etag, lastModified: this.now(), metadata, contentType });
    return { etag };
  }

  async delete(key: string): Promise<void> {
    this.enter('delete', key);
    this.deleteObject(key);
  }

  async createUpload(key: string, options: UploadOptions = {}): Promise<string> {
    this.enter('createUpload', key);
    const uploadId = randomUUID();
    this.uploads.set(uploadId, { key, options: { ...options }, parts: new Map() });
    return uploadId;
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, body: PartBody): Promise<{ etag: string }> {
    this.enter('uploadPart', key);
    const upload = this.upload(key, uploadId);
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10_000)
      throw new StoreError('Other', `uploadPart ${key}: invalid part number ${partNumber}`, 'InvalidArgument', 400);
    // Read into the caller's buffer when given, as the SDK store sends it; S3 keeps a copy.
    const bytes = Buffer.isBuffer(body) ? Buffer.from(body) : Buffer.from(await readRange(key, body.path, body.start, body.end, body.into));
    const etag = `"${md5(bytes).toString('hex')}"`;
    upload.parts.set(partNumber, { bytes, etag });
    return { etag };
  }

  async completeUpload(key: string, uploadId: string, parts: UploadedPart[]): Promise<{ etag: string }> {
    this.enter('completeUpload', key);
    const upload = this.upload(key, uploadId);
    const chosen: Buffer[] = [];
    for (const [index, part] of parts.entries()) {
      if (index > 0 && part.partNumber <= parts[index - 1].partNumber)
        throw new StoreError('Other', `completeUpload ${key}: parts not in ascending order`, 'InvalidPartOrder', 400);
      const sent = upload.parts.get(part.partNumber);
      if (!sent || sent.etag !== part.etag)
        throw new StoreError('Other', `completeUpload ${key}: no part ${part.partNumber} with ETag ${part.etag}`, 'InvalidPart', 400);
      if (index < parts.length - 1 && sent.bytes.length < MIN_PART_SIZE)
        throw new StoreError('Other', `completeUpload ${key}: part ${part.partNumber} holds ${sent.bytes.length} bytes`, 'EntityTooSmall', 400);
      chosen.push(sent.bytes);
    }
    if (chosen.length === 0) throw new StoreError('Other', `completeUpload ${key}: no parts`, 'MalformedXML', 400);
    this.uploads.delete(uploadId);
    const etag = `"${md5(Buffer.concat(chosen.map(md5))).toString('hex')}-${chosen.length}"`;
    const { metadata, contentType } = upload.options;
    this.store(key, { bytes: Buffer.concat(chosen), etag, lastModified: this.now(), metadata: lowerCaseNames(metadata), contentType });
    return { etag };
  }

  async abortUpload(key: string, uploadId: string): Promise<void> {
    this.enter('abortUpload', key);
    // An upload already gone counts as aborted, as in the SDK store.
    if (this.uploads.get(uploadId)?.key === key) this.uploads.delete(uploadId);
  }

  // ---- internals ----------------------------------------------------------------------

  private upload(key: string, uploadId: string): MemoryUpload {
    const upload = this.uploads.get(uploadId);
    if (!upload || upload.key !== key) throw new StoreError('NotFound', `${key}: no multipart upload ${uploadId}`, 'NoSuchUpload', 404);
    return upload;
  }

  private store(key: string, object: MemoryObject): void {
    if (!this.objects.has(key)) this.sortedKeys = undefined;
    this.objects.set(key, object);
  }

  private sorted(): string[] {
    if (!this.sortedKeys) {
      const decorated = [...this.objects.keys()].map((key) => ({ key, bytes: Buffer.from(key, 'utf8') }));
      decorated.sort((a, b) => Buffer.compare(a.bytes, b.bytes));
      this.sortedKeys = decorated.map((entry) => entry.key);
    }
    return this.sortedKeys;
  }

  /** An aborted call, or any call on a bucket that does not exist, fails as S3 would make it. */
  private enter(operation: string, key: string, signal?: AbortSignal): void {
    if (signal?.aborted) throw new StoreError('Network', `${operation} ${key}: aborted by the caller`, 'AbortError');
    if (!this.bucketExists) throw new StoreError('NoSuchBucket', `bucket ${this.bucket} does not exist`, 'NoSuchBucket', 404);
  }
}

/** Bytes [start, end) of a local file, as the SDK store reads a part. */
async function readRange(key: string, path: string, start: number, end: number, into?: Buffer): Promise<Buffer> {
  const bytes = into ? into.subarray(0, end - start) : Buffer.alloc(end - start);
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(path, 'r');
    const { bytesRead } = await handle.read(bytes, 0, bytes.length, start);
    if (bytesRead !== bytes.length) throw new Error(`ends before ${end}`);
    return bytes;
  } catch (error) {
    throw new StoreError('Other', `uploadPart ${key}: cannot read ${path}: ${(error as Error).message}`, 'ReadFailed');
  } finally {
    await handle?.close();
  }
}

/** Index of the first key >= `target` in S3 order. */
function lowerBound(keys: string[], target: string): number {
  const bytes = Buffer.from(target, 'utf8');
  let low = 0;
  let high = keys.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (Buffer.compare(Buffer.from(keys[mid], 'utf8'), bytes) < 0) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** Index of the first key > `target` in S3 order. */
function upperBound(keys: string[], target: string): number {
  const bytes = Buffer.from(target, 'utf8');
  let low = 0;
  let high = keys.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (Buffer.compare(Buffer.from(keys[mid], 'utf8'), bytes) <= 0) low = mid + 1;
    else high = mid;
  }
  return low;
}

function encodeToken(state: TokenState): string {
  return Buffer.from(JSON.stringify([state.after, state.rolledUp ? 1 : 0, state.prefix]), 'utf8').toString('base64url');
}

function decodeToken(token: string, prefix: string): TokenState {
  const invalid = () => new StoreError('Other', `list ${prefix}: invalid continuation token`, 'InvalidArgument', 400);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(parsed) || typeof parsed[0] !== 'string' || (parsed[1] !== 0 && parsed[1] !== 1) || parsed[2] !== prefix) throw invalid();
  return { after: parsed[0], rolledUp: parsed[1] === 1, prefix };
}
