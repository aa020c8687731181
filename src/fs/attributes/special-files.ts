// FIFOs, sockets and device nodes, stored the s3fs way: a zero-byte object whose
// x-amz-meta-mode carries the type bits (and x-amz-meta-rdev the device number).
import { S_IFBLK, S_IFCHR, S_IFIFO, S_IFMT, S_IFSOCK } from './attributes.js';

const SPECIAL_TYPES = new Set([S_IFIFO, S_IFSOCK, S_IFCHR, S_IFBLK]);

/** The type bits of a mknod mode s3mount stores, or undefined (regular files come through create). */
export function specialFileType(mode: number): number | undefined {
  const type = mode & S_IFMT;
  return SPECIAL_TYPES.has(type) ? type : undefined;
}

/** Only devices have a device number worth keeping. */
export function isDevice(mode: number): boolean {
  const type = mode & S_IFMT;
  return type === S_IFCHR || type === S_IFBLK;
}
