// Names of what s3mount keeps in Redis. Everything starts with "s3mount:1:" and the bucket
// (bucket names hold no ":"), so one database can serve several buckets, and a new layout gets
// a new number instead of misreading an old one.

const NAMESPACE = 's3mount:1:';

/** The invalidation stream of a bucket. */
export function streamKey(bucket: string): string {
  return `${NAMESPACE}${bucket}:events`;
}

/** The hash holding every metadata entry (HEAD answers, probe pages, listings) of one object key or directory prefix. */
export function entryKey(bucket: string, key: string): string {
  return `${NAMESPACE}${bucket}:m:${key}`;
}

/** A SCAN pattern matching the entry hashes of every key starting with `prefix`. */
export function entryPattern(bucket: string, prefix: string): string {
  return `${entryKey(bucket, prefix).replace(/[*?[\]\\]/g, '\\$&')}*`;
}
