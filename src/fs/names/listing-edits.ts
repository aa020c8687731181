// This mount's own changes written into the cached answers about names, instead of dropping
// them: an object it stored (an upload, a copy, a directory marker) or deleted is put into, or
// taken out of, its parent directory's cached listing, which stays complete, and its HEAD
// answer is what the change made it. So the lookup of the next new name in that directory and
// the next `ls` of it are answered without S3 (`tar x` costs one PUT per small file).
//
// An edited listing keeps the expiry of the answer it was learned from: other writers' changes
// show as late as they would have, no later. It is edited in place (the same object, stored
// again so that tiers below memory get it): what was derived from its order (HEADs and
// prefetches sent ahead) is not worked out again for every new file of a large `tar x`. Each edit says whether it was exact; when it was
// not (a directory that may have vanished with its last key, s3fs's older directory formats),
// the caller falls back to the invalidation rule (src/fs/invalidation.ts).
import type { MetadataCache } from '../../cache/metadata-cache.js';
import type { ListPage, ObjectInfo } from '../../s3/object-store.js';
import type { DirListing, DirNode, FsNode, StoredObject } from '../nodes.js';
import { dirKey, type HeadAnswer, headKey, probeKey, VERSION_TTL_MS, versionKey } from './metadata-keys.js';
import { folderMarkerName, nodeOfHead } from './object-kinds.js';
import { unusableNameReason } from './paths.js';

export interface ListingEditsOptions {
  bucket: string;
  /** The mount's root prefix: "" or ending in "/". The root is there whatever it holds. */
  prefix: string;
  /** How long "no such key" is trusted (0: not kept). */
  negativeTtlMs: number;
  /** false: listing entries carry no metadata (see NamespaceOptions.posixMetadata). */
  posixMetadata: boolean;
}

export class ListingEdits {
  constructor(
    private readonly cache: MetadataCache,
    private readonly options: ListingEditsOptions,
  ) {}

  /** A file, or a directory's marker, this mount stored: its HEAD answer and its entry in the parent's listing. */
  stored(object: StoredObject): boolean {
    const info = infoOf(object);
    const isMarker = object.key.endsWith('/');
    this.rememberHead(object, info);
    if (isMarker) {
      // A marker sorts first under its prefix: a one-key LIST of the directory shows it.
      this.cache.set<ListPage>(probeKey(this.options.bucket, object.key), { objects: [info], commonPrefixes: [] });
    }
    const { parent, name } = entryOf(isMarker ? object.key.slice(0, -1) : object.key);
    // s3fs's `name_$folder$` changes how its directory lists: the rule decides.
    if (folderMarkerName(name) !== undefined) return false;
    if (unusableNameReason(name)) return true;
    const node = isMarker ? this.dirNode(info) : this.fileNode(info);
    let exact = true;
    this.cache.update<DirListing>(dirKey(this.options.bucket, parent), (listing) => {
      const existing = listing.entries.get(name);
      // A directory of the same name shadows a file: what the listing shows does not change.
      if (!isMarker && existing?.type === 'dir') return listing;
      // A directory held by another kind of marker (s3fs's older formats) gains a second one.
      if (isMarker && existing?.type === 'dir' && existing.marker && existing.marker.key !== object.key) {
        exact = false;
        return listing;
      }
      listing.entries.set(name, node);
      return listing;
    });
    // The parent holds a key now, whatever an empty probe of it said.
    this.cache.update<ListPage>(probeKey(this.options.bucket, parent), (page) =>
      isEmpty(page) ? (isMarker ? { objects: [], commonPrefixes: [object.key] } : { objects: [info], commonPrefixes: [] }) : page,
    );
    return exact;
  }

  /**
   * A directory this mount created (its marker stored): also its own listing, empty. The name
   * was free by the parent's listing, or by S3 just now: the new listing is trusted as long as
   * that listing would have been, so a key another writer put there meanwhile shows no later.
   */
  dirCreated(marker: StoredObject): boolean {
    const { parent } = entryOf(marker.key.slice(0, -1));
    const ttlMs = this.cache.remainingTtl(dirKey(this.options.bucket, parent));
    const exact = this.stored(marker);
    this.cache.set<DirListing>(dirKey(this.options.bucket, marker.key), { entries: new Map() }, { ttlMs });
    return exact;
  }

  /** A file (or link, or special file) this mount deleted. */
  removed(key: string): boolean {
    this.rememberMissing(key);
    const { parent, name } = entryOf(key);
    if (folderMarkerName(name) !== undefined) return false;
    if (unusableNameReason(name)) return true;
    return this.removeEntry(parent, name, (node) => node.type === 'file' && node.key === key);
  }

  /** A directory this mount removed (rmdir: its marker deleted, nothing under it). */
  dirRemoved(prefix: string): boolean {
    this.rememberMissing(prefix);
    const { parent, name } = entryOf(prefix.slice(0, -1));
    if (unusableNameReason(name)) return true;
    return this.removeEntry(parent, name, (node) => node.type === 'dir' && node.prefix === prefix);
  }

  /** A directory this mount moved away as a whole (rename): its entry leaves the parent's listing. */
  dirMovedAway(prefix: string): boolean {
    const { parent, name } = entryOf(prefix.slice(0, -1));
    if (unusableNameReason(name)) return true;
    return this.removeEntry(parent, name, (node) => node.type === 'dir' && node.prefix === prefix);
  }

  /**
   * A directory this mount moved here as a whole (rename): an entry in the parent's listing,
   * with the copy of its marker when it had one (whose metadata, copied by S3, a HEAD tells).
   */
  dirMovedHere(prefix: string, marker: StoredObject | undefined): boolean {
    const { parent, name } = entryOf(prefix.slice(0, -1));
    if (unusableNameReason(name)) return true;
    const node: DirNode = marker ? this.dirNode(infoOf(marker)) : { type: 'dir', prefix, marker: null };
    this.cache.update<DirListing>(dirKey(this.options.bucket, parent), (listing) => {
      listing.entries.set(name, node);
      return listing;
    });
    this.cache.update<ListPage>(probeKey(this.options.bucket, parent), (page) => (isEmpty(page) ? { objects: [], commonPrefixes: [prefix] } : page));
    return true;
  }

  /**
   * Takes `name` out of the listing of `parent` when `matches` its entry. Exact only when the
   * directory is known to stay: it is the mount's root, or it has a marker, or its cached
   * listing holds other entries (without a marker, a directory is gone with its last key).
   */
  private removeEntry(parent: string, name: string, matches: (node: FsNode) => boolean): boolean {
    let exact = parent === this.options.prefix || this.hasMarker(parent) === true;
    let shadowed = false;
    this.cache.update<DirListing>(dirKey(this.options.bucket, parent), (listing) => {
      const existing = listing.entries.get(name);
      if (existing && matches(existing)) {
        listing.entries.delete(name);
        // A file of the same name was hidden by the directory: it shows now, and the listing
        // does not hold it (nor its size or ETag), so it is listed again.
        if (existing.type === 'dir' && existing.shadowsFile) {
          shadowed = true;
          return listing;
        }
      }
      exact ||= listing.entries.size > 0;
      return listing;
    });
    return exact && !shadowed;
  }

  /** Whether the directory at `prefix` has a marker, as far as cached answers tell. */
  private hasMarker(prefix: string): boolean | undefined {
    const { bucket } = this.options;
    const head = this.cache.peek<HeadAnswer>(headKey(bucket, prefix));
    if (head) return !('missing' in head);
    const probe = this.cache.peek<ListPage>(probeKey(bucket, prefix));
    if (probe && !isEmpty(probe)) return probe.objects[0]?.key === prefix;
    const { parent, name } = entryOf(prefix.slice(0, -1));
    const node = this.cache.peek<DirListing>(dirKey(bucket, parent))?.entries.get(name);
    if (node?.type !== 'dir' || node.marker === undefined) return undefined;
    return node.marker !== null;
  }

  /** What a HEAD would answer now, when every part of it is known. */
  private rememberHead(object: StoredObject, info: ObjectInfo): void {
    if (object.metadata === undefined || object.contentType === undefined) return;
    this.cache.set<HeadAnswer>(headKey(this.options.bucket, object.key), info, { memoryOnly: true });
    // Remembered per version only when the second S3 stamped it with is known.
    if (Math.floor(object.sentAt.getTime() / 1000) === Math.floor(object.doneAt.getTime() / 1000)) {
      this.cache.set<ObjectInfo>(versionKey(this.options.bucket, info), info, { ttlMs: VERSION_TTL_MS });
    }
  }

  private rememberMissing(key: string): void {
    const ttlMs = this.options.negativeTtlMs;
    if (ttlMs > 0) this.cache.set<HeadAnswer>(headKey(this.options.bucket, key), { missing: true }, { ttlMs, memoryOnly: true });
  }

  /** The entry a listing would hold for a file: with its metadata unless listings carry none. */
  private fileNode(info: ObjectInfo): FsNode {
    if (this.options.posixMetadata && info.metadata) return nodeOfHead(info);
    return { type: 'file', key: info.key, size: info.size, etag: info.etag, mtime: info.lastModified };
  }

  /** The entry a listing would hold for a directory with this marker. */
  private dirNode(marker: ObjectInfo): DirNode {
    if (this.options.posixMetadata && marker.metadata) return nodeOfHead(marker) as DirNode;
    const { key, size, etag, lastModified } = marker;
    return { type: 'dir', prefix: key, mtime: lastModified, marker: { key, size, etag, lastModified } };
  }
}

/** An object as a HEAD would describe it; S3's LastModified is taken as the time the request was sent. */
function infoOf(object: StoredObject): ObjectInfo {
  const info: ObjectInfo = { key: object.key, size: object.size, etag: object.etag, lastModified: object.sentAt };
  if (object.metadata) info.metadata = object.metadata;
  if (object.contentType) info.contentType = object.contentType;
  return info;
}

/** The directory holding `key` (no trailing slash) and its name there: "a/b/c" → "a/b/", "c". */
function entryOf(key: string): { parent: string; name: string } {
  const cut = key.lastIndexOf('/') + 1;
  return { parent: key.slice(0, cut), name: key.slice(cut) };
}

function isEmpty(page: ListPage): boolean {
  return page.objects.length === 0 && page.commonPrefixes.length === 0;
}
