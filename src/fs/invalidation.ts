// The one invalidation path. Every change, whatever its origin (this mount's own writes,
// `s3mount cache invalidate`, a remote channel, an S3 event), comes here; the rule is applied
// once (the key, the same name as a directory, its parent's listing and the mount root's
// listing; everything under a prefix when a whole tree changed), and subscribers hear of it.
// The root's listing goes too because a change deep down can make an implicit directory (one
// without a marker) appear or vanish up to the top, which only the parent would not cover.
// This mount's own changes whose outcome it knows are written into the cache instead
// (changedHere): the parent's listing is edited in place, and the rule applies only where the
// edit cannot be exact (see names/listing-edits.ts).
import type { Caches } from '../cache/caches.js';
import { keyOf } from './names/paths.js';

/** Where a change was learned. A channel that forwards changes skips what it delivered itself. */
export type InvalidationOrigin = 'local' | 'control' | 'remote';

/** What changed, as subscribers see it. */
export type InvalidationEvent =
  /** A file or directory at `key` (no trailing slash) was created, changed or removed. */
  | { kind: 'key'; bucket: string; key: string; origin: InvalidationOrigin }
  /** Everything under `prefix` (ending in "/", or "" for the bucket) may have changed. */
  | { kind: 'prefix'; bucket: string; prefix: string; origin: InvalidationOrigin }
  /** Everything cached was dropped. */
  | { kind: 'clear'; bucket: string; origin: InvalidationOrigin };

export type InvalidationListener = (event: InvalidationEvent) => void;

/** The caches an invalidation drops entries from. */
export type InvalidatedCaches = Pick<Caches, 'invalidateKey' | 'invalidatePrefix' | 'clear' | 'clearMetadata'>;

export class Invalidation {
  private readonly listeners = new Set<InvalidationListener>();

  constructor(
    private readonly caches: InvalidatedCaches,
    private readonly bucket: string,
    /** The mount's root prefix ("" or ending in "/"). */
    private readonly rootPrefix: string,
  ) {}

  /** A file or directory at `key` (no trailing slash) changed. Returns the entries dropped. */
  changed(key: string, origin: InvalidationOrigin = 'local'): number {
    const dropped = this.dropKey(key);
    this.emit({ kind: 'key', bucket: this.bucket, key, origin });
    return dropped;
  }

  /** Everything under the directory `key/` changed too (a directory rename, a recursive invalidation). */
  changedTree(key: string, origin: InvalidationOrigin = 'local'): number {
    const dropped = this.caches.invalidatePrefix(this.bucket, `${key}/`) + this.dropKey(key);
    this.emit({ kind: 'prefix', bucket: this.bucket, prefix: `${key}/`, origin });
    return dropped;
  }

  /**
   * A change this mount made itself and whose outcome it knows. The stale answers about `key`
   * go first (its HEAD answers and content; with `scope` 'directory', those of `key/` too: its
   * probe, listing and marker); then `edit` writes what is true now into the cache (the HEAD
   * answer, the parent's listing edited in place: see names/listing-edits.ts) and says whether
   * that was exact. When it was not, the rule of changed() drops the rest. Subscribers hear of
   * it as of any change.
   */
  changedHere(key: string, edit: () => boolean, scope: 'entry' | 'directory' = 'entry'): number {
    let dropped = this.caches.invalidateKey(this.bucket, key);
    if (scope === 'directory') dropped += this.caches.invalidateKey(this.bucket, `${key}/`);
    if (!editedExactly(edit)) dropped += this.dropKey(key);
    this.emit({ kind: 'key', bucket: this.bucket, key, origin: 'local' });
    return dropped;
  }

  /** A directory this mount moved as a whole: as changedTree(), but `edit` may keep the parent's listing (see changedHere). */
  changedTreeHere(key: string, edit: () => boolean): number {
    let dropped = this.caches.invalidatePrefix(this.bucket, `${key}/`) + this.caches.invalidateKey(this.bucket, key);
    if (!editedExactly(edit)) dropped += this.dropKey(key);
    this.emit({ kind: 'prefix', bucket: this.bucket, prefix: `${key}/`, origin: 'local' });
    return dropped;
  }

  /**
   * What `path` (inside the mount) names changed: its HEAD answer and content, its listing
   * when it is a directory, its parent's and the root's listings; with `recursive`, everything
   * under it. The mount root itself: its listing, or with `recursive` everything.
   */
  changedPath(path: string, recursive: boolean, origin: InvalidationOrigin): number {
    const key = keyOf(this.rootPrefix, path);
    if (key !== this.rootPrefix) return recursive ? this.changedTree(key, origin) : this.changed(key, origin);
    if (!recursive) {
      const dropped = this.caches.invalidateKey(this.bucket, this.rootPrefix);
      this.emit({ kind: 'key', bucket: this.bucket, key: this.rootPrefix, origin });
      return dropped;
    }
    const dropped = this.caches.invalidatePrefix(this.bucket, this.rootPrefix);
    this.emit({ kind: 'prefix', bucket: this.bucket, prefix: this.rootPrefix, origin });
    return dropped;
  }

  /**
   * Everything cached is dropped. From another mount (or when changes from other mounts may
   * have been missed) only metadata goes: content blocks are keyed by ETag and never stale,
   * and the disk tier's may hold gigabytes.
   */
  clear(origin: InvalidationOrigin): void {
    if (origin === 'remote') this.caches.clearMetadata();
    else this.caches.clear();
    this.emit({ kind: 'clear', bucket: this.bucket, origin });
  }

  /** Hears every change from now on; returns the function that stops it. */
  subscribe(listener: InvalidationListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private dropKey(key: string): number {
    const { caches, bucket } = this;
    // The same name as a directory: its probe, listing pages and assembled listing.
    return (
      caches.invalidateKey(bucket, key) +
      caches.invalidateKey(bucket, `${key}/`) +
      caches.invalidateKey(bucket, parentPrefix(key)) +
      (parentPrefix(key) === this.rootPrefix ? 0 : caches.invalidateKey(bucket, this.rootPrefix))
    );
  }

  private emit(event: InvalidationEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}

/**
 * Runs an edit of the cache; one that fails counts as not exact. The change it describes is
 * done in S3 already: the rule then drops what it touched rather than fail the operation.
 */
function editedExactly(edit: () => boolean): boolean {
  try {
    return edit();
  } catch {
    return false;
  }
}

/** Listing prefix of the directory holding `key`: "a/b/c" → "a/b/", "a" → "". */
export function parentPrefix(key: string): string {
  const slash = key.lastIndexOf('/');
  return slash < 0 ? '' : key.slice(0, slash + 1);
}
