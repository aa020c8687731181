// What the filesystem core knows about a name: the nodes lookups and listings produce and
// the version of an object a reader or writer works on. Shared by names/, read/ and write/.
import type { ObjectInfo } from '../s3/object-store.js';

export interface FileNode {
  type: 'file';
  key: string;
  size: number;
  etag: string;
  mtime: Date;
  metadata?: Record<string, string>;
}

export interface DirNode {
  type: 'dir';
  /** Listing prefix, "" or ending in "/". */
  prefix: string;
  /** From the `dir/` marker when one exists. */
  mtime?: Date;
  metadata?: Record<string, string>;
  /**
   * The object holding the directory's attributes, as a listing showed it (`dir/`, or s3fs's
   * `dir_$folder$`); null when the listing shows there is none; undefined when not known.
   */
  marker?: ObjectInfo | null;
  /** The listing also showed a file of the same name, hidden by this directory (see namespace). */
  shadowsFile?: true;
}

export type FsNode = FileNode | DirNode;

/** A whole directory, assembled from every page of its listing. */
export interface DirListing {
  entries: Map<string, FsNode>;
}

/**
 * An object this mount has just stored (an upload, a copy, a directory marker): all a HEAD
 * would say of it except LastModified, which S3 sets and does not return.
 */
export interface StoredObject {
  /** A file's key, or a directory marker's (ending in "/"). */
  key: string;
  size: number;
  etag: string;
  /** The user metadata it was stored with; undefined when S3 copied it from elsewhere. */
  metadata?: Record<string, string>;
  /** The Content-Type it was stored with; undefined when S3 chose it. */
  contentType?: string;
  /** When the request was sent and when S3 answered: its LastModified lies between. */
  sentAt: Date;
  doneAt: Date;
}

/** The version of an object a handle reads. */
export interface ReadTarget {
  key: string;
  size: number;
  etag: string;
}

export function fileNode(info: ObjectInfo): FileNode {
  return { type: 'file', key: info.key, size: info.size, etag: info.etag, mtime: info.lastModified, metadata: info.metadata };
}
