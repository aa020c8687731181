// The filesystem core's contract with the FUSE adapter: paths in, attributes,
// names and bytes out, failures as FsError. Nothing here knows about FUSE.
import type { Timespec } from './attributes/times.js';

export interface Attr {
  /** Type bits included (0o100000 file, 0o040000 directory, 0o120000 link, FIFOs, sockets, devices). */
  mode: number;
  size: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: Date;
  atime: Date;
  ctime: Date;
  /** Nanoseconds past each time's millisecond (0..999,999); absent means 0. */
  atimeNs?: number;
  mtimeNs?: number;
  ctimeNs?: number;
  /** Device number of a character or block device. */
  rdev?: number;
}

export interface DirEntry {
  name: string;
  /** Type bits and permissions: all the kernel takes from a directory listing. */
  mode: number;
}

/**
 * getattr answers that may have changed otherwise than by an operation on the path (an
 * invalidation, whatever its origin; a change held in memory forgotten): those of one path and
 * of its parent directory, those of a directory and everything under it, or all of them.
 */
export type AttrChange = { kind: 'path'; path: string } | { kind: 'tree'; path: string } | { kind: 'all' };

/** How long (ms) an answer stays true unless an operation on its path or an AttrChange says otherwise. */
export interface AttrLifetime {
  ms: number;
}

export interface StatFs {
  bsize: number;
  frsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  favail: number;
  fsid: number;
  flag: number;
  namemax: number;
}

/** What the kernel sees; every method rejects with an FsError. */
export interface Filesystem {
  getattr(path: string): Promise<Attr>;
  /**
   * The attributes getattr would answer when they are known without asking S3 (a staged
   * file, an entry of a cached listing), else undefined. Synchronous, so that the commonest
   * request of a cold `ls -l` costs no promise. `lifetime`, when given, is set to how long the
   * answer may be kept outside the core (0: not at all, as for a file being written). `aside`:
   * no program asked (HEADs sent ahead do not follow it).
   */
  attrIfKnown(path: string, lifetime?: AttrLifetime, aside?: boolean): Attr | undefined;
  /**
   * How long (ms) `attr`, which getattr just answered for `path`, may be kept outside the core:
   * as long as the answer known at once lasts, when that is the same answer; else 0.
   */
  attrLifetimeMs(path: string, attr: Attr): number;
  /**
   * Hears of every change to getattr answers that no operation on the path brings (see
   * AttrChange); returns the function that stops it. Whoever keeps answers drops these.
   */
  watchAttributes(listener: (change: AttrChange) => void): () => void;
  /**
   * Hears of paths whose getattr answer became known before any program asked (HEADs sent
   * ahead for the entries of a listing): whoever keeps answers may take it now with
   * attrIfKnown. Returns the function that stops it.
   */
  watchKnownAttributes(listener: (path: string) => void): () => void;
  /** Entries with their modes, "." and ".." included (the kernel learns each entry's type). */
  readdir(path: string): Promise<DirEntry[]>;
  /** Returns a non-zero handle. */
  open(path: string, flags: number): Promise<number>;
  /** Creates and opens a new file; returns its handle. */
  create(path: string, mode: number): Promise<number>;
  /**
   * Bytes [position, position + length) written into `into` (FUSE's own buffer), resolving to
   * their count: exactly `length` unless the file ends first. The core copies out of its
   * blocks itself, so nothing it holds outlives the call.
   */
  readInto(handle: number, position: number, length: number, into: Buffer): Promise<number>;
  /** Bytes written (all of them, or a failure). */
  /** A number when the write was done at once (no promise to wait for); throws or rejects with an FsError. */
  write(handle: number, data: Buffer, position: number): number | Promise<number>;
  /** Uploads a dirty file; every close() returns this result. */
  flush(handle: number): Promise<void>;
  fsync(handle: number): Promise<void>;
  /** Cleanup only: its result never reaches the program. */
  release(handle: number): Promise<void>;
  truncate(path: string, size: number): Promise<void>;
  ftruncate(handle: number, size: number): Promise<void>;
  /** Linux fallocate(2) on an open handle: `mode` 0 or FALLOC_FL_KEEP_SIZE; others are ENOTSUP. */
  fallocate(handle: number, mode: number, offset: number, length: number): Promise<void>;
  unlink(path: string): Promise<void>;
  mkdir(path: string, mode: number): Promise<void>;
  rmdir(path: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  chmod(path: string, mode: number): Promise<void>;
  /** -1 (or 0xffffffff) leaves that id unchanged. */
  chown(path: string, uid: number, gid: number): Promise<void>;
  /** Each time as given, or with nsec UTIME_NOW (the present) or UTIME_OMIT (left as it is). */
  utimens(path: string, atime: Timespec, mtime: Timespec): Promise<void>;
  symlink(target: string, path: string): Promise<void>;
  readlink(path: string): Promise<string>;
  statfs(path: string): Promise<StatFs>;
  access(path: string, mode: number): Promise<void>;
  /** A FIFO, socket or (given the right) device node; `rdev` matters for devices only. */
  mknod(path: string, mode: number, rdev: number): Promise<void>;
  /** Operations s3mount never supports (hard links). */
  unsupported(path: string): Promise<void>;
}
