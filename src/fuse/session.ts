// One FUSE mount: options, per-operation timeouts, mount and unmount.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import Fuse, { type FuseOptions } from 'fuse-native';
import type { Logger } from '../log.js';
import type { FuseOperations } from './adapter.js';
import { isMounted } from './mount-table.js';
import { setReadAhead } from './read-ahead.js';

const run = promisify(execFile);

// Eight kernel requests of 128 KiB in flight for a sequential reader.
export const READ_AHEAD_KIB = 1024;

export interface SessionOptions {
  mountpoint: string;
  fsname: string;
  allowOther: boolean;
  allowRoot: boolean;
  /** Mounted read-only: the mount table says `ro`, and the kernel refuses changes itself. */
  readOnly: boolean;
  /** Seconds the kernel may keep attributes and names without asking us. */
  attrTimeoutSeconds: number;
  /** Seconds the kernel may remember that a name does not exist. */
  negativeTimeoutSeconds: number;
  /** Longest a request may take before fuse-native answers ETIMEDOUT (ms). */
  operationTimeoutMs: number;
}

export class FuseSession {
  private readonly fuse: InstanceType<typeof Fuse>;
  private mounted = false;

  constructor(
    operations: FuseOperations,
    private readonly options: SessionOptions,
    private readonly log: Logger,
  ) {
    const fuseOptions: FuseOptions = {
      fsname: options.fsname,
      // fuse-native joins options unescaped; this is how big_writes (128 KiB writes instead
      // of 4 KiB, see docs/notes/fuse-native.md) and negative_timeout, which it does not
      // expose, reach libfuse.
      subtype: `s3mount,big_writes,negative_timeout=${options.negativeTimeoutSeconds}${options.readOnly ? ',ro' : ''}`,
      allowOther: options.allowOther,
      allowRoot: options.allowRoot,
      // Other users in: the kernel checks modes and owners, as on a local disk (and as
      // mountpoint-s3 always does). Without it nothing did: another user read a 0600 file,
      // wrote to others' files and removed them from a sticky directory.
      defaultPermissions: options.allowOther || options.allowRoot,
      // fuse-native drops a numeric 0 (falsy) and libfuse would keep its 1 s default: pass text.
      attrTimeout: String(options.attrTimeoutSeconds),
      entryTimeout: String(options.attrTimeoutSeconds),
      // Keep file pages in the kernel across opens while size and mtime are unchanged.
      autoCache: true,
      // Every S3 call has its own deadline and retry budget, which stay well below this,
      // so a slow S3 answers EIO from our code rather than ETIMEDOUT from the binding.
      // Uploads (flush, fsync, release, truncate, first write of an edit), directory renames and
      // listings of huge directories take as long as the data needs;
      // each S3 request inside them still has its own deadline.
      timeout: {
        default: options.operationTimeoutMs,
        flush: false,
        fsync: false,
        release: false,
        rename: false,
        truncate: false,
        write: false,
        readdir: false,
      },
    };
    this.fuse = new Fuse(options.mountpoint, operations as unknown as Record<string, (...args: never[]) => void>, fuseOptions);
  }

  async mount(): Promise<void> {
    await new Promise<void>((resolve, reject) => this.fuse.mount((error) => (error ? reject(error) : resolve())));
    this.mounted = true;
    const readAhead = await setReadAhead(this.options.mountpoint, READ_AHEAD_KIB).catch(() => false);
    this.log.info({ mountpoint: this.options.mountpoint, readAheadKiB: readAhead ? READ_AHEAD_KIB : 'kernel default' }, 'mounted');
  }

  /** Unmounts; falls back to a lazy unmount when the mount is busy. */
  async unmount(): Promise<void> {
    if (!this.mounted) return;
    this.mounted = false;
    try {
      await new Promise<void>((resolve, reject) => this.fuse.unmount((error) => (error ? reject(error) : resolve())));
    } catch (error) {
      // Unmounted from outside (fusermount -u, then a SIGTERM before the poll noticed): done.
      if (!(await isMounted(this.options.mountpoint))) {
        this.log.info({ mountpoint: this.options.mountpoint }, 'unmounted from outside');
        return;
      }
      this.log.warn({ err: error }, 'unmount failed; trying a lazy unmount');
      await run('fusermount', ['-uz', this.options.mountpoint]).catch(() => run('umount', ['-l', this.options.mountpoint]));
    }
    this.log.info({ mountpoint: this.options.mountpoint }, 'unmounted');
  }

  /** Resolves when something else (umount, fusermount -u) unmounts us. */
  async waitForExternalUnmount(pollMs = 1000): Promise<void> {
    while (this.mounted) {
      await new Promise((resolve) => setTimeout(resolve, pollMs));
      if (this.mounted && !(await isMounted(this.options.mountpoint))) {
        this.mounted = false;
        this.log.info({ mountpoint: this.options.mountpoint }, 'unmounted from outside');
        return;
      }
    }
  }
}
