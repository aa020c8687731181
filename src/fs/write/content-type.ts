// Content-Type of an uploaded file, from its name, as s3fs gives it (buckets served over HTTP
// need it). mime-types (jshttp, mime-db's table) knows far more extensions than a
// distribution's /etc/mime.types and is the same everywhere s3mount runs.
import { lookup } from 'mime-types';

/** The type of a directory marker (`dir/`), as s3fs writes them. */
export const DIRECTORY_CONTENT_TYPE = 'application/x-directory';

/** What S3 itself assumes for bytes of unknown kind. */
export const UNKNOWN_CONTENT_TYPE = 'application/octet-stream';

/** The type a key's last component names ("a/b/page.html" → "text/html"), else application/octet-stream. */
export function contentTypeFor(key: string): string {
  const name = key.slice(key.lastIndexOf('/') + 1);
  return lookup(name) || UNKNOWN_CONTENT_TYPE;
}
