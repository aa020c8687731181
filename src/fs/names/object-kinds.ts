// What an object is, from its key and its HEAD answer: a file, a symbolic link or a directory,
// s3fs's older directory formats included (an object `dir` with Content-Type
// application/x-directory, or a `dir_$folder$` marker). A listing shows neither user metadata
// nor Content-Type, so an object's kind is known only once its HEAD is.
import type { ObjectInfo } from '../../s3/object-store.js';
import { S_IFDIR, S_IFMT } from '../attributes/attributes.js';
import { type DirNode, type FsNode, fileNode } from '../nodes.js';

/** Suffix of the directory markers older s3fs versions (and some S3 browsers) write. */
export const FOLDER_SUFFIX = '_$folder$';

/** The directory name a `name_$folder$` marker stands for, or undefined for any other name. */
export function folderMarkerName(name: string): string | undefined {
  return name.length > FOLDER_SUFFIX.length && name.endsWith(FOLDER_SUFFIX) ? name.slice(0, -FOLDER_SUFFIX.length) : undefined;
}

/**
 * Why a file, link or special file cannot be stored at `key`, or undefined when it can: a name
 * ending in `_$folder$` is read back as s3fs's marker of a directory, so the entry would be
 * nowhere to be seen. (A directory by that name is stored as `name_$folder$/` and lists.)
 */
export function reservedFileName(key: string): string | undefined {
  const name = key.slice(key.lastIndexOf('/') + 1);
  return folderMarkerName(name) === undefined ? undefined : `a file name ending in ${FOLDER_SUFFIX} is read as s3fs's directory marker`;
}

/** Whether a HEAD answer describes a directory stored as an object without a trailing slash. */
export function isDirectoryObject(info: ObjectInfo): boolean {
  if (info.contentType?.split(';')[0].trim().toLowerCase() === 'application/x-directory') return true;
  const mode = info.metadata?.mode;
  return mode !== undefined && /^\d+$/.test(mode) && (Number(mode) & S_IFMT) === S_IFDIR;
}

/** The node a HEAD answer describes: a directory for markers and directory objects, else a file (or link). */
export function nodeOfHead(info: ObjectInfo): FsNode {
  const metadata = info.metadata ?? {};
  if (info.key.endsWith('/')) return { type: 'dir', prefix: info.key, mtime: info.lastModified, metadata, marker: info };
  const folder = folderMarkerName(info.key);
  if (folder !== undefined) return { type: 'dir', prefix: `${folder}/`, mtime: info.lastModified, metadata, marker: info };
  if (isDirectoryObject(info)) return { type: 'dir', prefix: `${info.key}/`, mtime: info.lastModified, metadata, marker: info };
  return { ...fileNode(info), metadata };
}

/**
 * Identifies one version of an object as listings and HEADs both show it: the ETag alone is not
 * enough, since copying an object onto itself with new metadata (a chmod) keeps its ETag. Listing
 * times have milliseconds where HEAD's Last-Modified has seconds.
 */
export function versionOf(info: { etag: string; lastModified: Date }): string {
  return `${info.etag}@${Math.floor(info.lastModified.getTime() / 1000)}`;
}

/**
 * Adds s3fs's `name_$folder$` marker to a listing: the directory `name` (the marker itself is
 * hidden). It holds the directory's attributes unless a `name/` marker was seen; a file `name`
 * is shadowed, as by any directory. Returns the node when it is new.
 */
export function addFolderMarker(entries: Map<string, FsNode>, name: string, prefix: string, marker: ObjectInfo): DirNode | undefined {
  const existing = entries.get(name);
  if (existing?.type === 'dir') {
    if (!existing.marker) existing.marker = marker;
    return undefined;
  }
  const node: DirNode = { type: 'dir', prefix, marker };
  entries.set(name, node);
  return node;
}
