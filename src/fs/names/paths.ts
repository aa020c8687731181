// Rules between FUSE paths ("/a/b") and S3 keys ("prefix/a/b"). Pure functions.

/** Longest file name Linux accepts (NAME_MAX), in bytes. */
export const NAME_MAX = 255;

/** Longest object key S3 accepts, in bytes (UTF-8). */
export const KEY_MAX = 1024;

/** Normalises a mount prefix: "" or "some/prefix/". */
export function normalizePrefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+/, '').replace(/\/+$/, '');
  return trimmed === '' ? '' : `${trimmed}/`;
}

/** Path components of a FUSE path ("/" has none). */
export function components(path: string): string[] {
  return path.split('/').filter((part) => part !== '');
}

/** Object key of a file at `path` under the mount prefix. */
export function keyOf(prefix: string, path: string): string {
  // FUSE hands over absolute, normalised paths: the common case needs no splitting.
  if (path.length > 1 && path.charCodeAt(0) === 47 && !path.endsWith('/') && !path.includes('//')) return prefix + path.slice(1);
  return prefix + components(path).join('/');
}

/** Listing prefix of the directory at `path`: the mount prefix for "/", else its key + "/". */
export function dirPrefixOf(prefix: string, path: string): string {
  const key = keyOf(prefix, path);
  return key === prefix ? prefix : `${key}/`;
}

/** Parent path and last component of a path other than "/". */
export function splitPath(path: string): { parent: string; name: string } {
  const parts = components(path);
  const name = parts.pop() ?? '';
  return { parent: `/${parts.join('/')}`, name };
}

/** Why a listed name cannot be shown as a file name, or undefined when it can. */
export function unusableNameReason(name: string): string | undefined {
  if (name === '') return 'empty component';
  if (name === '.' || name === '..') return 'dot component';
  if (name.includes('\u0000')) return 'NUL byte';
  if (Buffer.byteLength(name) > NAME_MAX) return 'longer than 255 bytes';
  return undefined;
}

/** Whether a name is longer than a file name may be (ENAMETOOLONG, as on a local disk). */
export function nameTooLong(name: string): boolean {
  return Buffer.byteLength(name) > NAME_MAX;
}

/**
 * Why a new entry at `key` (its last component `name`) cannot be stored, or undefined when it
 * can: a name over NAME_MAX, or a key (a directory's with its "/") over S3's KEY_MAX, which S3
 * would refuse only once the bytes are written and closed.
 */
export function newKeyTooLong(key: string, isDirectory: boolean): string | undefined {
  const name = key.slice(key.lastIndexOf('/') + 1);
  if (nameTooLong(name)) return `name longer than ${NAME_MAX} bytes`;
  if (Buffer.byteLength(key) + (isDirectory ? 1 : 0) > KEY_MAX) return `key longer than S3's ${KEY_MAX} bytes`;
  return undefined;
}
