// Files being written, by key: one staged copy per key shared by all its handles,
// uploaded when flushed while dirty, kept (and retried) when an upload fails. Copies above
// the part size go up part by part, parts filled by sequential writes while they are written
// (part-uploads.ts).
import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import pLimit, { type LimitFunction } from 'p-limit';
import type { Logger } from '../../log.js';
import type { ObjectStore } from '../../s3/object-store.js';
import { formatEpochSeconds } from '../attributes/times.js';
import type { ReadTarget, StoredObject } from '../nodes.js';
import { contentTypeFor } from './content-type.js';
import { PartSlots } from './part-slots.js';
import { largestUpload, PartUploads } from './part-uploads.js';
import { SidecarJournal } from './sidecar-journal.js';
import { type StagedAttributes, StagedFile } from './staged-file.js';
import { sidecarPath } from './staged-sidecar.js';

/**
 * Parts of multipart uploads in flight at once, all files together: each is a buffer of the
 * part size (64 MiB with the default 8 MiB parts). 8 rather than lib-storage's 4: a close of a
 * big file none of whose parts went early was quicker with 8 (docs/benchmarks.md).
 */
export const PARTS_IN_FLIGHT = 8;

/** Single PUTs of at least this many bytes borrow a part buffer when one is free. */
export const POOLED_BODY_MIN = 1024 * 1024;

export interface WriteStageOptions {
  /** Directory for staged copies (created 0700). */
  directory: string;
  /** Bucket the keys belong to, recorded so that recovery after a crash uploads to the right place. */
  bucket: string;
  /** The endpoint the bucket is reached at, recorded for the same reason: two endpoints can have buckets of one name. */
  endpoint?: string;
  /** Above this size uploads are multipart, in parts of this size. */
  partSize: number;
  /** The version S3 holds now of an object replaced before a copy of it was made. */
  currentVersion?: (stale: ReadTarget) => Promise<ReadTarget>;
  /** Uploads of whole files in flight at once (single PUTs), all files together; more wait for one to end. */
  maxUploads: number;
  /** Parts in flight at once (default PARTS_IN_FLIGHT). */
  partsInFlight?: number;
}

/** Uploads running, and uploads waiting for one of them to end. */
export interface UploadCounts {
  inFlight: number;
  waiting: number;
}

/** What an upload stored, so the caller can write it into the caches. */
export type UploadResult = StoredObject;

export class WriteStage {
  private readonly files = new Map<string, StagedFile>();
  private readonly journals = new WeakMap<StagedFile, SidecarJournal>();
  private readonly uploadSlots: LimitFunction;
  private readonly slots: PartSlots;
  private ready?: Promise<void>;

  constructor(
    private readonly store: ObjectStore,
    private readonly log: Logger,
    private readonly options: WriteStageOptions,
  ) {
    this.uploadSlots = pLimit(options.maxUploads);
    this.slots = new PartSlots(options.partsInFlight ?? PARTS_IN_FLIGHT, options.partSize);
  }

  /** Single-PUT uploads running, and those waiting for one of them to end. */
  get uploads(): UploadCounts {
    return { inFlight: this.uploadSlots.activeCount, waiting: this.uploadSlots.pendingCount };
  }

  get(key: string): StagedFile | undefined {
    return this.files.get(key);
  }

  /** Staged keys directly inside `dirPrefix` (new files not yet in any listing). */
  childrenOf(dirPrefix: string): StagedFile[] {
    return [...this.files.values()].filter((file) => file.key.startsWith(dirPrefix) && !file.key.slice(dirPrefix.length).includes('/'));
  }

  /** Staged keys anywhere under `prefix`. */
  under(prefix: string): StagedFile[] {
    return [...this.files.values()].filter((file) => file.key.startsWith(prefix));
  }

  /**
   * The staged copy of `key`, created from `base` (or empty) when there is none, or when the
   * one there was unlinked (its handles keep it; a new file by the same name is a new copy);
   * one more handle on it.
   */
  async acquire(key: string, base: ReadTarget | undefined, attributes: StagedAttributes, options: { created: boolean }): Promise<StagedFile> {
    await this.prepareDirectory();
    const existing = this.files.get(key);
    if (existing && !existing.unlinked) {
      existing.refs++;
      return existing;
    }
    const id = randomUUID();
    const localPath = join(this.options.directory, `${id}.data`);
    const staged = new StagedFile(key, localPath, this.store, base, attributes, options.created);
    // Counted before anything is awaited, so that a handle released meanwhile cannot drop it.
    staged.refs++;
    this.files.set(key, staged);
    // Uploads of one key happen in the order its copies were made: an upload of an unlinked
    // copy still running finishes before one of the new copy starts.
    if (existing) staged.follow(existing);
    staged.rebase = this.options.currentVersion;
    // A sidecar records what a restart needs to save these bytes if this process dies
    // (src/fs/staged-recovery.ts); it is rewritten whenever the file turns dirty or clean.
    const journal = new SidecarJournal(sidecarPath(localPath), () => ({
      key: staged.key,
      bucket: this.options.bucket,
      ...(this.options.endpoint !== undefined && { endpoint: this.options.endpoint }),
      pid: process.pid,
      ...staged.state(),
    }));
    this.journals.set(staged, journal);
    staged.journal = () => journal.write();
    staged.onePutUpTo = this.options.partSize;
    staged.maxSize = largestUpload(this.options.partSize);
    staged.parts = new PartUploads(staged, this.store, this.log, {
      partSize: this.options.partSize,
      slots: this.slots,
      describe: () => ({ metadata: toMetadata(staged.attributes), contentType: contentTypeFor(staged.key) }),
      // Open uploads are recorded so that a restart after a crash aborts them (staged-recovery.ts).
      uploadsChanged: () =>
        void journal.write().catch((error: unknown) => this.log.warn({ key: staged.key, err: error }, 'sidecar of a staged copy not rewritten')),
    });
    try {
      await journal.write();
    } catch (error) {
      staged.refs--;
      await this.forget(staged);
      throw error;
    }
    return staged;
  }

  /**
   * Uploads the staged copy when it is dirty. Fails (and keeps the copy dirty) when the
   * upload fails; the next flush, fsync or the unmount tries again.
   */
  async flush(file: StagedFile): Promise<UploadResult | undefined> {
    return file.exclusive(async () => {
      if (!file.dirty || file.unlinked) return undefined;
      // Writes and truncates wait while the upload reads the copy: it sends one state of it.
      return file.alone(async () => {
        const version = file.version;
        const body = await file.prepareUpload();
        try {
          const { key } = file;
          const { etag, sentAt, metadata, contentType } = await this.upload(file, body);
          const doneAt = new Date();
          file.lastUploadError = undefined;
          await file.saved(version);
          return { key, etag, size: body.size, metadata, contentType, sentAt, doneAt };
        } catch (error) {
          if (file.unlinked) {
            this.log.info(
              { key: file.key, err: error },
              'the object was removed by another writer before its bytes were copied: the changes to it are dropped',
            );
            throw error;
          }
          file.lastUploadError = error as Error;
          this.log.error(
            { key: file.key, staged: file.localPath, err: error },
            'upload failed; the bytes stay staged and are retried at the next flush, fsync or unmount',
          );
          throw error;
        }
      });
    });
  }

  /**
   * A copy above the part size completes its multipart upload; a smaller one is one PUT, at
   * most maxUploads at once. Says what was stored: a multipart upload's metadata are those of
   * its creation, which may predate the flush, so they are not told.
   */
  private async upload(file: StagedFile, body: { path: string; size: number; sha256?: string }): Promise<Omit<UploadResult, 'key' | 'size' | 'doneAt'>> {
    if (body.size > this.options.partSize && file.parts) {
      const sentAt = new Date();
      try {
        return { etag: await file.parts.complete(body.size), sentAt };
      } finally {
        // An upload given up earlier (a truncate to zero) is aborted before the flush returns.
        await file.parts.settled();
      }
    }
    // Shrunk below the part size since parts were sent: those go.
    await file.parts?.cancel();
    const metadata = toMetadata(file.attributes);
    const contentType = contentTypeFor(file.key);
    return this.uploadSlots(async () => {
      // A big body is read into a part buffer when one is free: a fresh buffer of megabytes
      // per PUT costs more in page faults than reading the file.
      const slot = body.size >= POOLED_BODY_MIN && body.size <= this.options.partSize ? this.slots.tryAcquire() : undefined;
      try {
        const sentAt = new Date();
        const { path, size, sha256 } = body;
        const sent = slot ? { path, size, into: slot.buffer } : { path, size };
        const { etag } = await this.store.put(file.key, sent, { metadata, contentType, partSize: this.options.partSize, sha256 });
        return { etag, sentAt, metadata, contentType };
      } finally {
        slot?.release();
      }
    });
  }

  /** One handle fewer; the staged copy goes away with the last handle unless it still holds unsaved bytes. */
  async release(file: StagedFile): Promise<void> {
    file.refs = Math.max(0, file.refs - 1);
    if (file.refs > 0 || (file.dirty && !file.unlinked)) return;
    await this.forget(file);
  }

  /** Drops a staged copy whatever its state (after unlink, or once uploaded and closed). */
  async forget(file: StagedFile): Promise<void> {
    if (this.files.get(file.key) === file) this.files.delete(file.key);
    // An upload of the copy in progress ends first (it reads the local file).
    await file.exclusive(async () => undefined);
    await file.discard();
    await (this.journals.get(file)?.remove() ?? rm(sidecarPath(file.localPath), { force: true }));
  }

  /** Waits for an upload of the copy in progress, if any, and for the abort of one given up. */
  async settled(file: StagedFile): Promise<void> {
    await file.exclusive(async () => undefined);
    await file.parts?.settled();
  }

  /**
   * Moves a staged copy to a new key (rename of an open file, or of a directory above it);
   * `etag` is the copy's that holds its bytes there, when one was made.
   */
  async rekey(file: StagedFile, key: string, etag?: string): Promise<void> {
    // Parts sent since the rename's flush went to the old key: the next flush starts anew.
    await file.parts?.cancel();
    this.files.delete(file.key);
    // Bytes not fetched yet are fetched from the copy: the old key is gone.
    if (etag !== undefined) file.moved(key, etag);
    file.key = key;
    this.files.set(key, file);
    await file.journal?.(file.state());
  }

  /** Uploads everything still dirty (at unmount); returns the keys that could not be saved. */
  async flushAll(): Promise<string[]> {
    const failed: string[] = [];
    for (const file of [...this.files.values()]) {
      try {
        await this.flush(file);
        if (file.refs === 0) await this.forget(file);
      } catch {
        failed.push(`${file.key} (staged at ${file.localPath})`);
      }
    }
    return failed;
  }

  private prepareDirectory(): Promise<void> {
    this.ready ??= mkdir(this.options.directory, { recursive: true, mode: 0o700 }).then(() => undefined);
    return this.ready;
  }
}

/**
 * s3fs-compatible attribute metadata: mode with type bits, owner, the three times in epoch
 * seconds (with nine decimals when they have a fraction) and a device's rdev.
 */
export function toMetadata(attributes: StagedAttributes): Record<string, string> {
  const metadata: Record<string, string> = {
    mode: String(attributes.mode),
    uid: String(attributes.uid),
    gid: String(attributes.gid),
    atime: formatEpochSeconds(attributes.atime),
    mtime: formatEpochSeconds(attributes.mtime),
    ctime: formatEpochSeconds(attributes.ctime),
  };
  if (attributes.rdev) metadata.rdev = String(attributes.rdev);
  return metadata;
}
