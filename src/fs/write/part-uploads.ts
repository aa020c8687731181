// The multipart upload of a staged copy, sent while the file is being written. A sequential
// writer that fills a part of the staged copy gets it uploaded in the background, so that
// close() or fsync() of a big file waits only for the parts not sent yet and the completion.
//
// The staged copy stays the truth: a part is read from it when it is sent (nothing is held in
// between), and every change bumps a generation per part, so a part that changed after (or
// while) it was sent is sent again, under the same part number, by the flush, which completes
// the upload only with parts that hold the copy as it is then (writes wait meanwhile). Until a
// flush completes it, an upload shows nothing in the bucket; one that is given up (unlink,
// rename, truncate to zero, an attribute change, a failed flush) is aborted once its parts in
// flight are done, so that no parts are left behind.
import type { Logger } from '../../log.js';
import type { ObjectStore, UploadOptions } from '../../s3/object-store.js';
import type { PartSlots } from './part-slots.js';

/** S3's most parts in one upload. */
const MAX_PARTS = 10_000;
/** S3's largest object: 5 TiB. */
const MAX_OBJECT_BYTES = 5 * 1024 ** 4;

/** The largest file S3 takes from uploads in parts of `partSize` bytes. */
export function largestUpload(partSize: number): number {
  return Math.min(MAX_PARTS * partSize, MAX_OBJECT_BYTES);
}

/** The staged copy the parts are read from. */
export interface PartSource {
  readonly key: string;
  readonly localPath: string;
  readonly size: number;
  readonly unlinked: boolean;
}

export interface PartUploadsOptions {
  /** Size of every part but the last; uploads are multipart only above it. */
  partSize: number;
  /** Parts in flight, shared by every file of the stage (each one is a buffer of partSize). */
  slots: PartSlots;
  /** Metadata and Content-Type of a new upload: S3 fixes them when the upload is created. */
  describe: () => UploadOptions;
  /** Told when an upload is created or ended (the sidecar records open ones for recovery). */
  uploadsChanged?: () => void;
}

/** A multipart upload created on S3 and neither completed nor aborted yet. */
export interface OpenUpload {
  key: string;
  uploadId: string;
}

interface SentPart {
  etag: string;
  /** The part's generation when its bytes were read. */
  generation: number;
  length: number;
}

/** One multipart upload (one upload id) of one key. */
class Session {
  readonly parts = new Map<number, SentPart>();
  readonly sending = new Map<number, Promise<void>>();
  /** Generation of each part when its last send started. */
  readonly attempted = new Map<number, number>();
  /** Set when the upload is given up: sends not started yet are skipped. */
  cancelled = false;
  /** A send failed: no more background sends; the flush sends again what is missing. */
  failure?: Error;

  constructor(
    readonly key: string,
    readonly created: Promise<string>,
  ) {
    // Awaited by every send and by the end of the session; a failure is theirs to report.
    created.catch(() => undefined);
  }
}

export class PartUploads {
  private session?: Session;
  /** Changes per part since the copy was made: a part sent at generation g is current while it stays g. */
  private readonly generations: number[] = [];
  /** Parts below this were handed to the background in the current session (each one once). */
  private eagerFrom = 0;
  private readonly open = new Map<string, string>();
  private readonly ending = new Set<Promise<void>>();

  constructor(
    private readonly source: PartSource,
    private readonly store: ObjectStore,
    private readonly log: Logger,
    private readonly options: PartUploadsOptions,
  ) {}

  /**
   * An upload was created with the file's metadata of that moment: until it is completed or
   * given up, writes leave the file's times as they were sent (staged-file.ts).
   */
  get metadataSent(): boolean {
    return this.session !== undefined;
  }

  /** Uploads created and not yet completed or aborted (recorded in the sidecar). */
  openUploads(): OpenUpload[] {
    return [...this.open].map(([uploadId, key]) => ({ key, uploadId }));
  }

  /**
   * Bytes [start, end) of the copy were written (they are in the local file). A sequential
   * write hands every full part below `end` not handed over yet in this upload to the
   * background; a part changed after it was sent waits for the flush.
   */
  written(start: number, end: number, sequential: boolean): void {
    this.changed(start, end);
    const { partSize } = this.options;
    const full = Math.min(Math.floor(end / partSize), MAX_PARTS);
    // A file of one part is a single PUT at the flush.
    if (!sequential || full <= this.eagerFrom || this.source.size <= partSize || this.source.unlinked || this.session?.failure) return;
    this.session ??= this.startSession();
    for (let index = this.eagerFrom; index < full; index++) this.sendInBackground(this.session, index);
    this.eagerFrom = full;
  }

  /** The copy was truncated from `previous` to `size` bytes. */
  truncated(size: number, previous: number): void {
    if (size === 0) {
      // Nothing sent is of any use any more.
      void this.cancel();
      return;
    }
    this.changed(Math.min(size, previous), Math.max(size, previous));
    this.eagerFrom = Math.min(this.eagerFrom, Math.floor(size / this.options.partSize));
  }

  /** Gives the upload up (when there is one): it is aborted once its parts in flight are done. Resolves then. */
  cancel(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    this.eagerFrom = 0;
    if (!session) return this.settled();
    return this.end(session);
  }

  /** Resolves once the uploads given up are aborted. */
  async settled(): Promise<void> {
    await Promise.all([...this.ending]);
  }

  /**
   * Completes an upload of the copy as it is now (`size` bytes, above the part size, with no
   * write under way): sends every part that does not hold the copy's bytes yet, then
   * CompleteMultipartUpload. On failure the upload is aborted and the error thrown; later
   * writes start a new upload either way.
   */
  async complete(size: number): Promise<string> {
    let session = this.session;
    if (session && session.key !== this.source.key) {
      await this.cancel();
      session = undefined;
    }
    session ??= this.startSession();
    this.session = undefined;
    this.eagerFrom = 0;
    try {
      await Promise.allSettled(session.sending.values());
      // A background failure is not final: the flush sends those parts again.
      session.failure = undefined;
      const { partSize } = this.options;
      const count = Math.ceil(size / partSize);
      const lengthOf = (index: number) => Math.min(partSize, size - index * partSize);
      if (count > MAX_PARTS) throw new Error(`${session.key}: ${size} bytes need ${count} parts of ${partSize} bytes; S3 takes at most ${MAX_PARTS}`);
      const sends: Promise<void>[] = [];
      for (let index = 0; index < count; index++) {
        if (this.current(session, index, lengthOf(index))) continue;
        // The first failure skips the sends still waiting for a slot.
        const sending = this.send(session, index, lengthOf(index));
        sending.catch((error: unknown) => (session.failure ??= error as Error));
        sends.push(sending);
      }
      const failed = (await Promise.allSettled(sends)).find((result) => result.status === 'rejected');
      if (failed) throw failed.reason;
      const parts = Array.from({ length: count }, (_, index) => {
        const part = session.parts.get(index);
        if (!part || !this.current(session, index, lengthOf(index))) throw new Error(`part ${index + 1} of ${session.key} changed during its flush`);
        return { partNumber: index + 1, etag: part.etag };
      });
      const uploadId = await session.created;
      const { etag } = await this.store.completeUpload(session.key, uploadId, parts);
      this.closed(uploadId);
      return etag;
    } catch (error) {
      await this.end(session);
      throw error;
    }
  }

  private startSession(): Session {
    const key = this.source.key;
    const session = new Session(
      key,
      this.store.createUpload(key, this.options.describe()).then((uploadId) => {
        this.open.set(uploadId, key);
        this.options.uploadsChanged?.();
        return uploadId;
      }),
    );
    return session;
  }

  /** Sends a full part in the background; a failure stops background sends until the flush. */
  private sendInBackground(session: Session, index: number): void {
    this.send(session, index, this.options.partSize).catch((error: unknown) => {
      if (session.cancelled || session.failure) return;
      // Changed while it was sent (a truncate may have cut it short): the flush sends it anyway.
      if (session.attempted.get(index) !== (this.generations[index] ?? 0)) return;
      session.failure = error as Error;
      this.log.warn(
        { key: session.key, part: index + 1, err: error },
        'part of a file being written could not be uploaded; no more parts until the flush, which sends the missing ones again',
      );
    });
  }

  /** Sends part `index` (`length` bytes) from the copy, after any send of it in flight, within the stage's slots. */
  private send(session: Session, index: number, length: number): Promise<void> {
    const earlier = session.sending.get(index);
    const sending = (async () => {
      // Two sends of one part in flight could land in either order: one at a time.
      await earlier?.catch(() => undefined);
      const slot = await this.options.slots.acquire();
      try {
        if (session.cancelled) return;
        if (session.failure) throw session.failure;
        if (this.current(session, index, length)) return;
        const uploadId = await session.created;
        const generation = this.generations[index] ?? 0;
        session.attempted.set(index, generation);
        const start = index * this.options.partSize;
        const body = { path: this.source.localPath, start, end: start + length, into: slot.buffer };
        const { etag } = await this.store.uploadPart(session.key, uploadId, index + 1, body);
        session.parts.set(index, { etag, generation, length });
      } finally {
        slot.release();
      }
    })();
    session.sending.set(index, sending);
    const forget = () => {
      if (session.sending.get(index) === sending) session.sending.delete(index);
    };
    sending.then(forget, forget);
    return sending;
  }

  /** The part as sent holds the copy's bytes now. */
  private current(session: Session, index: number, length: number): boolean {
    const part = session.parts.get(index);
    return part !== undefined && part.length === length && part.generation === (this.generations[index] ?? 0);
  }

  private changed(start: number, end: number): void {
    const { partSize } = this.options;
    for (let index = Math.floor(start / partSize); index * partSize < end; index++) this.generations[index] = (this.generations[index] ?? 0) + 1;
  }

  /** Ends a session given up: its sends not started are skipped, the upload aborted once the others are done. */
  private end(session: Session): Promise<void> {
    session.cancelled = true;
    const ending = (async () => {
      await Promise.allSettled(session.sending.values());
      let uploadId: string;
      try {
        uploadId = await session.created;
      } catch {
        return; // never created: nothing to abort
      }
      try {
        await this.store.abortUpload(session.key, uploadId);
      } catch (error) {
        this.log.warn({ key: session.key, uploadId, err: error }, 'abort of a multipart upload failed');
      }
      this.closed(uploadId);
    })();
    this.ending.add(ending);
    const forget = () => this.ending.delete(ending);
    ending.then(forget, forget);
    return ending;
  }

  private closed(uploadId: string): void {
    if (this.open.delete(uploadId)) this.options.uploadsChanged?.();
  }
}
