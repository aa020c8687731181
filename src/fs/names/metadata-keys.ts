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

// Clocks of S3 and of this machine may be this far apart (NTP keeps them far closer).
const CLOCK_SLACK_MS = 1_000;

/**
 * How long to keep what a HEAD sent at `sentAt` (this machine's clock) said about a version:
 * VERSION_TTL_MS once the second S3 stamped the version with was over when the HEAD went out,
 * else undefined (the metadata TTL). A change in that same second (a chmod by copying the
 * object onto itself right after its upload, as s3fs's `cp -p` makes) keeps its ETag and
 * shows the same Last-Modified to the second: the same version to a listing, though its HEAD
 * now says another mode. Such an answer is asked again after the TTL rather than kept a day.
 */
export function versionTtlMs(lastModified: Date, sentAt: number): number | undefined {
  const secondOver = (Math.floor(lastModified.getTime() / 1000) + 1) * 1000;
  return sentAt >= secondOver + CLOCK_SLACK_MS ? VERSION_TTL_MS : undefined;
}

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
