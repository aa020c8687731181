// Whether a metadata value read back from a tier outside this process (a shared Redis) has the
// shape the names layer stores under its key: a HEAD answer for that key, a probe page of that
// directory, a listing whose entries are that directory's children. Anything else is refused,
// so that a corrupt or foreign value is a miss, never a name shown or a size believed.
import type { CacheKey } from '../../cache/types.js';
import { FOLDER_SUFFIX, versionOf } from './object-kinds.js';
import { unusableNameReason } from './paths.js';

type Plain = Record<string, unknown>;

const isPlain = (value: unknown): value is Plain => typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Map);
const hasOnly = (value: Plain, allowed: readonly string[]) => Object.keys(value).every((name) => allowed.includes(name));
const isDate = (value: unknown): value is Date => value instanceof Date && Number.isFinite(value.getTime());
const isStringRecord = (value: unknown) => isPlain(value) && Object.values(value).every((field) => typeof field === 'string');

const OBJECT_INFO_FIELDS = ['key', 'size', 'etag', 'lastModified', 'metadata', 'contentType'];

/** An ObjectInfo as the object store answers it. */
function isObjectInfo(value: unknown): value is { key: string; etag: string; lastModified: Date } {
  if (!isPlain(value) || !hasOnly(value, OBJECT_INFO_FIELDS)) return false;
  const { key, size, etag, lastModified, metadata, contentType } = value;
  return (
    typeof key === 'string' &&
    typeof size === 'number' &&
    Number.isSafeInteger(size) &&
    size >= 0 &&
    typeof etag === 'string' &&
    isDate(lastModified) &&
    (metadata === undefined || isStringRecord(metadata)) &&
    (contentType === undefined || typeof contentType === 'string')
  );
}

function isHeadAnswer(key: CacheKey, value: unknown): boolean {
  if (key.params === undefined && isPlain(value) && value.missing === true) return Object.keys(value).length === 1;
  if (!isObjectInfo(value) || value.key !== key.key) return false;
  return key.params === undefined || key.params === versionOf(value);
}

function isProbePage(key: CacheKey, value: unknown): boolean {
  if (key.params !== 'probe' || !isPlain(value) || !hasOnly(value, ['objects', 'commonPrefixes', 'nextContinuationToken'])) return false;
  const { objects, commonPrefixes, nextContinuationToken } = value;
  return (
    Array.isArray(objects) &&
    objects.every((object) => isObjectInfo(object) && object.key.startsWith(key.key)) &&
    Array.isArray(commonPrefixes) &&
    commonPrefixes.every((prefix) => typeof prefix === 'string' && prefix.startsWith(key.key) && prefix.endsWith('/')) &&
    (nextContinuationToken === undefined || typeof nextContinuationToken === 'string')
  );
}

function isListingEntry(directory: string, name: unknown, node: unknown): boolean {
  if (typeof name !== 'string' || name.includes('/') || unusableNameReason(name) !== undefined || !isPlain(node)) return false;
  const { metadata } = node;
  if (metadata !== undefined && !isStringRecord(metadata)) return false;
  if (node.type === 'file') {
    const { key, size, etag, mtime } = node;
    return (
      hasOnly(node, ['type', 'key', 'size', 'etag', 'mtime', 'metadata']) &&
      key === directory + name &&
      typeof size === 'number' &&
      Number.isSafeInteger(size) &&
      size >= 0 &&
      typeof etag === 'string' &&
      isDate(mtime)
    );
  }
  if (node.type !== 'dir' || !hasOnly(node, ['type', 'prefix', 'mtime', 'metadata', 'marker'])) return false;
  const { prefix, mtime, marker } = node;
  if (prefix !== `${directory}${name}/` || (mtime !== undefined && !isDate(mtime))) return false;
  return marker === undefined || marker === null || (isObjectInfo(marker) && (marker.key === prefix || marker.key === `${directory}${name}${FOLDER_SUFFIX}`));
}

function isListing(key: CacheKey, value: unknown): boolean {
  if (key.params !== undefined || (key.key !== '' && !key.key.endsWith('/'))) return false;
  if (!isPlain(value) || !hasOnly(value, ['entries']) || !(value.entries instanceof Map)) return false;
  for (const [name, node] of value.entries) if (!isListingEntry(key.key, name, node)) return false;
  return true;
}

/** Whether `value` is well formed for the metadata entry `key`. */
export function isWellFormedMetadata(key: CacheKey, value: unknown): boolean {
  switch (key.op) {
    case 'head':
      return isHeadAnswer(key, value);
    case 'list':
      return isProbePage(key, value);
    case 'dir':
      return isListing(key, value);
    default:
      return false;
  }
}
