// Times S3 gives (Last-Modified) have whole seconds, so an object replaced within the same
// second by one of the same size would look unchanged to the kernel, which keeps a file's
// pages across opens while its size and mtime stay the same (libfuse's auto_cache). The
// milliseconds of such a time are derived from the object's ETag instead: a new version
// shows a new mtime (999 times in 1,000), and its old pages are dropped at the next open.
// Times a writer set (s3fs mtime metadata, utimens) are shown as they are.

/** `time` with milliseconds taken from `etag` when it has none. */
export function versionStamped(time: Date, etag: string | undefined): Date {
  if (!etag || time.getTime() % 1000 !== 0) return time;
  let hash = 0x811c9dc5;
  for (let i = 0; i < etag.length; i++) hash = Math.imul(hash ^ etag.charCodeAt(i), 0x01000193);
  return new Date(time.getTime() + ((hash >>> 0) % 1000));
}
