// The metadata cache entries names/ keeps, by what they answer: a HEAD of a key, a HEAD of one
// version of an object, a directory's assembled listing, and the one-key LIST that tells
// whether a prefix is a directory.
import type { MetadataKey } from '../../cache/metadata-cache.js';
import type { ObjectInfo } from '../../s3/object-store.js';
import { versionOf } from './object-kinds.js';

/** The cached answer to "is there an object at this key?" when negative caching is on. */
export interface MissingObject {
  missing: true;
}
export type HeadAnswer = ObjectInfo | MissingObject;

// What a HEAD said about one version of an object stays true as long as listings show that
// version: kept as long as content blocks (the cache's bounds push it out sooner).
export const VERSION_TTL_MS = 24 * 3600 * 1000;

/** The HEAD answer for `key` (or "no such key"), trusted for the metadata TTL. */
export function headKey(bucket: string, key: string): MetadataKey {
  return { op: 'head', bucket, key };
}

/** What a HEAD said about one version of an object (ETag and LastModified to the second). */
export function versionKey(bucket: string, info: { key: string; etag: string; lastModified: Date }): MetadataKey {
  return { op: 'head', bucket, key: info.key, params: versionOf(info) };
}

/** The whole listing of the directory at `prefix` ("" or ending in "/"). */
export function dirKey(bucket: string, prefix: string): MetadataKey {
  return { op: 'dir', bucket, key: prefix };
}

/** The one-key LIST of `dirPrefix` with delimiter: is it a directory, and does it have a marker? */
export function probeKey(bucket: string, dirPrefix: string): MetadataKey {
  return { op: 'list', bucket, key: dirPrefix, params: 'probe' };
}
