// File attributes from what S3 knows (listing entries, HEAD metadata) and from staged copies.
import type { FsNode } from '../nodes.js';
import type { Attr } from '../types.js';
import type { StagedAttributes } from '../write/staged-file.js';
import { type FileTimes, fromDate, parseEpochSeconds, subMillisecondNs, type Timespec, toDate } from './times.js';
import { versionStamped } from './version-time.js';

export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;
export const S_IFIFO = 0o010000;
export const S_IFSOCK = 0o140000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
/** Types of non-directory entries s3mount stores (s3fs-style: the type bits of x-amz-meta-mode). */
const FILE_TYPES = new Set([S_IFREG, S_IFLNK, S_IFIFO, S_IFSOCK, S_IFCHR, S_IFBLK]);
export const PERMISSION_BITS = 0o7777;
export const S_ISGID = 0o2000;

export interface AttributeDefaults {
  uid: number;
  gid: number;
  fileMode: number;
  dirMode: number;
  /** Time shown for directories that have no marker object. */
  mountTime: Date;
}

/** Attributes of a node; s3fs-compatible metadata (x-amz-meta-mode/uid/gid/atime/mtime/ctime/rdev) wins over the defaults. */
export function attrOf(node: FsNode, defaults: AttributeDefaults): Attr {
  if (node.type === 'dir') {
    const meta = parseMetadata(node.metadata);
    const mode = S_IFDIR | (meta.mode !== undefined ? meta.mode & PERMISSION_BITS : defaults.dirMode);
    const times = timesOf(meta, node.mtime ?? defaults.mountTime);
    return { mode, size: 4096, uid: meta.uid ?? defaults.uid, gid: meta.gid ?? defaults.gid, nlink: 2, ...attrTimes(times) };
  }
  const meta = parseMetadata(node.metadata);
  const stored = meta.mode !== undefined ? meta.mode & S_IFMT : S_IFREG;
  const type = FILE_TYPES.has(stored) ? stored : S_IFREG;
  const mode = type | (meta.mode !== undefined ? meta.mode & PERMISSION_BITS : defaults.fileMode);
  const rdev = type === S_IFCHR || type === S_IFBLK ? meta.rdev : undefined;
  const attr: Attr = {
    mode,
    size: node.size,
    uid: meta.uid ?? defaults.uid,
    gid: meta.gid ?? defaults.gid,
    nlink: 1,
    ...attrTimes(timesOf(meta, versionStamped(node.mtime, node.etag))),
  };
  if (rdev) attr.rdev = rdev;
  return attr;
}

/** Whether two answers say the same in every field a stat shows. */
export function sameAttr(a: Attr, b: Attr): boolean {
  return (
    a.mode === b.mode &&
    a.size === b.size &&
    a.uid === b.uid &&
    a.gid === b.gid &&
    a.nlink === b.nlink &&
    (a.rdev ?? 0) === (b.rdev ?? 0) &&
    a.mtime.getTime() === b.mtime.getTime() &&
    a.atime.getTime() === b.atime.getTime() &&
    a.ctime.getTime() === b.ctime.getTime() &&
    (a.mtimeNs ?? 0) === (b.mtimeNs ?? 0) &&
    (a.atimeNs ?? 0) === (b.atimeNs ?? 0) &&
    (a.ctimeNs ?? 0) === (b.ctimeNs ?? 0)
  );
}

/** The times of a node: its metadata's, else the fallback (LastModified) for what is missing. */
function timesOf(meta: ParsedMetadata, fallback: Date): FileTimes {
  const mtime = meta.mtime ?? fromDate(fallback);
  return { mtime, atime: meta.atime ?? mtime, ctime: meta.ctime ?? mtime };
}

/** An Attr's times: Dates to the millisecond, and the nanoseconds past them. */
export function attrTimes(times: FileTimes): Pick<Attr, 'atime' | 'mtime' | 'ctime' | 'atimeNs' | 'mtimeNs' | 'ctimeNs'> {
  return {
    atime: toDate(times.atime),
    mtime: toDate(times.mtime),
    ctime: toDate(times.ctime),
    atimeNs: subMillisecondNs(times.atime),
    mtimeNs: subMillisecondNs(times.mtime),
    ctimeNs: subMillisecondNs(times.ctime),
  };
}

/** The times an Attr shows, to the nanosecond. */
export function timesOfAttr(attr: Attr): FileTimes {
  const at = (date: Date, ns: number | undefined): Timespec => {
    const time = fromDate(date);
    return { sec: time.sec, nsec: time.nsec + (ns ?? 0) };
  };
  return { atime: at(attr.atime, attr.atimeNs), mtime: at(attr.mtime, attr.mtimeNs), ctime: at(attr.ctime, attr.ctimeNs) };
}

/** The mode attrOf would give, without the rest: what a directory listing needs. */
export function modeOf(node: FsNode, defaults: AttributeDefaults): number {
  if (!node.metadata) return node.type === 'dir' ? S_IFDIR | defaults.dirMode : S_IFREG | defaults.fileMode;
  return attrOf(node, defaults).mode;
}

export function stagedAttr(attributes: StagedAttributes, size: number): Attr {
  const { mode, uid, gid, rdev } = attributes;
  const attr: Attr = { mode, size, uid, gid, nlink: 1, ...attrTimes(attributes) };
  if (rdev) attr.rdev = rdev;
  return attr;
}

/** The attributes a node would be staged or re-uploaded with. */
export function attributesOf(node: FsNode, defaults: AttributeDefaults): StagedAttributes {
  const attr = attrOf(node, defaults);
  const { mode, uid, gid, rdev } = attr;
  const attributes: StagedAttributes = { mode, uid, gid, ...timesOfAttr(attr) };
  if (rdev) attributes.rdev = rdev;
  return attributes;
}

interface ParsedMetadata {
  mode?: number;
  uid?: number;
  gid?: number;
  rdev?: number;
  atime?: Timespec;
  mtime?: Timespec;
  ctime?: Timespec;
}

function parseMetadata(metadata: Record<string, string> | undefined): ParsedMetadata {
  if (!metadata) return {};
  return {
    mode: wholeNumber(metadata.mode),
    uid: wholeNumber(metadata.uid),
    gid: wholeNumber(metadata.gid),
    rdev: wholeNumber(metadata.rdev),
    atime: parseEpochSeconds(metadata.atime),
    mtime: parseEpochSeconds(metadata.mtime),
    ctime: parseEpochSeconds(metadata.ctime),
  };
}

function wholeNumber(value: string | undefined): number | undefined {
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}
