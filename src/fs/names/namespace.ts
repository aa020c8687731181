// Lookup of names: which keys are files, which prefixes are directories, answered
// from cached listings first, then from cached HEAD and one-key LIST answers, then from S3
// (one LIST of the name when nothing about it is cached: name-page.ts).
import type { MetadataCache, MetadataKey } from '../../cache/metadata-cache.js';
import type { Logger } from '../../log.js';
import { isStoreError, type ListPage, type ObjectInfo, type ObjectStore } from '../../s3/object-store.js';
import { FsError } from '../errors.js';
import { type DirListing, type DirNode, type FsNode, fileNode } from '../nodes.js';
import { HeadAhead } from './head-ahead.js';
import { ListingEdits } from './listing-edits.js';
import { dirKey, type HeadAnswer, headKey, probeKey, versionKey, versionTtlMs } from './metadata-keys.js';
import { isWellFormedMetadata } from './metadata-shapes.js';
import { NAME_PAGE_KEYS, readNamePage } from './name-page.js';
import { addFolderMarker, FOLDER_SUFFIX, folderMarkerName, nodeOfHead } from './object-kinds.js';
import { keyOf, nameTooLong, unusableNameReason } from './paths.js';
import { SubtreeListings } from './subtree-listing.js';

/**
 * How long (ms) an answer derived from cached entries stays what it is, unless an
 * invalidation comes first: each entry read lowers it to the time that entry has left.
 */
export interface Lifetime {
  ms: number;
}

// S3's largest page; fewer calls for big directories.
const PAGE_SIZE = 1000;

export interface NamespaceOptions {
  bucket: string;
  prefix: string;
  negativeTtlMs: number;
  /**
   * false: attributes come from listings alone (no HEAD per entry): modes, owners and times
   * stored in metadata, symbolic links and s3fs's directory objects are not seen. Default true.
   */
  posixMetadata?: boolean;
  /** This machine's wall clock (ms since the epoch), against S3's Last-Modified; tests inject one. */
  wallNow?: () => number;
}

export class Namespace {
  private readonly headNodes = new WeakMap<ObjectInfo, FsNode>();
  /** HEADs sent past a cached answer by key (headAgain), by key: one at a time. */
  private readonly headsAgain = new Map<string, Promise<ObjectInfo | undefined>>();
  /** Name pages on their way, so that concurrent lookups of one name share one LIST. */
  private readonly namePages = new Map<string, Promise<ListPage>>();
  private readonly posix: boolean;
  readonly headAhead: HeadAhead;
  private readonly knownWatchers = new Set<(key: string) => void>();
  /** This mount's own changes, written into the cached listings and HEAD answers. */
  readonly edits: ListingEdits;

  constructor(
    private readonly store: ObjectStore,
    private readonly cache: MetadataCache,
    private readonly log: Logger,
    private readonly options: NamespaceOptions,
  ) {
    this.posix = options.posixMetadata ?? true;
    this.edits = new ListingEdits(cache, { bucket: options.bucket, prefix: options.prefix, negativeTtlMs: options.negativeTtlMs, posixMetadata: this.posix });
    this.headAhead = new HeadAhead(
      (node) => this.headWanted(node),
      async (node, key) => {
        try {
          if (!(await this.recallNode(node))) await this.headObject(key, true, node.type === 'file' && node.key === key ? node.etag : undefined);
        } catch (error) {
          this.log.debug({ key, err: error }, 'HEAD sent ahead failed');
          return;
        }
        if (this.knownWatchers.size > 0 && this.knownNode(node)) {
          const known = node.type === 'file' ? node.key : node.prefix;
          for (const watcher of this.knownWatchers) watcher(known);
        }
      },
    );
  }

  /**
   * Hears of every listed entry whose attributes a HEAD sent ahead (or a tier below) made
   * known before a program asked: its key (a directory's prefix). Returns the
   * function that stops it.
   */
  watchKnown(listener: (key: string) => void): () => void {
    this.knownWatchers.add(listener);
    return () => this.knownWatchers.delete(listener);
  }

  /** The node at `path`, or ENOENT. */
  async resolve(path: string): Promise<FsNode> {
    const { prefix } = this.options;
    const key = keyOf(prefix, path);
    if (key === prefix) return { type: 'dir', prefix };
    const name = key.slice(key.lastIndexOf('/') + 1);
    const reason = unusableNameReason(name);
    // As a local disk answers: a name too long is not "no such file", whatever S3 holds.
    if (reason) throw new FsError(nameTooLong(name) ? 'ENAMETOOLONG' : 'ENOENT', `${reason}: ${path}`);
    let listed = this.listedEntry(key);
    // Not in memory: a tier below (a remount's disk) may still hold the parent's listing.
    if (listed === undefined && (await this.cache.recall<DirListing>(this.dirKey(parentOf(key))))) listed = this.listedEntry(key);
    if (listed === null) throw new FsError('ENOENT', path);
    if (listed === undefined) return this.lookup(key, path);
    const known = this.knownNode(listed.node);
    if (known) return known;
    // Listed, but what it is (and its attributes) only a HEAD tells: never a default.
    this.headAhead.asked(listed.listing, listed.name);
    return this.headListed(listed.node, key, path);
  }

  /**
   * The node at `path` when a cached listing of its parent says what it is (or that it is
   * not there: null), else undefined. Never calls S3 and never awaits. `lifetime`, when
   * given, is lowered to the time left to the cache entries the answer comes from. Unless
   * `aside`, the question counts as a program's look at the entry (HEADs sent ahead follow).
   */
  resolveIfKnown(path: string, lifetime?: Lifetime, aside = false): FsNode | null | undefined {
    const { prefix } = this.options;
    const key = keyOf(prefix, path);
    if (key === prefix) return undefined;
    const listed = this.listedEntry(key, lifetime);
    if (!listed) return listed;
    if (!aside) this.headAhead.asked(listed.listing, listed.name);
    return this.knownNode(listed.node, lifetime);
  }

  /** The entry a cached listing of the parent holds for `key` (null: none), or undefined without one. */
  private listedEntry(key: string, lifetime?: Lifetime): { listing: DirListing; name: string; node: FsNode } | null | undefined {
    // The mount prefix ends in "/", so the parent's listing prefix is never shorter than it.
    const cut = key.lastIndexOf('/') + 1;
    const name = key.slice(cut);
    if (unusableNameReason(name)) return undefined;
    const listing = this.peek<DirListing>(this.dirKey(key.slice(0, cut)), lifetime);
    if (!listing) return undefined;
    const node = listing.entries.get(name);
    return node ? { listing, name, node } : null;
  }

  /**
   * A listing entry with everything its HEAD adds (kind, mode, owner, times), when that is known
   * without asking S3, else undefined. A listing says only that an object exists: whether it is
   * a file, a symbolic link or an s3fs directory, and its attributes, are never guessed.
   */
  knownNode(node: FsNode, lifetime?: Lifetime): FsNode | undefined {
    if (!this.posix || node.metadata) return node;
    if (node.type === 'file') {
      const info = this.peek<ObjectInfo>(this.versionKey({ key: node.key, etag: node.etag, lastModified: node.mtime }), lifetime);
      return info && this.headNode(info);
    }
    // A directory: its marker, when there is one, holds its attributes.
    if (node.marker === null) return node;
    if (node.marker) {
      const info = this.peek<ObjectInfo>(this.versionKey(node.marker), lifetime);
      return info && this.listedDir(node, info);
    }
    const head = this.peek<HeadAnswer>(this.headKey(node.prefix), lifetime);
    if (!head) return undefined;
    return 'missing' in head ? node : this.listedDir(node, head);
  }

  /** A cached value, lowering `lifetime` to the time it has left (to 0 when there is none). */
  private peek<T extends object>(key: MetadataKey, lifetime?: Lifetime): T | undefined {
    const value = this.cache.peek<T>(key);
    if (lifetime) lifetime.ms = value === undefined ? 0 : Math.min(lifetime.ms, this.cache.remainingTtl(key) ?? 0);
    return value;
  }

  /** The key whose HEAD knownNode is missing for `node`, or undefined. */
  private headWanted(node: FsNode): string | undefined {
    if (this.knownNode(node)) return undefined;
    return node.type === 'file' ? node.key : (node.marker?.key ?? node.prefix);
  }

  /**
   * `knownNode`, also asking the tiers below memory (a remount's disk, a shared tier) for the
   * HEAD answer of the version the listing shows; never asks S3.
   */
  private async recallNode(node: FsNode): Promise<FsNode | undefined> {
    const known = this.knownNode(node);
    if (known || !this.posix) return known;
    if (node.type === 'file') {
      const info = await this.recallVersion({ key: node.key, etag: node.etag, lastModified: node.mtime });
      return info && this.headNode(info);
    }
    if (!node.marker) return undefined;
    const info = await this.recallVersion(node.marker);
    return info && this.listedDir(node, info);
  }

  /** The HEAD answer remembered for exactly this version of an object, from memory or below. */
  private async recallVersion(version: { key: string; etag: string; lastModified: Date }): Promise<ObjectInfo | undefined> {
    const key = this.versionKey(version);
    const info = await this.cache.recall<ObjectInfo>(key);
    // Whatever a tier below hands back is checked: a HEAD answer of the version listed.
    return info && isWellFormedMetadata(key, info) ? info : undefined;
  }

  /** Waits for the HEAD that says what a listed entry is (none when a tier below remembers it). */
  private async headListed(node: FsNode, key: string, path: string): Promise<FsNode> {
    const recalled = await this.recallNode(node);
    if (recalled) return recalled;
    if (node.type === 'dir') {
      const info = await this.headObject(node.marker?.key ?? node.prefix, true);
      // A marker gone since the listing: the directory still stands on its keys.
      return info ? this.listedDir(node, info) : node;
    }
    const info = await this.headObject(node.key, true, node.etag);
    // Gone (or become a directory) since the listing: a lookup says what is there now.
    return info ? this.headNode(info) : this.lookup(key, path);
  }

  /** One node per cached HEAD answer, so that whatever is derived from a node can be kept with it. */
  private headNode(head: ObjectInfo): FsNode {
    let node = this.headNodes.get(head);
    if (!node) this.headNodes.set(head, (node = nodeOfHead(head)));
    return node;
  }

  /** A listed directory with its marker's attributes. */
  private listedDir(node: FsNode & { type: 'dir' }, marker: ObjectInfo): FsNode {
    const known = this.headNode(marker);
    return known.type === 'dir' && known.prefix === node.prefix ? known : node;
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
  /**
   * What a HEAD of `key` answers (undefined: no such key), through the cache. `listed`: asked
   * for an entry of a cached listing, whose version entry is what the tiers below memory keep
   * (a remount finds it through the listing): the answer by key alone then stays in memory,
   * so that each HEAD of a cold `ls -l` costs one entry below, not two. A lookup of a name no
   * listing holds keeps both, so that after a remount it is answered without S3.
   */
  async headObject(key: string, listed = false, etag?: string): Promise<ObjectInfo | undefined> {
    // A listing showing another version than the cached HEAD answer (another writer replaced
    // the object, and one of the two answers is older): S3 says which is current. Without this,
    // a listing fetched again (its TTL, `cache invalidate` of the directory) showed the new
    // ETag while stat kept the old size until the HEAD answer expired too.
    const cached = etag === undefined ? undefined : this.cache.peek<HeadAnswer>(this.headKey(key));
    if (cached && !('missing' in cached) && cached.etag !== etag) return this.headAgain(key, listed);
    const answer = await this.cache.fetch<HeadAnswer>(
      this.headKey(key),
      async () => {
        try {
          const sentAt = this.wallNow();
          const info = await this.store.head(key);
          // True of this version for as long as it lasts, whatever happens to the TTL'd answer.
          this.rememberVersion(info, sentAt);
          return info;
        } catch (error) {
          if (isStoreError(error, 'NotFound')) return { missing: true };
          throw error;
        }
      },
      { ttlFor: (value) => ('missing' in value ? this.options.negativeTtlMs : undefined), memoryOnly: listed },
    );
    return 'missing' in answer ? undefined : answer;
  }

  /** headObject past the cached answer by key, which it replaces. */
  private headAgain(key: string, listed: boolean): Promise<ObjectInfo | undefined> {
    let asked = this.headsAgain.get(key);
    if (!asked) {
      asked = this.headPastCache(key, listed).finally(() => this.headsAgain.delete(key));
      this.headsAgain.set(key, asked);
    }
    return asked;
  }

  private async headPastCache(key: string, listed: boolean): Promise<ObjectInfo | undefined> {
    try {
      const sentAt = this.wallNow();
      const info = await this.store.head(key);
      this.rememberVersion(info, sentAt);
      this.cache.set<HeadAnswer>(this.headKey(key), info, { memoryOnly: listed });
      return info;
    } catch (error) {
      if (!isStoreError(error, 'NotFound')) throw error;
      const ttlMs = this.options.negativeTtlMs;
      if (ttlMs > 0) this.cache.set<HeadAnswer>(this.headKey(key), { missing: true }, { ttlMs, memoryOnly: true });
      return undefined;
    }
  }

  /** What a HEAD sent at `sentAt` said about this version (see versionTtlMs for how long). */
  private rememberVersion(info: ObjectInfo, sentAt: number): void {
    this.cache.set<ObjectInfo>(this.versionKey(info), info, { ttlMs: versionTtlMs(info.lastModified, sentAt) });
  }

  private wallNow(): number {
    return this.options.wallNow?.() ?? Date.now();
  }

  private headKey(key: string) {
    return headKey(this.options.bucket, key);
  }

  private versionKey(info: { key: string; etag: string; lastModified: Date }) {
    return versionKey(this.options.bucket, info);
  }

  private dirKey(prefix: string) {
    return dirKey(this.options.bucket, prefix);
  }

  /**
   * A name no cached listing holds. Nothing cached about it either: one LIST of the name
   * (name-page.ts). Else, or when that page was cut short: a HEAD of the key and a one-key LIST
   * of `key/` at once (a directory shadows a file), then a HEAD of s3fs's `name_$folder$`.
   */
  private async lookup(key: string, path: string): Promise<FsNode> {
    const named = await this.lookupByName(key);
    if (named === null) throw new FsError('ENOENT', path);
    if (named) return named;
    const found = await this.lookupObjects(key);
    if (found) return found;
    // s3fs's oldest format: an empty directory is a `dir_$folder$` object.
    const folder = await this.headObject(`${key}${FOLDER_SUFFIX}`);
    if (folder) return this.headNode(folder);
    throw new FsError('ENOENT', path);
  }

  /**
   * The node at `key` (null: none) from one LIST with the key as prefix, when no answer about
   * the key or `key/` is cached; undefined to ask the usual way. The page's answers are cached
   * as the requests it saves would have cached them (the HEAD of the key and of
   * `name_$folder$`, the probe of `key/`), with the same TTLs (a "no such key" for
   * --negative-metadata-ttl), unless something was invalidated while it was on its way.
   */
  private async lookupByName(key: string): Promise<FsNode | null | undefined> {
    const { bucket, negativeTtlMs } = this.options;
    const dirPrefix = `${key}/`;
    const probe = probeKey(bucket, dirPrefix);
    if (await this.isKnown([this.headKey(key), probe])) return undefined;
    const invalidationsBefore = this.cache.invalidations;
    const facts = readNamePage(key, await this.namePage(key));
    if (!facts) return undefined;
    const keep = () => this.cache.invalidations === invalidationsBefore;
    if (facts.directory) {
      // Its marker `key/` is inside the prefix the page rolled up: a HEAD tells.
      const [marker, info] = await Promise.all([this.headObject(dirPrefix), facts.object ? this.headObject(key) : undefined]);
      // What the one-key LIST of `key/` would show first: the marker, else some key below.
      if (keep()) this.cache.set<ListPage>(probe, marker ? { objects: [marker], commonPrefixes: [] } : { objects: [], commonPrefixes: [dirPrefix] });
      if (!marker && info && nodeOfHead(info).type === 'dir') return this.headNode(info);
      return { type: 'dir', prefix: dirPrefix, mtime: marker?.lastModified, metadata: marker?.metadata ?? {}, marker: marker ?? null };
    }
    const folderKey = `${key}${FOLDER_SUFFIX}`;
    if (keep() && negativeTtlMs > 0) {
      const ttl = { ttlMs: negativeTtlMs };
      this.cache.set<ListPage>(probe, { objects: [], commonPrefixes: [] }, ttl);
      if (!facts.object) this.cache.set<HeadAnswer>(this.headKey(key), { missing: true }, ttl);
      if (!facts.folderMarker) this.cache.set<HeadAnswer>(this.headKey(folderKey), { missing: true }, ttl);
    }
    // A file wins over an s3fs marker of the same name, as below.
    const info = facts.object && (await this.headObject(key));
    if (info) return this.headNode(info);
    const folder = facts.folderMarker && (await this.headObject(folderKey));
    return folder ? this.headNode(folder) : null;
  }

  /** Whether any of `keys` is cached (in memory, on its way, or in a tier below). */
  private async isKnown(keys: MetadataKey[]): Promise<boolean> {
    if (keys.some((key) => this.cache.has(key))) return true;
    const recalled = await Promise.all(keys.map((key) => this.cache.recall(key)));
    return recalled.some((value) => value !== undefined);
  }

  /** The name page of `key`, one LIST for concurrent lookups of the same name. */
  private namePage(key: string): Promise<ListPage> {
    let page = this.namePages.get(key);
    if (!page) {
      page = this.store.list(key, { delimiter: '/', maxKeys: NAME_PAGE_KEYS }).finally(() => this.namePages.delete(key));
      this.namePages.set(key, page);
    }
    return page;
  }

  private async lookupObjects(key: string): Promise<FsNode | undefined> {
    const dirPrefix = `${key}/`;
    const probe = probeKey(this.options.bucket, dirPrefix);
    // A directory known from its cached probe (in memory, or on disk after a remount) needs no
    // HEAD of a file it would shadow anyway (the kernel looks a directory up again every
    // --kernel-cache-ttl).
    const knownDir = await this.cache.recall<ListPage>(probe);
    const [info, probePage] = await Promise.all([
      knownDir && !isEmpty(knownDir) ? undefined : this.headObject(key),
      this.cache.fetch<ListPage>(
        probe,
        () => this.store.list(dirPrefix, { delimiter: '/', maxKeys: 1 }),
        // An empty probe means "no such directory": trusted only as long as any negative answer.
        { ttlFor: (page) => (isEmpty(page) ? this.options.negativeTtlMs : undefined) },
      ),
    ]);
    if (!isEmpty(probePage)) {
      if (info) this.log.debug({ key }, 'file shadowed by a directory of the same name');
      // A marker sorts first under its prefix; its metadata holds the directory's mode and times.
      const marker = probePage.objects.find((object) => object.key === dirPrefix);
      const markerInfo = marker ? await this.headObject(dirPrefix) : undefined;
      if (!markerInfo && info && nodeOfHead(info).type === 'dir') return this.headNode(info);
      return {
        type: 'dir',
        prefix: dirPrefix,
        mtime: markerInfo?.lastModified ?? marker?.lastModified,
        metadata: markerInfo?.metadata ?? {},
        marker: markerInfo ?? null,
      };
    }
    return info && this.headNode(info);
  }

  /**
   * A directory's entries. Its first page is listed without delimiter, so that subdirectories
   * whose keys that page holds entirely are learned (and cached) at the same time. When the
   * page does not reach the end: a flat directory goes on the same way (its pages without
   * delimiter are its pages with one), anything else is listed again with the delimiter, from
   * the start. Resuming after the last key seen would save that page, but emulators that do
   * not order keys by their bytes (fauxqs sorts them by locale) then drop keys.
   */
  private async assembleDirectory(prefix: string): Promise<DirListing> {
    const invalidationsBefore = this.cache.invalidations;
    const first = await this.store.list(prefix, { maxKeys: PAGE_SIZE });
    const subtree = new SubtreeListings(prefix, (key, reason) => this.skipped(key, reason));
    subtree.add(first.objects);
    const truncated = first.nextContinuationToken !== undefined;
    // Listings learned on the way are kept only if nothing was invalidated meanwhile, as the
    // cache does for the listing it loads, and only from a page in S3's byte order.
    if (this.cache.invalidations === invalidationsBefore && inByteOrder(first.objects)) {
      for (const [dirPrefix, entries] of subtree.complete(truncated ? (first.objects.at(-1)?.key ?? '') : undefined)) {
        this.cache.set<DirListing>(this.dirKey(dirPrefix), { entries });
      }
    }
    const entries = subtree.listings.get(prefix) as Map<string, FsNode>;
    if (!truncated) return { entries };
    if (!isFlat(first.objects, prefix)) return this.listWithDelimiter(prefix);

    for (let token = first.nextContinuationToken; token; ) {
      const page = await this.store.list(prefix, { continuationToken: token, maxKeys: PAGE_SIZE });
      token = page.nextContinuationToken;
      // Deeper keys after all, with more to come: the directory is listed the usual way
      // rather than page by page through whatever subtree follows.
      if (token && !isFlat(page.objects, prefix)) return this.listWithDelimiter(prefix);
      subtree.add(page.objects);
    }
    return { entries };
  }

  private async listWithDelimiter(prefix: string): Promise<DirListing> {
    const entries = new Map<string, FsNode>();
    let token: string | undefined;
    do {
      const page = await this.store.list(prefix, { delimiter: '/', continuationToken: token, maxKeys: PAGE_SIZE });
      this.addPage(prefix, entries, page);
      token = page.nextContinuationToken;
    } while (token);
    return { entries };
  }

  /** The entries of one page of a listing with delimiter. */
  private addPage(prefix: string, entries: Map<string, FsNode>, page: ListPage): void {
    for (const common of page.commonPrefixes) {
      const name = common.slice(prefix.length, -1);
      if (!this.usable(name, common)) continue;
      // A file "a" may come before the prefix "a/": the directory wins either way.
      const node: DirNode = { type: 'dir', prefix: common };
      if (entries.get(name)?.type === 'file') {
        this.skipped(common.slice(0, -1), 'file shadowed by a directory of the same name');
        node.shadowsFile = true;
      }
      entries.set(name, node);
    }
    for (const object of page.objects) {
      const name = object.key.slice(prefix.length);
      // The directory's own marker ("prefix/") is not an entry of itself.
      if (name === '' || !this.usable(name, object.key)) continue;
      const folder = folderMarkerName(name);
      if (folder !== undefined && this.usable(folder, object.key)) {
        addFolderMarker(entries, folder, `${prefix}${folder}/`, object);
        continue;
      }
      const existing = entries.get(name);
      if (existing?.type === 'dir') {
        this.skipped(object.key, 'file shadowed by a directory of the same name');
        existing.shadowsFile = true;
        continue;
      }
      entries.set(name, fileNode(object));
    }
  }

  private skipped(key: string, reason: string): void {
    if (this.log.isLevelEnabled('debug')) this.log.debug({ key, reason }, 'key left out of listing');
  }

  private usable(name: string, key: string): boolean {
    const reason = unusableNameReason(name);
    if (reason) this.skipped(key, reason);
    return reason === undefined;
  }
}

/** Every key is a direct child of `prefix` (or its marker): no subdirectory in sight. */
function isFlat(objects: readonly ObjectInfo[], prefix: string): boolean {
  return objects.every((object) => !object.key.slice(prefix.length).includes('/'));
}

/** Keys in strictly increasing UTF-8 byte order, as S3 lists them. */
function inByteOrder(objects: readonly ObjectInfo[]): boolean {
  for (let i = 1; i < objects.length; i++) {
    if (Buffer.compare(Buffer.from(objects[i - 1].key), Buffer.from(objects[i].key)) >= 0) return false;
  }
  return true;
}

/** Listing prefix of the directory holding `key`: "a/b/c" → "a/b/". */
function parentOf(key: string): string {
  return key.slice(0, key.lastIndexOf('/') + 1);
}

function isEmpty(page: ListPage): boolean {
  return page.objects.length === 0 && page.commonPrefixes.length === 0;
}
