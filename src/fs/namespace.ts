// Lookup of names: which keys are files, which prefixes are directories, answered
// from cached listings first, then from cached HEAD and one-key LIST answers.
import type { ObjectCache } from '../cache/types.js';
import type { Logger } from '../log.js';
import { isStoreError, type ListPage, type ObjectInfo, type ObjectStore } from '../s3/object-store.js';
import { FsError } from './errors.js';
import { dirPrefixOf, keyOf, splitPath, unusableNameReason } from './paths.js';

export interface FileNode {
  type: 'file';
  key: string;
  size: number;
  etag: string;
  mtime: Date;
  metadata?: Record<string, string>;
}

export interface DirNode {
  type: 'dir';
  /** Listing prefix, "" or ending in "/". */
  prefix: string;
  /** From the `dir/` marker when one exists. */
  mtime?: Date;
  metadata?: Record<string, string>;
}

export type FsNode = FileNode | DirNode;

/** A whole directory, assembled from every page of its listing. */
export interface DirListing {
  entries: Map<string, FsNode>;
}

/** The cached answer to "is there an object at this key?" when negative caching is on. */
interface MissingObject {
  missing: true;
}
type HeadAnswer = ObjectInfo | MissingObject;

// S3's largest page; fewer calls for big directories.
const PAGE_SIZE = 1000;

export interface NamespaceOptions {
  bucket: string;
  prefix: string;
  negativeTtlMs: number;
}

export class Namespace {
  constructor(
    private readonly store: ObjectStore,
    private readonly cache: ObjectCache,
    private readonly log: Logger,
    private readonly options: NamespaceOptions,
  ) {}

  /** The node at `path`, or ENOENT. */
  async resolve(path: string): Promise<FsNode> {
    const { prefix } = this.options;
    if (keyOf(prefix, path) === prefix) return { type: 'dir', prefix };
    const { parent, name } = splitPath(path);
    const reason = unusableNameReason(name);
    if (reason) throw new FsError('ENOENT', `${reason}: ${path}`);

    // A listing of the parent already says what every child is: no HEAD needed.
    const parentListing = this.cachedListing(dirPrefixOf(prefix, parent));
    if (parentListing) {
      const node = parentListing.entries.get(name);
      if (!node) throw new FsError('ENOENT', path);
      // Listings carry no metadata: a HEAD answer for the same version, when cached, adds it.
      if (node.type === 'file') {
        const head = this.cache.peek<HeadAnswer>(this.headKey(node.key));
        if (head && !('missing' in head) && head.etag === node.etag) return fileNode(head);
      }
      return node;
    }
    return this.lookup(keyOf(prefix, path), path);
  }

  /** The directory's listing if the cache holds it; never calls S3. */
  cachedListing(prefix: string): DirListing | undefined {
    return this.cache.peek<DirListing>(this.dirKey(prefix));
  }

  /** Every entry of the directory at `prefix`, following all pages. */
  async listDirectory(prefix: string): Promise<DirListing> {
    return this.cache.fetch(this.dirKey(prefix), () => this.assembleDirectory(prefix));
  }

  /** The HEAD answer for `key` through the cache; undefined when there is no such object. */
  async headObject(key: string): Promise<ObjectInfo | undefined> {
    const answer = await this.cache.fetch<HeadAnswer>(
      this.headKey(key),
      async () => {
        try {
          return await this.store.head(key);
        } catch (error) {
          if (isStoreError(error, 'NotFound')) return { missing: true };
          throw error;
        }
      },
      { ttlFor: (value) => ('missing' in value ? this.options.negativeTtlMs : undefined) },
    );
    return 'missing' in answer ? undefined : answer;
  }

  private headKey(key: string) {
    return { op: 'head' as const, bucket: this.options.bucket, key };
  }

  private dirKey(prefix: string) {
    return { op: 'dir' as const, bucket: this.options.bucket, key: prefix };
  }

  /** HEAD of the key and a one-key LIST of `key/` at once: a directory shadows a file. */
  private async lookup(key: string, path: string): Promise<FsNode> {
    const dirPrefix = `${key}/`;
    const [info, probe] = await Promise.all([
      this.headObject(key),
      this.cache.fetch<ListPage>(
        { op: 'list', bucket: this.options.bucket, key: dirPrefix, params: 'probe' },
        () => this.store.list(dirPrefix, { delimiter: '/', maxKeys: 1 }),
        // An empty probe means "no such directory": trusted only as long as any negative answer.
        { ttlFor: (page) => (isEmpty(page) ? this.options.negativeTtlMs : undefined) },
      ),
    ]);
    if (!isEmpty(probe)) {
      if (info) this.log.debug({ key }, 'file shadowed by a directory of the same name');
      // A marker sorts first under its prefix; its metadata holds the directory's mode and times.
      const marker = probe.objects.find((object) => object.key === dirPrefix);
      const markerInfo = marker ? await this.headObject(dirPrefix) : undefined;
      return { type: 'dir', prefix: dirPrefix, mtime: markerInfo?.lastModified ?? marker?.lastModified, metadata: markerInfo?.metadata };
    }
    if (info) return fileNode(info);
    throw new FsError('ENOENT', path);
  }

  private async assembleDirectory(prefix: string): Promise<DirListing> {
    const entries = new Map<string, FsNode>();
    let token: string | undefined;
    do {
      const page = await this.cache.fetch<ListPage>(
        { op: 'list', bucket: this.options.bucket, key: prefix, params: token ?? '' },
        () => this.store.list(prefix, { delimiter: '/', continuationToken: token, maxKeys: PAGE_SIZE }),
      );
      for (const common of page.commonPrefixes) {
        const name = common.slice(prefix.length, -1);
        if (!this.usable(name, common)) continue;
        // A file "a" may sit on an earlier page than the prefix "a/": the directory wins either way.
        if (entries.get(name)?.type === 'file') this.log.debug({ key: common.slice(0, -1) }, 'file shadowed by a directory of the same name');
        entries.set(name, { type: 'dir', prefix: common });
      }
      for (const object of page.objects) {
        const name = object.key.slice(prefix.length);
        // The directory's own marker ("prefix/") is not an entry of itself.
        if (name === '' || !this.usable(name, object.key)) continue;
        if (entries.get(name)?.type === 'dir') {
          this.log.debug({ key: object.key }, 'file shadowed by a directory of the same name');
          continue;
        }
        entries.set(name, fileNode(object));
      }
      token = page.nextContinuationToken;
    } while (token);
    return { entries };
  }

  private usable(name: string, key: string): boolean {
    const reason = unusableNameReason(name);
    if (reason && this.log.isLevelEnabled('debug')) this.log.debug({ key, reason }, 'key left out of listing');
    return reason === undefined;
  }
}

export function fileNode(info: ObjectInfo): FileNode {
  return { type: 'file', key: info.key, size: info.size, etag: info.etag, mtime: info.lastModified, metadata: info.metadata };
}

function isEmpty(page: ListPage): boolean {
  return page.objects.length === 0 && page.commonPrefixes.length === 0;
}
