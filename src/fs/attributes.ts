// File attributes from what S3 knows (listing entries, HEAD metadata) and from staged copies.
import type { FsNode } from './nodes.js';
import type { StagedAttributes } from './write/staged-file.js';
import type { Attr } from './types.js';
import { versionStamped } from './version-time.js';

export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;
export const PERMISSION_BITS = 0o7777;

export interface AttributeDefaults {
  uid: number;
  gid: number;
  fileMode: number;
  dirMode: number;
  /** Time shown for directories that have no marker object. */
  mountTime: Date;
}

/** Attributes of a node; s3fs-compatible metadata (x-amz-meta-mode/uid/gid/mtime) wins over the defaults. */
export function attrOf(node: FsNode, defaults: AttributeDefaults): Attr {
  if (node.type === 'dir') {
    const meta = parseMetadata(node.metadata);
    const time = meta.mtime ?? node.mtime ?? defaults.mountTime;
    const mode = S_IFDIR | (meta.mode !== undefined ? meta.mode & PERMISSION_BITS : defaults.dirMode);
    return { mode, size: 4096, uid: meta.uid ?? defaults.uid, gid: meta.gid ?? defaults.gid, nlink: 2, mtime: time, atime: time, ctime: time };
  }
  const meta = parseMetadata(node.metadata);
  const type = meta.mode !== undefined && (meta.mode & S_IFMT) === S_IFLNK ? S_IFLNK : S_IFREG;
  const mode = type | (meta.mode !== undefined ? meta.mode & PERMISSION_BITS : defaults.fileMode);
  const mtime = meta.mtime ?? versionStamped(node.mtime, node.etag);
  return { mode, size: node.size, uid: meta.uid ?? defaults.uid, gid: meta.gid ?? defaults.gid, nlink: 1, mtime, atime: mtime, ctime: mtime };
}

/** The mode attrOf would give, without the rest: what a directory listing needs. */
export function modeOf(node: FsNode, defaults: AttributeDefaults): number {
  if (!node.metadata) return node.type === 'dir' ? S_IFDIR | defaults.dirMode : S_IFREG | defaults.fileMode;
  return attrOf(node, defaults).mode;
}

export function stagedAttr(attributes: StagedAttributes, size: number): Attr {
  const { mode, uid, gid, mtime } = attributes;
  return { mode, size, uid, gid, nlink: 1, mtime, atime: mtime, ctime: mtime };
}

/** The attributes a node would be staged or re-uploaded with. */
export function attributesOf(node: FsNode, defaults: AttributeDefaults): StagedAttributes {
  const { mode, uid, gid, mtime } = attrOf(node, defaults);
  return { mode, uid, gid, mtime };
}

interface ParsedMetadata {
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
}

function parseMetadata(metadata: Record<string, string> | undefined): ParsedMetadata {
  if (!metadata) return {};
  return {
    mode: wholeNumber(metadata.mode),
    uid: wholeNumber(metadata.uid),
    gid: wholeNumber(metadata.gid),
    mtime: epochSeconds(metadata.mtime),
  };
}

function wholeNumber(value: string | undefined): number | undefined {
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

function epochSeconds(value: string | undefined): Date | undefined {
  return value !== undefined && /^\d+(\.\d+)?$/.test(value) ? new Date(Number(value) * 1000) : undefined;
}
