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

  class Fuse {
    constructor(mountpoint: string, ops: Record<string, Handler>, options?: FuseOptions);
    mount(callback: (error: Error | null) => void): void;
    unmount(callback: (error: Error | null) => void): void;
    static unmount(mountpoint: string, callback: (error: Error | null) => void): void;
    static isConfigured(callback: (error: Error | null, configured: boolean) => void): void;
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
    static readonly ENOSYS: number;
  }
  export default Fuse;
  export type { Callback, FuseOptions };
}
