// One file being written: a local copy under the staging directory that every handle
// on the key shares, uploaded when a dirty copy is flushed (a big one part by part, partly
// while it is written: part-uploads.ts).
import { writeSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { isStoreError, type ObjectStore } from '../../s3/object-store.js';
import { type FileTimes, now } from '../attributes/times.js';
import { FsError } from '../errors.js';
import type { ReadTarget } from '../nodes.js';
import { ContentDigest } from './content-digest.js';
import type { OpenUpload, PartUploads } from './part-uploads.js';
import { removeFile } from './remove-file.js';
import { WriteGate } from './write-gate.js';

/** File attributes carried by a staged copy, uploaded as s3fs-compatible metadata. */
export interface StagedAttributes extends FileTimes {
  /** Type and permission bits. */
  mode: number;
  uid: number;
  gid: number;
  /** Device number (character and block devices only). */
  rdev?: number;
}

// Editing an existing object copies it into staging in ranges of this size, a few at once.
const FETCH_CHUNK = 8 * 1024 * 1024;
const FETCH_PARALLEL = 4;

/** What survives a crash of the process about a staged copy (see write-stage.ts). */
export interface StagedState {
  dirty: boolean;
  /** The local copy holds every byte of the file (not only the edited ranges). */
  complete: boolean;
  attributes: StagedAttributes;
  /** Multipart uploads under way, to abort when the process died before it ended them. */
  uploads?: OpenUpload[];
}

export class StagedFile {
  /** Bytes of the staged copy (the object's size until it is materialized). */
  size: number;
  attributes: StagedAttributes;
  /** Changed since the last successful upload. */
  dirty: boolean;
  /** Bumped by every change, so an upload knows whether it captured the latest state. */
  version = 0;
  /** Open handles on this copy. */
  refs = 0;
  /** Set when an upload failed; the path is logged so nothing is silently lost. */
  lastUploadError?: Error;

  /** Told, and awaited, whenever the state a restart would need changes. */
  journal?: (state: StagedState) => Promise<void>;
  /**
   * Asked for the version S3 holds now when the base object was replaced before its bytes
   * were copied (GET with its ETag → 412): the copy then starts from what S3 holds.
   */
  rebase?: (stale: ReadTarget) => Promise<ReadTarget>;
  /** The multipart upload sent while the file is written; set by the write stage. */
  parts?: PartUploads;
  /**
   * The largest copy uploaded in one PUT (the write stage sets the part size): writes ending
   * at or below it go in on the JavaScript thread, and the copy's hash is kept up to it.
   */
  onePutUpTo = Number.POSITIVE_INFINITY;
  /**
   * The largest file S3 can take (10,000 parts of the part size, at most 5 TiB; the write stage
   * sets it): a write or truncate past it is EFBIG at once, as on a disk at its largest file,
   * rather than EIO at close() with a copy staged that no upload can save.
   */
  maxSize = Number.POSITIVE_INFINITY;
  /** Writes and truncates run side by side; an upload runs alone (see upload()). */
  private readonly gate = new WriteGate();
  private deleted = false;
  /** Where the last write ended: a write starting there (or at the end of the file) is sequential. */
  private lastWriteEnd?: number;

  /** SHA-256 of the whole copy while it was only ever written in order from empty (its end is then the size). */
  private digest?: ContentDigest;
  private handle?: FileHandle;
  private materializing?: Promise<void>;
  /** The local file being opened (see openLocal). */
  private opening?: Promise<void>;
  /** The local file holds every byte (materializing has ended well). */
  private materialized = false;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    public key: string,
    readonly localPath: string,
    private readonly store: ObjectStore,
    /** The object version whose bytes the copy starts from; undefined for a new, empty file. */
    private base: ReadTarget | undefined,
    attributes: StagedAttributes,
    dirty: boolean,
  ) {
    this.size = base?.size ?? 0;
    if (this.size === 0) this.digest = new ContentDigest();
    this.attributes = attributes;
    this.dirty = dirty;
  }

  /** Set by unlink (and a rename over the file): a deleted file is never uploaded again. */
  get unlinked(): boolean {
    return this.deleted;
  }

  /** Setting it gives up the upload sent while the file was written (aborted, no parts left). */
  set unlinked(value: boolean) {
    this.deleted = value;
    if (value) void this.parts?.cancel();
  }

  /**
   * The object was renamed to `key`, copied as `etag` (the same bytes): the copy holds the
   * bytes not fetched yet (a file opened for writing and not written before the rename).
   */
  moved(key: string, etag: string): void {
    if (this.base) this.base = { ...this.base, key, etag };
  }

  /** The exclusive tasks of this copy start after those of `previous` (an earlier copy of the same key). */
  follow(previous: StagedFile): void {
    this.tail = previous.tail;
  }

  /**
   * Runs `work` (an upload of the copy) with no write or truncate in progress and none
   * starting until it ends, so that what it reads is one state of the file.
   */
  alone<T>(work: () => Promise<T>): Promise<T> {
    return this.gate.alone(work);
  }

  /** Runs `work` after every earlier exclusive task of this file (uploads, truncates). */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    const result = this.tail.then(work);
    this.tail = result.catch(() => undefined);
    return result;
  }

  async write(data: Buffer, position: number): Promise<number> {
    if (position + data.length > this.maxSize) {
      this.refusePastMaxSize(position + 1);
      data = data.subarray(0, this.maxSize - position); // a short write up to the limit, as write(2) does
    }
    await this.materialize();
    return this.gate.change(async () => {
      let bytesWritten: number;
      if (this.writesOnThread(position, data.length)) {
        bytesWritten = this.writeLocal(data, position);
      } else {
        const sequential = this.isSequential(position);
        ({ bytesWritten } = await this.file().write(data, 0, data.length, position));
        this.wrote(data, position, bytesWritten, sequential);
      }
      await this.touch();
      return bytesWritten;
    });
  }

  /**
   * The write done at once when nothing stands in its way (the copy is whole and open, already
   * dirty so nothing is to be journaled first, no change or upload under way); else undefined,
   * and write() is the way. Each FUSE write of a stream waits for the answer to the one before.
   */
  writeNow(data: Buffer, position: number): number | undefined {
    if (!this.materialized || !this.handle || !this.dirty || !this.gate.idle || !this.writesOnThread(position, data.length)) return undefined;
    const bytesWritten = this.writeLocal(data, position);
    this.stampWrite();
    this.version++;
    return bytesWritten;
  }

  /**
   * On this thread: a write of at most 128 KiB into the page cache costs less than the trip
   * through libuv's pool. Not past `onePutUpTo`: a big file's parts are uploaded while
   * it is written, and a write held up by the kernel's throttling of dirty pages must not
   * hold up the event loop that sends them.
   */
  private writesOnThread(position: number, length: number): boolean {
    return position + length <= this.onePutUpTo;
  }

  private isSequential(position: number): boolean {
    return position === this.lastWriteEnd || position === this.size;
  }

  private writeLocal(data: Buffer, position: number): number {
    const sequential = this.isSequential(position);
    const bytesWritten = writeSync(this.file().fd, data, 0, data.length, position);
    this.wrote(data, position, bytesWritten, sequential);
    return bytesWritten;
  }

  private wrote(data: Buffer, position: number, bytesWritten: number, sequential: boolean): void {
    // Past one PUT's size the copy goes in parts, each hashed as it is sent: no hash to keep.
    const kept = position === this.size && position === this.digest?.end && position + bytesWritten <= this.onePutUpTo;
    if (kept) this.digest?.append(data.subarray(0, bytesWritten));
    else this.dropDigest();
    this.size = Math.max(this.size, position + bytesWritten);
    this.lastWriteEnd = position + bytesWritten;
    this.parts?.written(position, position + bytesWritten, sequential);
  }

  async read(position: number, length: number): Promise<Buffer> {
    await this.materialize();
    const end = Math.min(position + length, this.size);
    if (position >= end) return Buffer.alloc(0);
    const buffer = Buffer.allocUnsafe(end - position);
    let filled = 0;
    while (filled < buffer.length) {
      const { bytesRead } = await this.file().read(buffer, filled, buffer.length - filled, position + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    // The local file ends before `end` only while a truncate that shrinks it is under way (the
    // size is set once the file is cut; a grown file reads its zeros from the file itself):
    // the read ends where the file now ends, as on a local disk. Zeros in their place were
    // read as the file's bytes: `cat` of a file another process rewrote with `echo > f`
    // printed the old length in NULs.
    return buffer.subarray(0, filled);
  }

  async truncate(size: number): Promise<void> {
    this.refusePastMaxSize(size);
    if (size === 0) {
      // Truncating to zero needs none of the old bytes: skip fetching them, and let a copy
      // already under way (for a reader) end without caring whether it worked.
      await this.materializing?.catch(() => undefined);
      if (this.base) {
        this.base = undefined;
        this.materializing = undefined;
        this.materialized = false;
      }
      await this.openLocal();
    } else {
      await this.materialize();
    }
    await this.gate.change(() => this.resize(size));
  }

  /** fallocate without FALLOC_FL_KEEP_SIZE: a shorter file grows to `size` (zeros); never shrinks. */
  async extendTo(size: number): Promise<void> {
    this.refusePastMaxSize(size);
    await this.materialize();
    await this.gate.change(async () => {
      if (size > this.size) await this.resize(size);
    });
  }

  private refusePastMaxSize(size: number): void {
    if (size > this.maxSize) throw new FsError('EFBIG', `${this.key}: S3 takes no file larger than ${this.maxSize} bytes`);
  }

  private async resize(size: number): Promise<void> {
    await this.file().truncate(size);
    if (size === 0) {
      this.dropDigest();
      this.digest = new ContentDigest();
    } else if (size !== this.digest?.end) {
      this.dropDigest();
    }
    const previous = this.size;
    this.size = size;
    this.parts?.truncated(size, previous);
    await this.touch();
  }

  async setAttributes(changes: Partial<StagedAttributes>): Promise<void> {
    // An upload under way carries the attributes of its start: the flush uploads anew.
    void this.parts?.cancel();
    this.attributes = { ...this.attributes, ...changes };
    await this.changed();
  }

  /** Called once an upload saved `version`: the copy is clean unless it changed meanwhile. */
  async saved(version: number): Promise<void> {
    if (this.version !== version || !this.dirty) return;
    this.dirty = false;
    await this.journal?.(this.state());
  }

  state(): StagedState {
    const state: StagedState = { dirty: this.dirty, complete: this.base === undefined, attributes: this.attributes };
    const uploads = this.parts?.openUploads() ?? [];
    if (uploads.length > 0) state.uploads = uploads;
    return state;
  }

  /**
   * The staged bytes as an upload body. Writes through the file handle are visible to the
   * upload's own reads at once; no disk sync is needed, since once the upload succeeds S3
   * holds the bytes, and until then the page cache outlives a crash of this process.
   */
  async prepareUpload(): Promise<{ path: string; size: number; sha256?: string }> {
    await this.materialize();
    const sha256 = this.digest?.end === this.size ? this.digest.current() : undefined;
    return { path: this.localPath, size: this.size, sha256 };
  }

  private dropDigest(): void {
    this.digest?.dispose();
    this.digest = undefined;
  }

  async discard(): Promise<void> {
    this.dropDigest();
    // Parts in flight read the local file: they end (and their upload is aborted) first.
    await this.parts?.cancel();
    await this.handle?.close().catch(() => undefined);
    this.handle = undefined;
    await removeFile(this.localPath);
  }

  private async touch(): Promise<void> {
    this.stampWrite();
    await this.changed();
  }

  private stampWrite(): void {
    // A write changes the contents: mtime and ctime (POSIX). Not while a multipart upload is
    // under way: S3 took the times when it was created, and the file keeps what S3 will hold.
    if (!this.parts?.metadataSent) {
      const present = now();
      this.attributes = { ...this.attributes, mtime: present, ctime: present };
    }
  }

  private async changed(): Promise<void> {
    this.version++;
    const wasDirty = this.dirty;
    this.dirty = true;
    // The first change after a save is journaled before it is acknowledged.
    if (!wasDirty) await this.journal?.(this.state());
  }

  private file(): FileHandle {
    if (!this.handle) throw new Error(`staged copy of ${this.key} is not open`);
    return this.handle;
  }

  private async openLocal(): Promise<void> {
    if (this.handle) return;
    // One open at a time: a truncate to zero and a reader's materialize() arriving together
    // each opened it ('w+'), and the handle overwritten was left for the garbage collector
    // to close (Node's "Closing file descriptor N on garbage collection").
    this.opening ??= open(this.localPath, 'w+', 0o600)
      .then((handle) => {
        this.handle = handle;
      })
      .finally(() => {
        this.opening = undefined;
      });
    await this.opening;
  }

  /** Copies the base object into the local file once, on first need. */
  private materialize(): Promise<void> {
    this.materializing ??= (async () => {
      await this.openLocal();
      let base = this.base;
      if (!base || base.size === 0) return;
      try {
        await this.fetchBase(base);
      } catch (error) {
        // Removed by another writer before its bytes were copied (and not moved by a rename of
        // ours meanwhile): the file is gone, as if unlinked under its handles. The change fails
        // with ENOENT once; the copy, which could never hold the whole file, is not uploaded.
        if (isStoreError(error, 'NotFound') && this.base === base) this.unlinked = true;
        if (!this.rebase || !isStoreError(error, 'PreconditionFailed')) throw error;
        // Replaced by another writer before any byte was copied: start from the new version.
        const stale = base;
        base = await this.rebase(stale);
        if (this.size === stale.size) this.size = base.size;
        this.base = base;
        await this.file().truncate(base.size);
        await this.fetchBase(base);
      }
      this.base = undefined;
    })().then(
      () => {
        this.materialized = true;
      },
      (error: unknown) => {
        // Let a later call try again rather than serve a half-fetched copy.
        this.materializing = undefined;
        throw error;
      },
    );
    return this.materializing;
  }

  private async fetchBase(base: ReadTarget): Promise<void> {
    const starts = Array.from({ length: Math.ceil(base.size / FETCH_CHUNK) }, (_, i) => i * FETCH_CHUNK);
    for (let i = 0; i < starts.length; i += FETCH_PARALLEL) {
      await Promise.all(
        starts.slice(i, i + FETCH_PARALLEL).map(async (start) => {
          const bytes = await this.store.getRange(base.key, start, Math.min(start + FETCH_CHUNK, base.size), { ifMatch: base.etag });
          await this.file().write(bytes, 0, bytes.length, start);
        }),
      );
    }
  }
}
