// The semantics of the mount: paths to keys, handles, reads and staged writes.
// Not tied to FUSE: test/core drives it directly over the in-memory store.
import { constants as fsConstants } from 'node:fs';
import type { Logger } from '../log.js';
import { attrOf, attributesOf, modeOf, stagedAttr, PERMISSION_BITS, S_IFREG, type AttributeDefaults } from './attributes.js';
import { FsError, toFsError } from './errors.js';
import type { Invalidation } from './invalidation.js';
import type { Namespace } from './names/namespace.js';
import type { FsNode, ReadTarget } from './nodes.js';
import { dirPrefixOf, keyOf, splitPath } from './names/paths.js';
import { BlockReader, newReadPattern, type ReadPattern } from './read/reader.js';
import type { ScanAhead } from './read/scan-ahead.js';
import type { StagedFile } from './write/staged-file.js';
import type { TreeChanges } from './write/tree-changes.js';
import type { Attr, DirEntry, Filesystem, StatFs } from './types.js';
import type { WriteStage } from './write/write-stage.js';

/** The parts the filesystem core is made of, built and wired by src/wiring.ts. */
export interface FilesystemParts {
  namespace: Namespace;
  reader: BlockReader;
  stage: WriteStage;
  invalidation: Invalidation;
  tree: TreeChanges;
  scanAhead: ScanAhead;
}

export interface FilesystemOptions {
  /** The mount's root prefix: "" or ending in "/". */
  prefix: string;
  /** Owner and modes of entries whose metadata does not say. */
  defaults: AttributeDefaults;
  readOnly: boolean;
}

/** An open file: a version of an object being read, or a staged copy being written. */
interface OpenFile {
  path: string;
  target?: ReadTarget;
  staged?: StagedFile;
  pattern: ReadPattern;
}

// Linux's O_ACCMODE (Node's fs.constants leaves it out).
const O_ACCMODE = 3;
// Handles are 32-bit in fuse-native and must not be 0.
const MAX_HANDLE = 0xffff_ffff;

export class S3Filesystem implements Filesystem {
  private readonly namespace: Namespace;
  private readonly reader: BlockReader;
  private readonly stage: WriteStage;
  private readonly invalidation: Invalidation;
  private readonly tree: TreeChanges;
  private readonly scanAhead: ScanAhead;
  private readonly defaults: AttributeDefaults;
  private readonly handles = new Map<number, OpenFile>();
  private readonly nodeAttrs = new WeakMap<FsNode, Attr>();
  private nextHandle = 1;

  constructor(
    parts: FilesystemParts,
    private readonly options: FilesystemOptions,
    private readonly log: Logger,
  ) {
    ({ namespace: this.namespace, reader: this.reader, stage: this.stage, invalidation: this.invalidation, tree: this.tree, scanAhead: this.scanAhead } = parts);
    this.defaults = options.defaults;
  }

  async getattr(path: string): Promise<Attr> {
    return this.guard('getattr', path, async () => {
      const staged = this.stage.get(this.keyOf(path));
      if (staged && !staged.unlinked) return stagedAttr(staged.attributes, staged.size);
      return attrOf(await this.namespace.resolve(path), this.defaults);
    });
  }

  attrIfKnown(path: string): Attr | undefined {
    const staged = this.stage.get(this.keyOf(path));
    if (staged) return staged.unlinked ? undefined : stagedAttr(staged.attributes, staged.size);
    const node = this.namespace.resolveIfKnown(path);
    if (!node) return undefined;
    // A cached listing's nodes live as long as the listing: their attributes are worked out once.
    let attr = this.nodeAttrs.get(node);
    if (!attr) this.nodeAttrs.set(node, (attr = attrOf(node, this.defaults)));
    return attr;
  }

  async readdir(path: string): Promise<DirEntry[]> {
    return this.guard('readdir', path, async () => {
      const node = await this.namespace.resolve(path);
      if (node.type !== 'dir') throw new FsError('ENOTDIR', path);
      const prefix = dirPrefixOf(this.options.prefix, path);
      const listing = await this.namespace.listDirectory(prefix);
      const self = attrOf(node, this.defaults).mode;
      const entries = new Map<string, number>([['.', self], ['..', self]]);
      for (const [name, child] of listing.entries) entries.set(name, modeOf(child, this.defaults));
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
    return this.guard('open', path, async () => {
      const key = this.keyOf(path);
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
        this.noteSequentialOpen(path);
        return this.allocateHandle({ path, target, pattern: newReadPattern() });
      }
      const staged = await this.stage.acquire(key, target, attributesOf(node, this.defaults), { created: false });
      if (flags & fsConstants.O_TRUNC) await staged.truncate(0);
      return this.allocateHandle({ path, staged, pattern: newReadPattern() });
    });
  }

  async create(path: string, mode: number): Promise<number> {
    return this.guard('create', path, async () => {
      this.refuseWhenReadOnly(path);
      const key = this.keyOf(path);
      const existing = this.stage.get(key);
      if (existing && !existing.unlinked) {
        existing.refs++;
        await existing.truncate(0);
        return this.allocateHandle({ path, staged: existing, pattern: newReadPattern() });
      }
      const attributes = { mode: S_IFREG | (mode & PERMISSION_BITS), uid: this.defaults.uid, gid: this.defaults.gid, mtime: new Date() };
      const staged = await this.stage.acquire(key, undefined, attributes, { created: true });
      return this.allocateHandle({ path, staged, pattern: newReadPattern() });
    });
  }

  async readInto(handle: number, position: number, length: number, into: Buffer): Promise<number> {
    const file = this.handleOf(handle);
    return this.guard('read', file.path, async () => {
      if (!file.staged) return this.reader.readInto(file.target as ReadTarget, file.pattern, position, length, into);
      const bytes = await file.staged.read(position, Math.min(length, into.length));
      return bytes.copy(into);
    });
  }

  async write(handle: number, data: Buffer, position: number): Promise<number> {
    const file = this.handleOf(handle);
    if (!file.staged) throw new FsError('EBADF', `${file.path} is not open for writing`);
    const staged = file.staged;
    return this.guard('write', file.path, () => staged.write(data, position));
  }

  async flush(handle: number): Promise<void> {
    const file = this.handleOf(handle);
    if (file.staged) await this.upload(file.path, file.staged);
  }

  async fsync(handle: number): Promise<void> {
    return this.flush(handle);
  }

  async release(handle: number): Promise<void> {
    const file = this.handles.get(handle);
    this.handles.delete(handle);
    if (file) this.reader.close(file.pattern);
    if (file?.staged) await this.stage.release(file.staged).catch((error: unknown) => this.log.warn({ path: file.path, err: error }, 'cleanup of a staged copy failed'));
  }

  async truncate(path: string, size: number): Promise<void> {
    return this.guard('truncate', path, async () => {
      this.refuseWhenReadOnly(path);
      const staged = this.stage.get(this.keyOf(path));
      if (staged && !staged.unlinked) {
        // An open file: the change is uploaded when its handle is flushed.
        await staged.truncate(size);
        return;
      }
      const node = await this.namespace.resolve(path);
      if (node.type === 'dir') throw new FsError('EISDIR', path);
      const copy = await this.stage.acquire(node.key, { key: node.key, size: node.size, etag: node.etag }, attributesOf(node, this.defaults), { created: false });
      try {
        await copy.truncate(size);
        await this.upload(path, copy);
      } finally {
        await this.stage.release(copy);
      }
    });
  }

  async ftruncate(handle: number, size: number): Promise<void> {
    const file = this.handleOf(handle);
    if (!file.staged) throw new FsError('EBADF', `${file.path} is not open for writing`);
    const staged = file.staged;
    return this.guard('ftruncate', file.path, () => staged.truncate(size));
  }

  async unlink(path: string): Promise<void> {
    return this.change('unlink', path, () => this.tree.unlink(path, this.keyOf(path)));
  }

  async mkdir(path: string, mode: number): Promise<void> {
    return this.change('mkdir', path, () => this.tree.mkdir(path, this.keyOf(path), mode));
  }

  async rmdir(path: string): Promise<void> {
    return this.change('rmdir', path, () => this.tree.rmdir(path, this.keyOf(path)));
  }

  async rename(from: string, to: string): Promise<void> {
    return this.change('rename', from, () => this.tree.rename(from, this.keyOf(from), to, this.keyOf(to)));
  }

  async chmod(path: string, mode: number): Promise<void> {
    return this.change('chmod', path, () => this.tree.setAttributes(path, this.keyOf(path), (current) => ({ mode: (current.mode & ~PERMISSION_BITS) | (mode & PERMISSION_BITS) })));
  }

  async chown(path: string, uid: number, gid: number): Promise<void> {
    const unchanged = (id: number) => id === -1 || id === 0xffff_ffff;
    return this.change('chown', path, () =>
      this.tree.setAttributes(path, this.keyOf(path), (current) => ({ uid: unchanged(uid) ? current.uid : uid, gid: unchanged(gid) ? current.gid : gid })),
    );
  }

  async utimens(path: string, _atimeMs: number, mtimeMs: number): Promise<void> {
    return this.change('utimens', path, () => this.tree.setAttributes(path, this.keyOf(path), () => ({ mtime: new Date(mtimeMs) })));
  }

  async symlink(target: string, path: string): Promise<void> {
    return this.change('symlink', path, () => this.tree.symlink(target, path, this.keyOf(path)));
  }

  async readlink(path: string): Promise<string> {
    return this.guard('readlink', path, () => this.tree.readlink(path));
  }

  async statfs(): Promise<StatFs> {
    // S3 has no capacity: report a large, fixed free space, as s3fs and mountpoint-s3 do.
    // Fields are 32-bit in fuse-native, hence 1 MiB blocks.
    const blocks = 2 ** 30;
    return { bsize: 1 << 20, frsize: 1 << 20, blocks, bfree: blocks, bavail: blocks, files: 2 ** 30, ffree: 2 ** 30, favail: 2 ** 30, fsid: 0, flag: 0, namemax: 255 };
  }

  async access(path: string, mode: number): Promise<void> {
    return this.guard('access', path, async () => {
      if (!this.stage.get(this.keyOf(path))) await this.namespace.resolve(path);
      if (mode & fsConstants.W_OK) this.refuseWhenReadOnly(path);
    });
  }

  async unsupported(path: string): Promise<void> {
    throw new FsError(this.options.readOnly ? 'EROFS' : 'EPERM', path);
  }

  /** Uploads every file still holding unsaved bytes (at unmount); returns what could not be saved. */
  async flushAll(): Promise<string[]> {
    return this.stage.flushAll();
  }

  /** Open handles right now (for tests and statistics). */
  get openHandles(): number {
    return this.handles.size;
  }

  private noteSequentialOpen(path: string): void {
    const { parent, name } = splitPath(path);
    const dirPrefix = dirPrefixOf(this.options.prefix, parent);
    const listing = this.namespace.cachedListing(dirPrefix);
    if (listing) this.scanAhead.opened(dirPrefix, listing, name);
  }

  private async upload(path: string, staged: StagedFile): Promise<void> {
    try {
      const result = await this.stage.flush(staged);
      if (result) this.invalidation.changed(result.key);
    } catch (error) {
      // Whatever S3 said, a failed save is EIO at close()/fsync(); the bytes stay staged.
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
      throw toFsError(error, this.log, { op, path });
    }
  }
}
