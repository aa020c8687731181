// Changes to the namespace: unlink, mkdir, rmdir, rename, attribute changes and symlinks.
// Each one ends by writing what it changed into the cache, through the one invalidation path
// (src/fs/invalidation.ts, changedHere), which drops what cannot be written exactly.
import type { Logger } from '../../log.js';
import type { CopyOptions, ObjectInfo, ObjectStore } from '../../s3/object-store.js';
import { type AttributeDefaults, attributesOf, PERMISSION_BITS, S_IFDIR, S_IFLNK, S_IFMT } from '../attributes/attributes.js';
import { isDevice } from '../attributes/special-files.js';
import { formatEpochSeconds, fromDate, now } from '../attributes/times.js';
import { versionStamped } from '../attributes/version-time.js';
import { FsError } from '../errors.js';
import type { Invalidation } from '../invalidation.js';
import type { Namespace } from '../names/namespace.js';
import { reservedFileName } from '../names/object-kinds.js';
import { components, KEY_MAX } from '../names/paths.js';
import type { FsNode, StoredObject } from '../nodes.js';
import { contentTypeFor, DIRECTORY_CONTENT_TYPE } from './content-type.js';
import type { StagedAttributes } from './staged-file.js';
import { toMetadata, type WriteStage } from './write-stage.js';

// Directory renames copy keys a few at a time: parallel enough to be quick, few enough to stay polite.
const RENAME_PARALLEL = 8;
const PROGRESS_EVERY = 100;

/** An object renamed by copy and delete: the version it was, and the copy holding its bytes now. */
export interface MovedObject {
  /** The version moved; no ETag when a staged copy was moved (its bytes were saved just before). */
  from: { key: string; etag?: string };
  /** The copy; its size when known. */
  to: { key: string; etag: string; size?: number };
}

export class TreeChanges {
  constructor(
    private readonly store: ObjectStore,
    private readonly namespace: Namespace,
    private readonly stage: WriteStage,
    private readonly invalidation: Invalidation,
    private readonly log: Logger,
    private readonly defaults: AttributeDefaults,
  ) {}

  async unlink(path: string, key: string): Promise<void> {
    const staged = this.stage.get(key);
    if (staged && !staged.unlinked) {
      // Open handles keep their bytes, but the file is never uploaded again. An upload of it
      // already running ends before the delete, so that it cannot bring the object back.
      staged.unlinked = true;
      await this.stage.settled(staged);
      if (staged.refs === 0) await this.stage.forget(staged);
      // What the cache says may predate that upload: the delete is sent either way.
      await this.store.delete(key);
      this.removed(key);
      return;
    }
    const node = await this.resolveOrUndefined(path);
    if (!node) {
      if (staged) return;
      throw new FsError('ENOENT', path);
    }
    if (node.type === 'dir') throw new FsError('EISDIR', path);
    await this.store.delete(key);
    this.removed(key);
  }

  async mkdir(path: string, key: string, mode: number, gid = this.defaults.gid): Promise<void> {
    if (this.stage.get(key) || (await this.resolveOrUndefined(path))) throw new FsError('EEXIST', path);
    const present = now();
    const attributes: StagedAttributes = {
      mode: S_IFDIR | (mode & PERMISSION_BITS),
      uid: this.defaults.uid,
      gid,
      atime: present,
      mtime: present,
      ctime: present,
    };
    const metadata = toMetadata(attributes);
    const stored = await this.put(`${key}/`, Buffer.alloc(0), metadata, DIRECTORY_CONTENT_TYPE);
    this.invalidation.changedHere(key, () => this.namespace.edits.dirCreated(stored), 'directory');
  }

  async rmdir(path: string, key: string): Promise<void> {
    const node = await this.namespace.resolve(path);
    if (node.type !== 'dir') throw new FsError('ENOTDIR', path);
    if (isRoot(path)) throw new FsError('EBUSY', path);
    await this.requireEmpty(path, node.prefix);
    await this.store.delete(node.prefix);
    // s3fs's older formats: the directory's own object (`dir`, `dir_$folder$`) goes too.
    if (node.marker && node.marker.key !== node.prefix) {
      await this.store.delete(node.marker.key);
      this.invalidation.changed(node.marker.key);
    }
    this.invalidation.changedHere(key, () => this.namespace.edits.dirRemoved(node.prefix), 'directory');
  }

  /**
   * Renames a file or directory. Returns, for each object file moved (the file, or every file
   * under the directory), the version it was and the copy that now holds the same bytes under
   * the new name (open handles of that version follow it).
   */
  async rename(from: string, fromKey: string, to: string, toKey: string): Promise<MovedObject[]> {
    if (fromKey === toKey) return [];
    if (toKey.startsWith(`${fromKey}/`)) throw new FsError('EINVAL', `cannot move ${from} into itself`);
    const staged = this.stage.get(fromKey);
    const source = staged && !staged.unlinked ? undefined : await this.namespace.resolve(from);
    const destination = await this.resolveOrUndefined(to);
    if (source?.type === 'dir') {
      if (destination?.type === 'file') throw new FsError('ENOTDIR', to);
      if (destination?.type === 'dir') await this.requireEmpty(to, destination.prefix);
      const moved = await this.renameDirectory(source.prefix, `${toKey}/`);
      this.invalidation.changedTreeHere(fromKey, () => this.namespace.edits.dirMovedAway(source.prefix));
      // A directory with no key at all (known only from a stale answer) does not appear anywhere.
      this.invalidation.changedTreeHere(toKey, () => moved.keys > 0 && this.namespace.edits.dirMovedHere(`${toKey}/`, moved.marker));
      return moved.files;
    }
    if (destination?.type === 'dir') throw new FsError('EISDIR', to);
    const reserved = reservedFileName(toKey);
    if (reserved) throw new FsError('EPERM', `${to}: ${reserved}`);
    // A file being written is saved first, so the copy carries its latest bytes.
    if (staged && !staged.unlinked) {
      await this.stage.flush(staged).catch((error: unknown) => {
        throw new FsError('EIO', `cannot save ${from} before renaming it: ${(error as Error).message}`);
      });
    }
    // A rename changes ctime, and the copy takes the Content-Type its new name gives (as s3fs).
    const head = staged && !staged.unlinked ? undefined : source ? await this.namespace.headObject(fromKey) : undefined;
    const metadata = staged && !staged.unlinked ? toMetadata(staged.attributes) : head ? keptMtime(head) : undefined;
    const size = staged && !staged.unlinked ? staged.size : source?.type === 'file' ? source.size : undefined;
    const copyMetadata = metadata && { ...metadata, ctime: formatEpochSeconds(now()) };
    const contentType = copyMetadata && contentTypeFor(toKey);
    const sentAt = new Date();
    const { etag } = await this.store.copy(fromKey, toKey, copyMetadata ? { size, metadata: copyMetadata, contentType } : { size });
    const copied: StoredObject = { key: toKey, size: size ?? 0, etag, metadata: copyMetadata, contentType, sentAt, doneAt: new Date() };
    await this.store.delete(fromKey);
    const replaced = this.stage.get(toKey);
    if (replaced) {
      replaced.unlinked = true;
      if (replaced.refs === 0) await this.stage.forget(replaced);
    }
    if (staged && !staged.unlinked) await this.stage.rekey(staged, toKey, etag);
    this.removed(fromKey);
    // The size of a copy is known when its source's was.
    this.invalidation.changedHere(toKey, () => size !== undefined && this.namespace.edits.stored(copied));
    if (staged && !staged.unlinked) return [{ from: { key: fromKey }, to: { key: toKey, etag, size } }];
    return source?.type === 'file' ? [{ from: { key: fromKey, etag: source.etag }, to: { key: toKey, etag, size } }] : [];
  }

  /** chmod, chown, utimens: the object is copied onto itself with new metadata (s3fs-compatible). */
  async setAttributes(path: string, key: string, change: (current: StagedAttributes) => Partial<StagedAttributes>): Promise<void> {
    const staged = this.stage.get(key);
    if (staged && !staged.unlinked) {
      // Uploaded with the bytes at the next flush.
      await staged.setAttributes(change(staged.attributes));
      return;
    }
    const node = await this.namespace.resolve(path);
    if (isRoot(path)) throw new FsError('EPERM', 'the mount root has no object to hold attributes');
    const objectKey = node.type === 'dir' ? node.prefix : node.key;
    const info = await this.namespace.headObject(objectKey);
    const current = attributesOf(info ? withMetadata(node, info) : node, this.defaults);
    const changed = change(current);
    const metadata = { ...(info?.metadata ?? {}), ...toMetadata({ ...current, ...changed }) };
    let stored: StoredObject;
    if (info) {
      // A REPLACE copy keeps the object's Content-Type only by naming it again.
      const contentType = info.contentType ?? contentTypeFor(objectKey);
      const sentAt = new Date();
      const { etag } = await this.store.copy(objectKey, objectKey, { metadata, size: info.size, contentType });
      stored = { key: objectKey, size: info.size, etag, metadata, contentType, sentAt, doneAt: new Date() };
    } else {
      // An implicit directory has no marker yet: writing one gives its attributes a home. Its
      // times are not known (what it shows is the mount's start): only times set now are written.
      if (!changed.atime) delete metadata.atime;
      if (!changed.mtime) delete metadata.mtime;
      stored = await this.put(objectKey, Buffer.alloc(0), metadata, DIRECTORY_CONTENT_TYPE);
    }
    this.invalidation.changedHere(key, () => this.namespace.edits.stored(stored));
  }

  async symlink(target: string, path: string, key: string, gid = this.defaults.gid): Promise<void> {
    if (this.stage.get(key) || (await this.resolveOrUndefined(path))) throw new FsError('EEXIST', path);
    const present = now();
    const attributes: StagedAttributes = {
      mode: S_IFLNK | 0o777,
      uid: this.defaults.uid,
      gid,
      atime: present,
      mtime: present,
      ctime: present,
    };
    const stored = await this.put(key, Buffer.from(target), toMetadata(attributes), contentTypeFor(key));
    this.invalidation.changedHere(key, () => this.namespace.edits.stored(stored));
  }

  /** A FIFO, socket or device node: a zero-byte object whose metadata gives its type (s3fs-compatible). */
  async mknod(path: string, key: string, mode: number, rdev: number, gid = this.defaults.gid): Promise<void> {
    if (this.stage.get(key) || (await this.resolveOrUndefined(path))) throw new FsError('EEXIST', path);
    const present = now();
    const attributes: StagedAttributes = { mode, uid: this.defaults.uid, gid, atime: present, mtime: present, ctime: present };
    if (isDevice(mode) && rdev) attributes.rdev = rdev;
    const stored = await this.put(key, Buffer.alloc(0), toMetadata(attributes), contentTypeFor(key));
    this.invalidation.changedHere(key, () => this.namespace.edits.stored(stored));
  }

  async readlink(path: string): Promise<string> {
    const node = await this.namespace.resolve(path);
    // A node resolved from a HEAD answer (fresh, or remembered for the version listed) carries
    // its metadata: no second HEAD for what it already says.
    const info = node.type !== 'file' ? undefined : node.metadata ? node : await this.namespace.headObject(node.key);
    const mode = Number(info?.metadata?.mode ?? 0);
    if (!info || (mode & S_IFMT) !== S_IFLNK) throw new FsError('EINVAL', `${path} is not a symbolic link`);
    return (await this.store.getRange(info.key, 0, info.size)).toString();
  }

  /**
   * Moves every key under `fromPrefix`; says how many, what the copy of its marker is when it
   * had one, and the files moved (each version and its copy).
   */
  private async renameDirectory(fromPrefix: string, toPrefix: string): Promise<{ keys: number; marker?: StoredObject; files: MovedObject[] }> {
    // Unsaved files under the directory are saved first so that the copy carries them.
    for (const staged of this.stage.under(fromPrefix)) {
      if (!staged.unlinked) await this.stage.flush(staged);
    }
    const objects = await this.allObjects(fromPrefix);
    // Checked before any key moves, so that a refused rename leaves the directory whole.
    const grows = Buffer.byteLength(toPrefix) - Buffer.byteLength(fromPrefix);
    const tooLong = grows > 0 && objects.find(({ key }) => Buffer.byteLength(key) + grows > KEY_MAX);
    if (tooLong) throw new FsError('ENAMETOOLONG', `${toPrefix}${tooLong.key.slice(fromPrefix.length)}: key longer than S3's ${KEY_MAX} bytes`);
    this.log.info({ from: fromPrefix, to: toPrefix, keys: objects.length }, 'renaming a directory key by key (not atomic)');
    let done = 0;
    let marker: StoredObject | undefined;
    const files: MovedObject[] = [];
    const copies = new Map<string, string>();
    for (let i = 0; i < objects.length; i += RENAME_PARALLEL) {
      await Promise.all(
        objects.slice(i, i + RENAME_PARALLEL).map(async ({ key, size, etag: version }) => {
          const destination = toPrefix + key.slice(fromPrefix.length);
          // Each copy keeps the mtime its object shows. One without mtime metadata shows its
          // Last-Modified, which the copy would move: the file would show a new mtime once the
          // kernel's attributes of the moved inode ran out (a rename keeps mtime).
          const head = await this.namespace.headObject(key);
          const kept: CopyOptions = head && head.metadata?.mtime === undefined ? { size, metadata: keptMtime(head), contentType: head.contentType } : { size };
          const sentAt = new Date();
          const { etag } = await this.store.copy(key, destination, kept);
          if (key === fromPrefix) marker = { key: destination, size, etag, metadata: kept.metadata, contentType: kept.contentType, sentAt, doneAt: new Date() };
          else if (!key.endsWith('/')) files.push({ from: { key, etag: version }, to: { key: destination, etag, size } });
          copies.set(key, etag);
          await this.store.delete(key);
          done++;
          if (done % PROGRESS_EVERY === 0) this.log.info({ from: fromPrefix, to: toPrefix, done, total: objects.length }, 'directory rename progress');
        }),
      );
    }
    for (const staged of this.stage.under(fromPrefix)) await this.stage.rekey(staged, toPrefix + staged.key.slice(fromPrefix.length), copies.get(staged.key));
    return { keys: objects.length, marker, files };
  }

  /** A deleted key: out of its parent's listing (see names/listing-edits.ts). */
  private removed(key: string): void {
    this.invalidation.changedHere(key, () => this.namespace.edits.removed(key));
  }

  /** A PUT, and what it stored. */
  private async put(key: string, body: Buffer, metadata: Record<string, string>, contentType: string): Promise<StoredObject> {
    const sentAt = new Date();
    const { etag } = await this.store.put(key, body, { metadata, contentType });
    return { key, size: body.length, etag, metadata, contentType, sentAt, doneAt: new Date() };
  }

  /** Every object under `prefix`, at any depth. */
  private async allObjects(prefix: string): Promise<ObjectInfo[]> {
    const objects: ObjectInfo[] = [];
    let token: string | undefined;
    do {
      const page = await this.store.list(prefix, { continuationToken: token });
      objects.push(...page.objects);
      token = page.nextContinuationToken;
    } while (token);
    return objects;
  }

  /** ENOTEMPTY unless the directory holds nothing but its own marker (asked of S3, not the cache). */
  private async requireEmpty(path: string, prefix: string): Promise<void> {
    const page = await this.store.list(prefix, { delimiter: '/', maxKeys: 2 });
    const children = page.objects.filter((object) => object.key !== prefix).length + page.commonPrefixes.length;
    if (children > 0 || this.stage.under(prefix).some((staged) => !staged.unlinked)) throw new FsError('ENOTEMPTY', path);
  }

  private async resolveOrUndefined(path: string): Promise<FsNode | undefined> {
    try {
      return await this.namespace.resolve(path);
    } catch (error) {
      if (error instanceof FsError && error.code === 'ENOENT') return undefined;
      throw error;
    }
  }
}

function withMetadata(node: FsNode, info: ObjectInfo): FsNode {
  // A marker without time metadata has the time S3 gives it (not the mount's start).
  return node.type === 'dir' ? { ...node, mtime: node.mtime ?? info.lastModified, metadata: info.metadata } : { ...node, metadata: info.metadata };
}

function isRoot(path: string): boolean {
  return components(path).length === 0;
}

/**
 * An object's metadata for a copy that renames it. A rename keeps mtime, as on a local disk;
 * an object without mtime metadata (another writer's) shows its Last-Modified, which the copy
 * would change, so the copy carries the mtime it showed.
 */
function keptMtime(head: ObjectInfo): Record<string, string> {
  const metadata = head.metadata ?? {};
  if (metadata.mtime !== undefined) return metadata;
  return { ...metadata, mtime: formatEpochSeconds(fromDate(versionStamped(head.lastModified, head.etag))) };
}
