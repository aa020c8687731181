// The semantics of the mount: paths to keys, handles, reads and staged writes.
// Not tied to FUSE: test/core drives it directly over the in-memory store.
import { constants as fsConstants } from 'node:fs';
import type { Logger } from '../log.js';
import { isStoreError } from '../s3/object-store.js';
import { attrChangesOf, pathOfKey } from './attr-changes.js';
import {
  type AttributeDefaults,
  attributesOf,
  attrOf,
  modeOf,
  PERMISSION_BITS,
  S_IFDIR,
  S_IFMT,
  S_IFREG,
  S_ISGID,
  sameAttr,
  stagedAttr,
  timesOfAttr,
} from './attributes/attributes.js';
import { LocalAttributes } from './attributes/local-attributes.js';
import { specialFileType } from './attributes/special-files.js';
import { now, relatimeAfterRead, resolveRequestedTime, type Timespec } from './attributes/times.js';
import { FsError, toFsError } from './errors.js';
import type { Invalidation } from './invalidation.js';
import type { Namespace } from './names/namespace.js';
import { reservedFileName } from './names/object-kinds.js';
import { components, dirPrefixOf, keyOf, newKeyTooLong, splitPath } from './names/paths.js';
import type { FsNode, ReadTarget } from './nodes.js';
import type { ObjectVersions } from './object-versions.js';
import type { NativeBlocks } from './read/native-blocks.js';
import { ObjectChangedError } from './read/object-changed.js';
import { type BlockReader, newReadPattern, type ReadPattern } from './read/reader.js';
import type { ScanAhead } from './read/scan-ahead.js';
import { HiddenNames, OpenUnlinkOrder } from './removed-while-open.js';
import type { Attr, AttrChange, AttrLifetime, DirEntry, Filesystem, StatFs } from './types.js';
import { LATE_UPLOAD_DELAY_MS, LATE_UPLOAD_MAX_DELAY_MS, LateUploads } from './write/late-uploads.js';
import type { StagedAttributes, StagedFile } from './write/staged-file.js';
import type { MovedObject, TreeChanges } from './write/tree-changes.js';
import type { UploadCounts, WriteStage } from './write/write-stage.js';

/** The parts the filesystem core is made of, built and wired by src/wiring.ts. */
export interface FilesystemParts {
  namespace: Namespace;
  reader: BlockReader;
  stage: WriteStage;
  invalidation: Invalidation;
  tree: TreeChanges;
  scanAhead: ScanAhead;
  /** Which version of an object replaced the one a handle read. */
  versions: ObjectVersions;
  /** Blocks read, offered to the FUSE binding for later reads on the same handle. */
  native?: NativeBlocks;
}

export interface FilesystemOptions {
  /** The mount's root prefix: "" or ending in "/". */
  prefix: string;
  /** Owner and modes of entries whose metadata does not say. */
  defaults: AttributeDefaults;
  readOnly: boolean;
  /** Bound on attribute changes held in memory (LocalAttributes' own by default). */
  maxLocalAttributes?: number;
}

/** An open file: a version of an object being read, or a staged copy being written. */
interface OpenFile {
  path: string;
  target?: ReadTarget;
  staged?: StagedFile;
  pattern: ReadPattern;
  /** The version this handle returned bytes of: it never moves to another one (unless rewrittenHere). */
  served?: ReadTarget;
  /**
   * The file was rewritten in place through this mount while this handle read it (opened for
   * writing, truncated, its attributes changed): one file, as on a local disk, so the handle
   * reads on in the new version rather than failing as for a replacement from outside.
   */
  rewrittenHere?: boolean;
  /** The size of the version the handle was opened on (the size the kernel was told). */
  openedSize?: number;
  /** Finding out which version replaced `target` (shared by the handle's reads). */
  refreshing?: Promise<ReadTarget>;
  /** A close() flushed this handle: writes on it now come from a mapping (see write/late-uploads.ts). */
  flushed?: boolean;
  /** Wait before uploading this handle's next late writes. */
  lateDelayMs?: number;
  /** The attributes the file had when opened for reading (relatime compares with them). */
  attr?: Attr;
  /** A read through this handle has had its say on atime (relatime). */
  atimeNoted?: boolean;
}

// A handle follows at most this many replacements of its object before its first byte.
const MAX_VERSION_MOVES = 3;
/** Keys whose last served version is remembered (see pagesServed). */
const MAX_PAGES_SERVED = 100_000;

// Linux's O_ACCMODE (Node's fs.constants leaves it out).
const O_ACCMODE = 3;
// linux/falloc.h: keep the file's size (space is only reserved).
const FALLOC_FL_KEEP_SIZE = 0x01;
// Handles are 32-bit in fuse-native and must not be 0.
const MAX_HANDLE = 0xffff_ffff;

export class S3Filesystem implements Filesystem {
  private readonly namespace: Namespace;
  private readonly reader: BlockReader;
  private readonly stage: WriteStage;
  private readonly invalidation: Invalidation;
  private readonly tree: TreeChanges;
  private readonly versions: ObjectVersions;
  private readonly lateUploads: LateUploads<StagedFile>;
  private readonly scanAhead: ScanAhead;
  private readonly native?: NativeBlocks;
  private readonly defaults: AttributeDefaults;
  private readonly handles = new Map<number, OpenFile>();
  /**
   * Per key, the ETag of the version this mount last served bytes of: the kernel may still hold
   * them in its pages, which libfuse's auto_cache keeps across opens while size and mtime stay,
   * so a new handle of that version can return them without asking (bounded, oldest first out).
   */
  private readonly pagesServed = new Map<string, string>();
  /** Staged copies whose last upload failed (their close() said EIO). */
  private readonly failedUploads = new WeakSet<StagedFile>();
  private readonly nodeAttrs = new WeakMap<FsNode, Attr>();
  /** Attribute changes held in memory (the root's, directories' times, read atimes). */
  private readonly local: LocalAttributes;
  private readonly attrWatchers = new Set<(change: AttrChange) => void>();
  private nextHandle = 1;
  private readonly openUnlinkOrder = new OpenUnlinkOrder();
  /** Files this mount hid because they were removed while open (see removed-while-open.ts). */
  private readonly hidden = new HiddenNames();
  /** A version a handle followed through a rename → the version it is a copy of (same bytes). */
  private readonly copies = new WeakMap<ReadTarget, ReadTarget>();

  constructor(
    parts: FilesystemParts,
    private readonly options: FilesystemOptions,
    private readonly log: Logger,
  ) {
    ({
      namespace: this.namespace,
      reader: this.reader,
      stage: this.stage,
      invalidation: this.invalidation,
      tree: this.tree,
      scanAhead: this.scanAhead,
      versions: this.versions,
      native: this.native,
    } = parts);
    this.defaults = options.defaults;
    this.local = new LocalAttributes((key) => this.attributesForgotten(key), options.maxLocalAttributes);
    this.lateUploads = new LateUploads((staged) => this.uploadLate(staged));
  }

  /**
   * The group a new entry at `path` takes from its directory when that directory is
   * set-group-ID, as on a local disk (BSD group semantics); undefined otherwise, and when the
   * directory cannot be resolved (the change itself then fails as it would).
   */
  private async setGroupOf(path: string): Promise<number | undefined> {
    const { parent } = splitPath(path);
    try {
      const attr = this.local.apply(this.keyOf(parent), attrOf(await this.namespace.resolve(parent), this.defaults));
      return (attr.mode & S_IFMT) === S_IFDIR && attr.mode & S_ISGID ? attr.gid : undefined;
    } catch {
      return undefined;
    }
  }

  async getattr(path: string): Promise<Attr> {
    return this.guard('getattr', path, async () => {
      const key = this.keyOf(path);
      const staged = this.stage.get(key);
      if (staged && !staged.unlinked) return this.local.apply(key, stagedAttr(staged.attributes, staged.size));
      return this.local.apply(key, attrOf(await this.namespace.resolve(path), this.defaults));
    });
  }

  attrIfKnown(path: string, lifetime?: AttrLifetime, aside = false): Attr | undefined {
    return this.knownAttr(path, lifetime, aside);
  }

  attrLifetimeMs(path: string, attr: Attr): number {
    const lifetime = { ms: Number.POSITIVE_INFINITY };
    const known = this.knownAttr(path, lifetime, true);
    return known && sameAttr(known, attr) ? lifetime.ms : 0;
  }

  private knownAttr(path: string, lifetime: AttrLifetime | undefined, aside: boolean): Attr | undefined {
    const key = this.keyOf(path);
    const staged = this.stage.get(key);
    if (staged) {
      // A staged copy changes with every write, and in ways no operation on this path tells
      // (another handle's upload ends, a late upload): its attributes are never kept.
      if (lifetime) lifetime.ms = 0;
      return staged.unlinked ? undefined : this.local.apply(key, stagedAttr(staged.attributes, staged.size));
    }
    const node = this.namespace.resolveIfKnown(path, lifetime, aside);
    if (!node) return undefined;
    // A cached listing's nodes live as long as the listing: their attributes are worked out once.
    let attr = this.nodeAttrs.get(node);
    if (!attr) this.nodeAttrs.set(node, (attr = attrOf(node, this.defaults)));
    return this.local.apply(key, attr);
  }

  watchAttributes(listener: (change: AttrChange) => void): () => void {
    const stopInvalidations = this.invalidation.subscribe((event) => {
      for (const change of attrChangesOf(event, this.options.prefix)) listener(change);
    });
    this.attrWatchers.add(listener);
    return () => {
      stopInvalidations();
      this.attrWatchers.delete(listener);
    };
  }

  watchKnownAttributes(listener: (path: string) => void): () => void {
    const { prefix } = this.options;
    return this.namespace.watchKnown((key) => {
      const path = pathOfKey(prefix, key);
      if (path !== undefined) listener(path);
    });
  }

  async readdir(path: string): Promise<DirEntry[]> {
    return this.guard('readdir', path, async () => {
      const node = await this.namespace.resolve(path);
      if (node.type !== 'dir') throw new FsError('ENOTDIR', path);
      const prefix = dirPrefixOf(this.options.prefix, path);
      const listing = await this.namespace.listDirectory(prefix);
      const self = attrOf(node, this.defaults).mode;
      const entries = new Map<string, number>([
        ['.', self],
        ['..', self],
      ]);
      // An object whose HEAD is not known yet may be a file, a link or an s3fs directory: it has
      // no type (DT_UNKNOWN), so programs stat it. A directory's type is never in doubt (the
      // kernel takes only the type from a listing).
      for (const [name, child] of listing.entries) {
        const known = this.namespace.knownNode(child) ?? (child.type === 'dir' ? child : undefined);
        entries.set(name, known ? modeOf(known, this.defaults) : 0);
      }
      this.namespace.headAhead.listed(listing);
      // Files created here but not uploaded yet are not in any listing.
      for (const staged of this.stage.childrenOf(prefix)) {
        if (!staged.unlinked) entries.set(staged.key.slice(prefix.length), staged.attributes.mode);
      }
      const result: DirEntry[] = [];
      for (const [name, mode] of entries) result.push({ name, mode });
      return result;
    });
  }

  async open(path: string, flags: number): Promise<number> {
    const key = this.keyOf(path);
    return this.guard('open', path, () => this.openUnlinkOrder.open(key, () => this.openNow(path, key, flags)));
  }

  private async openNow(path: string, key: string, flags: number): Promise<number> {
    const writing = (flags & O_ACCMODE) !== fsConstants.O_RDONLY || (flags & fsConstants.O_TRUNC) !== 0;
    if (writing) this.refuseWhenReadOnly(path);
    const existing = this.stage.get(key);
    if (existing && !existing.unlinked) {
      // One staged copy per key: readers and writers of an open file see the same bytes.
      existing.refs++;
      if (flags & fsConstants.O_TRUNC) await existing.truncate(0);
      return this.allocateHandle({ path, staged: existing, pattern: newReadPattern() });
    }
    const node = await this.namespace.resolve(path);
    if (node.type === 'dir') throw new FsError('EISDIR', path);
    const target: ReadTarget = { key: node.key, size: node.size, etag: node.etag };
    if (!writing) {
      await this.pagesOfAnotherVersionDropped(target);
      this.noteSequentialOpen(path);
      const file: OpenFile = { path, target, openedSize: target.size, pattern: newReadPattern(), attr: attrOf(node, this.defaults) };
      // The kernel may answer this handle from its pages of that version, unseen here: it has
      // returned bytes of it, and another writer's replacement is EIO to it, not a mix of the two.
      if (this.pagesServed.get(target.key) === target.etag) file.served = target;
      const handle = this.allocateHandle(file);
      const native = this.native;
      // Blocks this handle streams from disk are registered as they are read (still only
      // once the handle returned bytes of that version: the first read always comes here).
      if (native)
        file.pattern.keep = (read, index, pinned) => file.served === read && this.handles.get(handle) === file && native.adopt(handle, read, index, pinned);
      return handle;
    }
    this.rewritingHere(key);
    const staged = await this.stage.acquire(key, target, this.rewriteAttributes(key, node), { created: false });
    if (flags & fsConstants.O_TRUNC) await staged.truncate(0);
    return this.allocateHandle({ path, staged, pattern: newReadPattern() });
  }

  async create(path: string, mode: number): Promise<number> {
    return this.guard('create', path, async () => {
      this.refuseWhenReadOnly(path);
      const key = this.newFileKeyOf(path);
      const existing = this.stage.get(key);
      if (existing && !existing.unlinked) {
        existing.refs++;
        await existing.truncate(0);
        return this.allocateHandle({ path, staged: existing, pattern: newReadPattern() });
      }
      const present = now();
      const attributes = {
        mode: S_IFREG | (mode & PERMISSION_BITS),
        uid: this.defaults.uid,
        gid: (await this.setGroupOf(path)) ?? this.defaults.gid,
        atime: present,
        mtime: present,
        ctime: present,
      };
      this.rewritingHere(key);
      const staged = await this.stage.acquire(key, undefined, attributes, { created: true });
      // Another process created the file meanwhile: this create truncates it, as open(O_CREAT|O_TRUNC).
      if (staged.refs > 1) await staged.truncate(0);
      this.entriesChanged(path);
      return this.allocateHandle({ path, staged, pattern: newReadPattern() });
    });
  }

  async readInto(handle: number, position: number, length: number, into: Buffer): Promise<number> {
    const file = this.handleOf(handle);
    this.noteRead(file);
    return this.guard('read', file.path, async () => {
      const staged = file.staged ?? this.unsavedRewrite(file);
      if (!staged) return this.readObject(handle, file, position, length, into);
      const bytes = await staged.read(position, Math.min(length, into.length));
      return bytes.copy(into);
    });
  }

  /**
   * The staged copy a read handle's file is being rewritten in, while it holds bytes S3 does
   * not have yet: one file, as on a local disk, so the reader reads the writer's bytes (once
   * they are saved, the reader follows to the new version in S3).
   */
  private unsavedRewrite(file: OpenFile): StagedFile | undefined {
    if (!file.rewrittenHere || !file.target) return undefined;
    const staged = this.stage.get(file.target.key);
    return staged && !staged.unlinked && staged.dirty ? staged : undefined;
  }

  write(handle: number, data: Buffer, position: number): number | Promise<number> {
    const file = this.handleOf(handle);
    if (!file.staged) throw new FsError('EBADF', `${file.path} is not open for writing`);
    if (!file.flushed) {
      // Most writes of a stream: done and answered at once, without a trip through promises.
      let written: number | undefined;
      try {
        written = file.staged.writeNow(data, position);
      } catch (error) {
        throw toFsError(error, this.log, { op: 'write', path: file.path });
      }
      if (written !== undefined) return written;
    }
    return this.writeStaged(file, file.staged, data, position);
  }

  private async writeStaged(file: OpenFile, staged: StagedFile, data: Buffer, position: number): Promise<number> {
    const written = await this.guard('write', file.path, () => staged.write(data, position));
    if (file.flushed) {
      // No close() is left to flush these bytes: upload them once the writes pause.
      const delay = file.lateDelayMs ?? LATE_UPLOAD_DELAY_MS;
      file.lateDelayMs = Math.min(delay * 2, LATE_UPLOAD_MAX_DELAY_MS);
      this.lateUploads.schedule(staged, delay);
    }
    return written;
  }

  async flush(handle: number): Promise<void> {
    const file = this.handleOf(handle);
    if (!file.staged) return;
    await this.upload(file.path, file.staged);
    file.flushed = true;
  }

  async fsync(handle: number): Promise<void> {
    // Not a close(): writes after it are ordinary writes.
    const file = this.handleOf(handle);
    if (file.staged) await this.upload(file.path, file.staged);
  }

  async release(handle: number): Promise<void> {
    const file = this.handles.get(handle);
    this.handles.delete(handle);
    this.native?.release(handle);
    if (file) this.reader.close(file.pattern);
    const hiddenKey = file?.target?.key;
    if (hiddenKey !== undefined && this.hidden.pathOf(hiddenKey) !== undefined && !this.readersOf(hiddenKey)) await this.removeHidden(hiddenKey);
    if (file?.staged) {
      const staged = file.staged;
      await this.stage.release(staged).catch((error: unknown) => this.log.warn({ path: file.path, err: error }, 'cleanup of a staged copy failed'));
      // Still dirty with no handle left: nothing will flush it any more. Not when its last
      // upload failed: close() said EIO, the bytes stay staged for the next close or the unmount.
      if (staged.refs === 0 && staged.dirty && !staged.unlinked && !this.failedUploads.has(staged)) this.lateUploads.schedule(staged, 0);
    }
  }

  async truncate(path: string, size: number): Promise<void> {
    const key = this.keyOf(path);
    // Ordered with unlinks as an open is: libfuse sends the truncate of open(O_TRUNC) by path.
    return this.guard('truncate', path, () => this.openUnlinkOrder.open(key, () => this.truncateNow(path, key, size)));
  }

  private async truncateNow(path: string, key: string, size: number): Promise<void> {
    this.refuseWhenReadOnly(path);
    const staged = this.stage.get(key);
    // An open file: the change is uploaded when its handle is flushed. One removed while open
    // (libfuse may remove a hidden file while an open of it is still answering) is truncated
    // where its handles see it, and never brought back to S3.
    if (staged && (!staged.unlinked || (staged.refs > 0 && !(await this.exists(path))))) {
      await staged.truncate(size);
      return;
    }
    const node = await this.namespace.resolve(path);
    if (node.type === 'dir') throw new FsError('EISDIR', path);
    this.rewritingHere(node.key);
    const copy = await this.stage.acquire(node.key, { key: node.key, size: node.size, etag: node.etag }, this.rewriteAttributes(node.key, node), {
      created: false,
    });
    try {
      await copy.truncate(size);
      await this.upload(path, copy);
    } finally {
      await this.stage.release(copy);
    }
  }

  private async exists(path: string): Promise<boolean> {
    try {
      await this.namespace.resolve(path);
      return true;
    } catch (error) {
      if (error instanceof FsError && error.code === 'ENOENT') return false;
      throw error;
    }
  }

  async ftruncate(handle: number, size: number): Promise<void> {
    const file = this.handleOf(handle);
    if (!file.staged) throw new FsError('EBADF', `${file.path} is not open for writing`);
    const staged = file.staged;
    return this.guard('ftruncate', file.path, () => staged.truncate(size));
  }

  /**
   * S3 has no space to reserve: with FALLOC_FL_KEEP_SIZE (what `rsync --preallocate` asks)
   * nothing changes; without it, a shorter file grows to offset + length, as ftruncate would
   * grow it. Punching holes, zeroing, collapsing or inserting ranges: ENOTSUP, as on
   * filesystems without them.
   */
  async fallocate(handle: number, mode: number, offset: number, length: number): Promise<void> {
    const file = this.handleOf(handle);
    if (!file.staged) throw new FsError('EBADF', `${file.path} is not open for writing`);
    if (mode !== 0 && mode !== FALLOC_FL_KEEP_SIZE) throw new FsError('ENOTSUP', `${file.path}: fallocate mode ${mode} is not supported`);
    if (mode === FALLOC_FL_KEEP_SIZE) return;
    const staged = file.staged;
    return this.guard('fallocate', file.path, () => staged.extendTo(offset + length));
  }

  async unlink(path: string): Promise<void> {
    return this.change('unlink', path, async () => {
      const key = this.keyOf(path);
      await this.openUnlinkOrder.unlink(key, async () => {
        if (this.readersOf(key)) await this.hideRemoved(path);
        else await this.tree.unlink(path, key);
      });
      this.local.forget(key);
      this.entriesChanged(path);
    });
  }

  /** `key` is being rewritten through this mount: its read handles follow (see OpenFile.rewrittenHere). */
  private rewritingHere(key: string): void {
    for (const [handle, file] of this.handles) {
      if (file.staged || file.target?.key !== key) continue;
      file.rewrittenHere = true;
      // The binding must not answer it from the old version's blocks any more.
      this.native?.release(handle);
    }
  }

  /** Whether `a` and `b` are one version or copies of one another made by renames. */
  private sameBytes(a: ReadTarget, b: ReadTarget): boolean {
    for (let x: ReadTarget | undefined = a; x; x = this.copies.get(x)) if (x === b) return true;
    for (let x: ReadTarget | undefined = b; x; x = this.copies.get(x)) if (x === a) return true;
    return false;
  }

  /** Whether read handles (not of a staged copy) hold `key`. */
  private readersOf(key: string): boolean {
    for (const file of this.handles.values()) if (!file.staged && file.target?.key === key) return true;
    return false;
  }

  /** Removal of a file read handles hold: hidden as libfuse would, removed at their last release. */
  private async hideRemoved(path: string): Promise<void> {
    const hidden = this.hidden.hide(path, (name) => this.keyOf(name));
    this.log.debug({ path, hidden: hidden.path }, 'removed while open: hidden until its last release');
    try {
      await this.renameNow(path, hidden.path);
    } catch (error) {
      this.hidden.forget(hidden.key);
      throw error;
    }
    if (!this.readersOf(hidden.key)) await this.removeHidden(hidden.key);
  }

  private async removeHidden(key: string): Promise<void> {
    const path = this.hidden.pathOf(key);
    if (path === undefined) return;
    this.hidden.forget(key);
    try {
      await this.tree.unlink(path, key);
      this.entriesChanged(path);
    } catch (error) {
      this.log.warn({ path, err: error }, 'cannot remove a hidden file');
    }
  }

  async mkdir(path: string, mode: number): Promise<void> {
    return this.change('mkdir', path, async () => {
      const gid = await this.setGroupOf(path);
      // As on a local disk, a directory made in a set-group-ID directory is one too.
      await this.tree.mkdir(path, this.newKeyOf(path, true), gid === undefined ? mode : mode | S_ISGID, gid);
      this.entriesChanged(path);
    });
  }

  async rmdir(path: string): Promise<void> {
    return this.change('rmdir', path, async () => {
      await this.tree.rmdir(path, this.keyOf(path));
      this.local.forgetTree(this.keyOf(path));
      this.entriesChanged(path);
    });
  }

  async rename(from: string, to: string): Promise<void> {
    return this.change('rename', from, async () => {
      // The name's own limits here; a directory's deeper keys are checked before any is copied.
      const toKey = this.newKeyOf(to, false);
      if (toKey === this.keyOf(from)) return this.renameNow(from, to);
      // A file replaced while open is hidden first, as libfuse does when it counted the open.
      await this.openUnlinkOrder.unlink(toKey, async () => {
        if (this.readersOf(toKey)) await this.hideRemoved(to);
        await this.renameNow(from, to);
      });
    });
  }

  private async renameNow(from: string, to: string): Promise<void> {
    for (const moved of await this.tree.rename(from, this.keyOf(from), to, this.keyOf(to))) this.followRename(moved);
    // What was held for the old name now describes the new one (what was held for a replaced
    // entry goes with it); a rename changes ctime.
    const held = this.local.get(this.keyOf(from));
    this.local.forgetTree(this.keyOf(from));
    this.local.forgetTree(this.keyOf(to));
    const open = this.stage.get(this.keyOf(to));
    // A file open across its rename carries the new ctime in its copy (its object has it
    // already): held here, it would hide the ctime of the writes that follow.
    if (open && !open.unlinked) open.attributes = { ...open.attributes, ...held, ctime: now() };
    else this.local.set(this.keyOf(to), { ...held, ctime: now() });
    this.entriesChanged(from);
    this.entriesChanged(to);
  }

  /**
   * Read handles of the renamed version read on from its copy, which holds the same bytes: as
   * on a local disk, a file renamed or removed while open (libfuse renames an open file to
   * `.fuse_hidden…` rather than removing it) still reads whole.
   */
  private followRename(moved: MovedObject): void {
    this.movePagesServed(moved);
    const to = pathOfKey(this.options.prefix, moved.to.key);
    if (to === undefined) return;
    for (const file of this.handles.values()) {
      const target = file.target;
      if (file.staged || !target || target.key !== moved.from.key) continue;
      if (target.etag === moved.from.etag) {
        const copy: ReadTarget = { ...target, key: moved.to.key, etag: moved.to.etag };
        this.copies.set(copy, target);
        if (file.served === target) file.served = copy;
        file.target = copy;
        file.path = to;
      } else if ((!file.served || file.rewrittenHere) && moved.to.size !== undefined) {
        // Opened before the name was rewritten (through this mount), no byte returned yet, or
        // rewritten in place through this mount while it read: it reads what the name held
        // when it was moved, as a local disk's reader of a file rewritten in place and then
        // removed reads the rewrite.
        file.target = { key: moved.to.key, etag: moved.to.etag, size: moved.to.size };
        file.served = undefined;
        file.path = to;
      }
    }
  }

  async chmod(path: string, mode: number): Promise<void> {
    return this.setAttributes('chmod', path, (current) => ({ mode: (current.mode & ~PERMISSION_BITS) | (mode & PERMISSION_BITS), ctime: now() }));
  }

  async chown(path: string, uid: number, gid: number): Promise<void> {
    const unchanged = (id: number) => id === -1 || id === 0xffff_ffff;
    return this.setAttributes('chown', path, (current) => ({ uid: unchanged(uid) ? current.uid : uid, gid: unchanged(gid) ? current.gid : gid, ctime: now() }));
  }

  async utimens(path: string, atime: Timespec, mtime: Timespec): Promise<void> {
    return this.setAttributes('utimens', path, (current) => {
      // UTIME_NOW and UTIME_OMIT arrive as such (flag_utime_omit_ok): one time alone may change.
      const present = now();
      return { atime: resolveRequestedTime(atime, current.atime, present), mtime: resolveRequestedTime(mtime, current.mtime, present), ctime: present };
    });
  }

  async symlink(target: string, path: string): Promise<void> {
    return this.change('symlink', path, async () => {
      await this.tree.symlink(target, path, this.newFileKeyOf(path), await this.setGroupOf(path));
      this.entriesChanged(path);
    });
  }

  async readlink(path: string): Promise<string> {
    return this.guard('readlink', path, () => this.tree.readlink(path));
  }

  async statfs(): Promise<StatFs> {
    // S3 has no capacity: report a large, fixed free space, as s3fs and mountpoint-s3 do.
    // Fields are 32-bit in fuse-native, hence 1 MiB blocks.
    const blocks = 2 ** 30;
    return {
      bsize: 1 << 20,
      frsize: 1 << 20,
      blocks,
      bfree: blocks,
      bavail: blocks,
      files: 2 ** 30,
      ffree: 2 ** 30,
      favail: 2 ** 30,
      fsid: 0,
      flag: 0,
      namemax: 255,
    };
  }

  async access(path: string, mode: number): Promise<void> {
    return this.guard('access', path, async () => {
      if (!this.stage.get(this.keyOf(path))) await this.namespace.resolve(path);
      if (mode & fsConstants.W_OK) this.refuseWhenReadOnly(path);
    });
  }

  async mknod(path: string, mode: number, rdev: number): Promise<void> {
    return this.change('mknod', path, async () => {
      const type = specialFileType(mode);
      // Regular files come through create; anything else (or an unknown type) is not stored.
      if (type === undefined) throw new FsError('EPERM', `${path}: cannot store a node of mode ${mode.toString(8)}`);
      await this.tree.mknod(path, this.newFileKeyOf(path), type | (mode & PERMISSION_BITS), rdev, await this.setGroupOf(path));
      this.entriesChanged(path);
    });
  }

  async unsupported(path: string): Promise<void> {
    throw new FsError(this.options.readOnly ? 'EROFS' : 'EPERM', path);
  }

  /** Uploads every file still holding unsaved bytes (at unmount); returns what could not be saved. */
  async flushAll(): Promise<string[]> {
    this.lateUploads.clear();
    const unsaved = await this.stage.flushAll();
    for (const { key } of this.hidden.all()) await this.removeHidden(key);
    return unsaved;
  }

  /** Uploads running and waiting (for statistics). */
  get uploads(): UploadCounts {
    return this.stage.uploads;
  }

  /** Open handles right now (for tests and statistics). */
  get openHandles(): number {
    return this.handles.size;
  }

  /**
   * Reads the handle's version of the object. When another writer replaced it (S3 answers
   * 412 to the old ETag), a handle that returned no byte yet moves to the new version, as if
   * opened now; one that did gets EIO rather than a mix of two versions. Either way the key
   * and its parent's listing are refreshed, so the next open and stat see the new version.
   */
  private async readObject(handle: number, file: OpenFile, position: number, length: number, into: Buffer): Promise<number> {
    for (let moves = 0; ; moves++) {
      const target = file.target as ReadTarget;
      if (position > target.size && target.size < (file.openedSize ?? 0) && !file.rewrittenHere) {
        // Moved to a shorter version, the kernel still holding the old size: it sends
        // read-ahead up to that size in parallel requests and takes the first short answer it
        // handles as the new end, zero-filling up to it. Only the read that holds the new end
        // may answer short; one wholly past it fails (the kernel drops failed read-ahead), so
        // `cat` reads the new object whole and not its bytes followed by zeros.
        throw new FsError('EIO', `read at ${position} past the end (${target.size}) of the version ${file.path} moved to`);
      }
      try {
        if (this.native) file.pattern.nextOffset = this.native.continuedTo(handle, file.pattern.nextOffset, position);
        const count = await this.reader.readInto(target, file.pattern, position, length, into);
        // Moved during the read to a copy of these bytes (a rename it followed): that copy is
        // what it serves from now on.
        if (count > 0) {
          file.served ??= file.target && this.sameBytes(file.target, target) ? file.target : target;
          this.notePagesServed(target);
        }
        if (file.served !== undefined && !this.sameBytes(file.served, target) && !file.rewrittenHere) throw new ObjectChangedError(target);
        // The version this handle returned bytes of never changes under it.
        if (count > 0 && this.native && file.served === target && this.handles.get(handle) === file)
          this.offerNative(handle, file.pattern, target, position, count);
        return count;
      } catch (error) {
        if (!(error instanceof ObjectChangedError)) throw error;
        // Moved while this read was under way (a rename it followed: the same bytes); a move
        // to another version after bytes were served is an error, unless the file was
        // rewritten through this mount.
        const follows = !file.served || file.rewrittenHere === true;
        if (file.target !== target && (follows || (file.target !== undefined && this.sameBytes(file.served as ReadTarget, file.target)))) continue;
        if (file.target === target) {
          if (!follows || moves >= MAX_VERSION_MOVES) {
            // The reader has refreshed the key and its listing already (onStale).
            this.log.warn(
              { path: file.path, key: target.key, etag: target.etag },
              'object changed while open after part of it was read; reopen to read the new version',
            );
            throw error;
          }
          file.refreshing ??= this.versions.current(target).finally(() => (file.refreshing = undefined));
          const current = await file.refreshing;
          if (file.target === target) {
            file.target = current;
            // Rewritten here: what it serves from now on is the new version.
            file.served = undefined;
          }
        }
        if (!follows) throw error;
      }
    }
  }

  /**
   * The kernel may hold pages of another version of this object, which this mount served before
   * it learned of the replacement (a read that failed on it, a listing fetched again). libfuse's
   * auto_cache keeps them for a new handle unless it sees a new size or mtime, and it asks for
   * them at an open only once the kernel's copy of the attributes ran out: within that second,
   * a cat read the old pages and then this version's bytes after them. The open waits for it
   * (once per replacement), so that libfuse asks and the kernel drops the pages.
   */
  private async pagesOfAnotherVersionDropped(target: ReadTarget): Promise<void> {
    const served = this.pagesServed.get(target.key);
    if (served === undefined || served === target.etag) return;
    await this.versions.kernelForgot();
    if (this.pagesServed.get(target.key) === served) this.pagesServed.delete(target.key);
  }

  /**
   * After a rename through the mount the kernel's pages under the new name are the moved file's
   * (its inode moved with it): nothing served of the object it replaced is left there to mix
   * with, so an open of the new name need not wait (`mv tmp target`, `sed -i`, an editor's
   * save and git's lock files all replace a file so). Pages served of the moved version count
   * under its new key.
   */
  private movePagesServed(moved: MovedObject): void {
    const served = this.pagesServed.get(moved.from.key) === moved.from.etag;
    this.pagesServed.delete(moved.from.key);
    this.pagesServed.delete(moved.to.key);
    if (served) this.notePagesServed(moved.to);
  }

  private notePagesServed(target: Pick<ReadTarget, 'key' | 'etag'>): void {
    if (this.pagesServed.get(target.key) === target.etag) return;
    this.pagesServed.delete(target.key);
    this.pagesServed.set(target.key, target.etag);
    if (this.pagesServed.size > MAX_PAGES_SERVED) this.pagesServed.delete(this.pagesServed.keys().next().value as string);
  }

  /**
   * `handle` returned `count` bytes at `position` of `target`, the version it reads: from now
   * on the binding may answer its reads from that version's registered blocks, whichever
   * handle registered them (the first read of a handle always comes here, so relatime has had
   * its say). A sequential reader that does not stream has the blocks of its read and a few
   * ahead registered; a streaming one has them registered as its stream reads them from disk;
   * random readers register nothing (measured: pinning the blocks they read made fio's random
   * job far slower), and are answered from what the others registered.
   */
  private offerNative(handle: number, pattern: ReadPattern, target: ReadTarget, position: number, count: number): void {
    const native = this.native as NativeBlocks;
    // A read that reached the end (a small file read whole) leaves nothing to register for.
    const sequential = pattern.window > 0 && position + count < target.size;
    if (sequential && !pattern.stream) native.offer(handle, target, position, position + count, true);
    else native.attach(handle, target);
  }

  /**
   * chmod, chown, utimens: on the object (with whatever this mount held in memory for it), or
   * in memory for the mount root, which has no object.
   */
  private async setAttributes(op: string, path: string, change: (current: StagedAttributes) => Partial<StagedAttributes>): Promise<void> {
    return this.change(op, path, async () => {
      const key = this.keyOf(path);
      if (components(path).length === 0) {
        const attr = await this.getattr(path);
        this.local.set(key, change({ mode: attr.mode, uid: attr.uid, gid: attr.gid, ...timesOfAttr(attr) }));
        return;
      }
      const held = this.local.get(key) ?? {};
      this.rewritingHere(key);
      await this.tree.setAttributes(path, key, (current) => ({ ...held, ...change({ ...current, ...held }) }));
      this.local.forget(key);
    });
  }

  /**
   * What a new staged copy of `node` starts from: its object's attributes with what this mount
   * held in memory for it (a rename's ctime, a read's atime). The copy carries them from now
   * on, and its upload writes them: held on, they would be laid over the copy's own times and
   * hide every later write's ctime (`mv f g; echo x >> g` kept the rename's ctime).
   */
  private rewriteAttributes(key: string, node: FsNode): StagedAttributes {
    const attributes = attributesOf(node, this.defaults);
    const current = this.stage.get(key);
    if (current && !current.unlinked) return attributes; // the copy already open is used, with its own
    const held = this.local.get(key);
    if (!held) return attributes;
    this.local.forget(key);
    return { ...attributes, ...held };
  }

  /** A change held in memory was pushed out by the bound: `key` shows S3's attributes again. */
  private attributesForgotten(key: string): void {
    const path = pathOfKey(this.options.prefix, key);
    if (path === undefined) return;
    for (const watcher of this.attrWatchers) watcher({ kind: 'path', path });
  }

  /** An entry of `path`'s directory came or went: its mtime and ctime move (held in memory). */
  private entriesChanged(path: string): void {
    const present = now();
    this.local.set(this.keyOf(splitPath(path).parent), { mtime: present, ctime: present });
  }

  /** relatime: the first read through a handle may move the file's atime (held in memory). */
  private noteRead(file: OpenFile): void {
    if (file.atimeNoted || !file.attr) return;
    file.atimeNoted = true;
    const key = this.keyOf(file.path);
    const attr = this.local.apply(key, file.attr);
    const atime = relatimeAfterRead(timesOfAttr(attr), now());
    if (atime) this.local.set(key, { atime });
  }

  private noteSequentialOpen(path: string): void {
    const { parent, name } = splitPath(path);
    const dirPrefix = dirPrefixOf(this.options.prefix, parent);
    const listing = this.namespace.cachedListing(dirPrefix);
    if (listing) this.scanAhead.opened(dirPrefix, listing, name);
  }

  /** Uploads a copy no flush will save (see write/late-uploads.ts); a failure leaves it for the next flush or the unmount. */
  private async uploadLate(staged: StagedFile): Promise<void> {
    try {
      await this.upload(staged.key, staged);
      if (staged.refs === 0 && !staged.dirty) await this.stage.forget(staged);
    } catch (error) {
      this.log.warn({ key: staged.key, err: error }, 'upload of bytes written after close() failed; kept staged for the next flush or the unmount');
    }
  }

  private async upload(path: string, staged: StagedFile): Promise<void> {
    try {
      const result = await this.stage.flush(staged);
      this.failedUploads.delete(staged);
      // A copy unlinked or renamed while its upload ran is no longer what its name holds (the
      // unlink or rename writes its own outcome): only then is the rule applied instead.
      const current = !staged.unlinked && staged.key === result?.key;
      if (result) this.invalidation.changedHere(result.key, () => current && this.namespace.edits.stored(result));
      // The kernel's pages of the file hold what was written through it, not an older version:
      // an open of the new one need not wait for them to be dropped (pagesOfAnotherVersionDropped).
      if (result && current) this.pagesServed.delete(result.key);
    } catch (error) {
      // Removed by another writer before its bytes were copied (staged-file.ts): gone, as after
      // an unlink, so what the mount holds of the name goes too; nothing stays staged.
      if (staged.unlinked && isStoreError(error, 'NotFound')) {
        this.invalidation.changed(staged.key);
        throw new FsError('ENOENT', `${path}: removed from S3 by another writer before it was saved`);
      }
      // Whatever S3 said, a failed save is EIO at close()/fsync(); the bytes stay staged. A
      // staging directory without room (for the copy's state) is ENOSPC, as on a local disk.
      this.failedUploads.add(staged);
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOSPC' || code === 'EDQUOT') throw new FsError('ENOSPC', `upload of ${path}: staging directory full: ${(error as Error).message}`);
      throw new FsError('EIO', `upload of ${path} failed: ${(error as Error).message}`);
    }
  }

  private async change(op: string, path: string, run: () => Promise<void>): Promise<void> {
    return this.guard(op, path, async () => {
      this.refuseWhenReadOnly(path);
      await run();
    });
  }

  private refuseWhenReadOnly(path: string): void {
    if (this.options.readOnly) throw new FsError('EROFS', path);
  }

  private keyOf(path: string): string {
    return keyOf(this.options.prefix, path);
  }

  /** The key of a new entry at `path`; ENAMETOOLONG when S3 or Linux could not hold it. */
  private newKeyOf(path: string, isDirectory: boolean): string {
    const key = this.keyOf(path);
    const reason = newKeyTooLong(key, isDirectory);
    if (reason) throw new FsError('ENAMETOOLONG', `${path}: ${reason}`);
    return key;
  }

  /** The key of a new file, link or special file at `path` (not a directory: see reservedFileName). */
  private newFileKeyOf(path: string): string {
    const key = this.newKeyOf(path, false);
    const reserved = reservedFileName(key);
    if (reserved) throw new FsError('EPERM', `${path}: ${reserved}`);
    return key;
  }

  private handleOf(handle: number): OpenFile {
    const file = this.handles.get(handle);
    if (!file) throw new FsError('EBADF', `no open file ${handle}`);
    return file;
  }

  private allocateHandle(file: OpenFile): number {
    while (this.handles.has(this.nextHandle)) this.nextHandle = (this.nextHandle % MAX_HANDLE) + 1;
    const handle = this.nextHandle;
    this.nextHandle = (this.nextHandle % MAX_HANDLE) + 1;
    this.handles.set(handle, file);
    return handle;
  }

  private async guard<T>(op: string, path: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      // S3 found no such key (another writer removed it behind a cached answer): what the
      // mount holds of the name is forgotten, so that ls and stat stop showing it at once.
      if (isStoreError(error, 'NotFound')) this.invalidation.changed(this.keyOf(path));
      throw toFsError(error, this.log, { op, path });
    }
  }
}
