// The part of fuse-native 2.2.6 that s3mount uses (the package ships no types).
declare module 'fuse-native' {
  type Callback = (code: number, ...values: unknown[]) => void;
  type Handler = (...args: never[]) => void;

  interface FuseOptions {
    force?: boolean;
    mkdir?: boolean;
    debug?: boolean;
    allowOther?: boolean;
    allowRoot?: boolean;
    autoUnmount?: boolean;
    defaultPermissions?: boolean;
    kernelCache?: boolean;
    autoCache?: boolean;
    fsname?: string;
    subtype?: string;
    uid?: number;
    gid?: number;
    umask?: string;
    maxRead?: number;
    entryTimeout?: number | string;
    attrTimeout?: number | string;
    acAttrTimeout?: number;
    timeout?: false | number | Record<string, number | false>;
  }

  /** Counters of the binding's attribute cache (scripts/fuse-native-attr-cache.h). */
  interface AttrCacheStats {
    entries: number;
    maxEntries: number;
    hits: number;
    misses: number;
    stored: number;
    /** Answers not kept: their path was dropped while JavaScript was computing them. */
    refused: number;
    dropped: number;
    evicted: number;
    expired: number;
  }

  /** The attribute cache of s3mount's patched binding (scripts/patch-fuse-native.mjs). */
  interface AttrCache {
    /** At most `maxEntries` from now on, empty; 0 turns it off. */
    configure(maxEntries: number): void;
    /** As an operation on `path` would: the path, with `entries` its parent too, with `tree` everything under it. */
    drop(path: string, entries: number, tree: number): void;
    clear(): void;
    stats(): AttrCacheStats;
    /** What a getattr would find (for tests), and the generation an answer would be kept under. */
    lookup(path: string | Buffer): { generation: number; stat: { mode: number; size: number; mtimeMs: number } | null };
    /** Keeps an answer as a getattr would (for tests; a Buffer path may hold any bytes); false when refused. */
    store(path: string | Buffer, mode: number, size: number, mtimeMs: number, keepMs: number, generation: number): boolean;
    /**
     * Keeps `stat` for `path` for keepMs, as the answer of a getattr asked now would be kept;
     * false when refused. Absent from a binding built before it.
     */
    prime?: (path: string, stat: object, keepMs: number) => boolean;
  }

  /** Counters of the binding's native reads (scripts/fuse-native-read-cache.h). */
  interface NativeReadsStats {
    /** Block files registered (open) now. */
    blocks: number;
    maxBlocks: number;
    /** Reads answered in the binding, and their bytes. */
    served: number;
    servedBytes: number;
    /** Reads on an attached handle that went to JavaScript (a block not registered). */
    passed: number;
    /** Reads that began in the binding and went to JavaScript after a short pread. */
    fallbacks: number;
    registered: number;
    refused: number;
    dropped: number;
  }

  /** The native reads of s3mount's patched binding (scripts/patch-fuse-native.mjs). */
  interface NativeReadsBinding {
    /** Room for `maxBlocks` registered blocks from now on; 0 turns it off and closes every descriptor. */
    configure(maxBlocks: number): void;
    /** true when registered: the descriptor is the binding's from then on. */
    register(version: number, blockSize: number, objectSize: number, index: number, fd: number, offset: number, length: number): boolean;
    /** The handle returned bytes of the version: its reads may be answered from the version's blocks. Absent from a binding built before. */
    attach?(fh: number, version: number): void;
    /** Detaches the handle (its release). */
    dropHandle(fh: number): void;
    dropBlock(version: number, index: number): void;
    stats(): NativeReadsStats;
  }

  class Fuse {
    constructor(mountpoint: string, ops: Record<string, Handler>, options?: FuseOptions);
    mount(callback: (error: Error | null) => void): void;
    unmount(callback: (error: Error | null) => void): void;
    static unmount(mountpoint: string, callback: (error: Error | null) => void): void;
    static isConfigured(callback: (error: Error | null, configured: boolean) => void): void;
    /** Null (or absent) with a binding built without the attribute cache. */
    static readonly attrCache?: AttrCache | null;
    /** Null (or absent) with a binding built without native reads. */
    static readonly nativeReads?: NativeReadsBinding | null;
    static readonly EPERM: number;
    static readonly ENOENT: number;
    static readonly EIO: number;
    static readonly EBADF: number;
    static readonly EACCES: number;
    static readonly EEXIST: number;
    static readonly EXDEV: number;
    static readonly ENOTDIR: number;
    static readonly EISDIR: number;
    static readonly EINVAL: number;
    static readonly ENOSPC: number;
    static readonly EROFS: number;
    static readonly ENAMETOOLONG: number;
    static readonly ENOTEMPTY: number;
    static readonly ENOTSUP: number;
    /** s3mount's patched binding: drops the kernel's clean pages of an open file (0 or an errno); null with another binding. */
    static readonly dropPageCache: ((fd: number) => number) | null;
    static readonly ENOSYS: number;
  }
  export default Fuse;
  export type { AttrCache, AttrCacheStats, Callback, FuseOptions, NativeReadsBinding, NativeReadsStats };
}
