// FUSE handlers: argument shapes in, the core called, exactly one numeric reply out.
// fuse-native hangs the caller forever when a callback gets a non-number (see
// docs/notes/fuse-native.md), so every reply goes through `settle`.
import type { Callback } from 'fuse-native';
import type { Timespec } from '../fs/attributes/times.js';
import type { Attr, AttrLifetime, Filesystem } from '../fs/types.js';
import type { Logger } from '../log.js';
import { errnoOf } from './errno.js';

type Reply<T> = (value: T) => [number, ...unknown[]];
const ok: Reply<unknown> = () => [0];

// The same Attr (a cached listing entry's) is asked for again and again: its stat is made once.
const stats = new WeakMap<Attr, object>();

/**
 * fuse-native's stat: our Attr plus the block count `du` needs. Times go as Dates plus the
 * nanoseconds past their millisecond (atimeNs…: read by our patched binding, see
 * scripts/patch-fuse-native.mjs).
 */
function toStat(attr: Attr) {
  let stat = stats.get(attr);
  if (!stat) stats.set(attr, (stat = makeStat(attr)));
  return stat;
}

function makeStat(attr: Attr) {
  const { mode, size, uid, gid, nlink, mtime, atime, ctime, atimeNs = 0, mtimeNs = 0, ctimeNs = 0, rdev = 0 } = attr;
  return { mode, size, uid, gid, nlink, mtime, atime, ctime, atimeNs, mtimeNs, ctimeNs, rdev, blocks: Math.ceil(size / 512), blksize: 4096 };
}

/**
 * A directory listing tells the kernel only each entry's type, yet fuse-native turns every
 * stat it is given into an array: entries share one stat per mode, with numeric times so
 * that none of them costs a Date.
 */
function listingStats(modes: number[]): object[] {
  const shared = new Map<number, object>();
  return modes.map((mode) => {
    let stat = shared.get(mode);
    if (!stat) shared.set(mode, (stat = { mode, atime: 0, mtime: 0, ctime: 0 }));
    return stat;
  });
}

export interface AdapterHooks {
  /** Called after every operation, for metrics; `bytes` is what a read or write transferred. */
  onOperation?: (op: string, ms: number, errno: number, bytes: number) => void;
  /**
   * getattr answers say how long the binding's attribute cache may keep them (see
   * native-attr-cache.ts); the getattrs it answers itself never reach this adapter.
   */
  keepAttributes?: boolean;
}

// lru-cache reads its clock at most once per millisecond of timers, so the time an entry has
// left may be overstated by a little: kept answers end this much sooner. The longest keep fits
// the binding's 32-bit slot.
const KEEP_MARGIN_MS = 10;
const MAX_KEEP_MS = 0xffff_ffff;

/** How long the binding may keep an answer the core says holds for `ms` (0: not at all, nor when nothing bounded it). */
function keepMs(ms: number): number {
  return Number.isFinite(ms) && ms > KEEP_MARGIN_MS ? Math.min(Math.floor(ms - KEEP_MARGIN_MS), MAX_KEEP_MS) : 0;
}

/**
 * What a getattr of `path` would answer and keep, worked out now that the core knows it
 * (HEADs sent ahead for `ls -l`), handed to `keep` (the binding's attribute cache), so that
 * the program's stat to come is answered without entering JavaScript. Nothing when the core
 * does not know it, or when the answer may not be kept.
 */
export function createAttributePrimer(fs: Filesystem, log: Logger, keep: (path: string, stat: object, keepMs: number) => void) {
  const lifetime: AttrLifetime = { ms: 0 };
  return (path: string): void => {
    lifetime.ms = Number.POSITIVE_INFINITY;
    try {
      const known = fs.attrIfKnown(path, lifetime, true);
      const ms = keepMs(lifetime.ms);
      if (known && ms > 0) keep(path, toStat(known), ms);
    } catch (error) {
      log.warn({ path, err: error }, 'attributes known ahead not kept');
    }
  };
}

export function createFuseOperations(fs: Filesystem, log: Logger, hooks: AdapterHooks = {}) {
  const debug = log.isLevelEnabled('debug');
  // One object reused by every getattr (the event loop runs one at a time).
  const lifetime: AttrLifetime | undefined = hooks.keepAttributes ? { ms: 0 } : undefined;

  function settle<T>(op: string, path: string, cb: Callback, work: () => T | Promise<T>, reply: Reply<T>): void {
    const started = performance.now();
    let replied = false;
    const answer = (code: number, ...values: unknown[]) => {
      if (replied) return;
      replied = true;
      const ms = performance.now() - started;
      if (debug) log.debug({ fuse: op, path, ms: Math.round(ms * 1000) / 1000, result: code }, 'fuse operation');
      hooks.onOperation?.(op, ms, Math.min(code, 0), Math.max(code, 0));
      cb(code, ...values);
    };
    const replyWith = (value: T) => {
      try {
        const [code, ...values] = reply(value);
        answer(code, ...values);
      } catch (error) {
        log.error({ fuse: op, path, err: error }, 'reply failed');
        answer(errnoOf(error));
      }
    };
    let pending: T | Promise<T>;
    try {
      pending = work();
    } catch (error) {
      answer(errnoOf(error));
      return;
    }
    // Done at once (a write of a stream): answered now, with no promise in between.
    if (!(pending instanceof Promise)) replyWith(pending);
    else pending.then(replyWith, (error: unknown) => answer(errnoOf(error)));
  }

  /** How long the binding may keep `attr`, which getattr answered for `path` the usual way. */
  function keepAfter(path: string, attr: Attr): number {
    try {
      // What S3 just said is in the core's caches now: kept as long as they keep it.
      return keepMs(fs.attrLifetimeMs(path, attr));
    } catch (error) {
      log.warn({ fuse: 'getattr', path, err: error }, 'attribute lifetime failed; answer not kept');
      return 0;
    }
  }

  /**
   * getattr answered at once when the core knows the answer without S3; else the usual way.
   * The binding may keep either answer for as long as the core says.
   */
  function getattr(path: string, cb: Callback): void {
    let known: Attr | undefined;
    if (lifetime) lifetime.ms = Number.POSITIVE_INFINITY;
    try {
      known = fs.attrIfKnown(path, lifetime);
    } catch (error) {
      log.warn({ fuse: 'getattr', path, err: error }, 'attribute lookup failed; asking the usual way');
    }
    if (!known)
      return settle(
        'getattr',
        path,
        cb,
        () => fs.getattr(path),
        (attr) => {
          const keep = lifetime ? keepAfter(path, attr) : 0;
          return keep > 0 ? [0, toStat(attr), keep] : [0, toStat(attr)];
        },
      );
    const keep = lifetime ? keepMs(lifetime.ms) : 0;
    if (debug) log.debug({ fuse: 'getattr', path, ms: 0, result: 0, known: true, keepMs: keep }, 'fuse operation');
    hooks.onOperation?.('getattr', 0, 0, 0);
    if (keep > 0) cb(0, toStat(known), keep);
    else cb(0, toStat(known));
  }

  return {
    getattr,
    readdir: (path: string, cb: Callback) =>
      settle(
        'readdir',
        path,
        cb,
        () => fs.readdir(path),
        (entries) => [0, entries.map((e) => e.name), listingStats(entries.map((e) => e.mode))],
      ),
    open: (path: string, flags: number, cb: Callback) =>
      settle(
        'open',
        path,
        cb,
        () => fs.open(path, flags),
        (handle) => [0, handle],
      ),
    create: (path: string, mode: number, cb: Callback) =>
      settle(
        'create',
        path,
        cb,
        () => fs.create(path, mode),
        (handle) => [0, handle],
      ),
    // The buffer is libfuse's memory, detached once we call back: the core fills it before.
    read: (path: string, handle: number, buffer: Buffer, length: number, position: number, cb: Callback) =>
      settle(
        'read',
        path,
        cb,
        () => fs.readInto(handle, position, length, buffer.subarray(0, length)),
        (count) => [count],
      ),
    // The core has finished with the buffer when its promise settles, before we call back.
    write: (path: string, handle: number, buffer: Buffer, length: number, position: number, cb: Callback) =>
      settle(
        'write',
        path,
        cb,
        () => fs.write(handle, buffer.subarray(0, length), position),
        (written) => [written],
      ),
    flush: (path: string, handle: number, cb: Callback) => settle('flush', path, cb, () => fs.flush(handle), ok),
    fsync: (path: string, _datasync: number, handle: number, cb: Callback) => settle('fsync', path, cb, () => fs.fsync(handle), ok),
    release: (path: string, handle: number, cb: Callback) => settle('release', path, cb, () => fs.release(handle), ok),
    truncate: (path: string, size: number, cb: Callback) => settle('truncate', path, cb, () => fs.truncate(path, size), ok),
    ftruncate: (path: string, handle: number, size: number, cb: Callback) => settle('ftruncate', path, cb, () => fs.ftruncate(handle, size), ok),
    // Passed on by the patched binding (scripts/patch-fuse-native.mjs, change 5).
    fallocate: (path: string, handle: number, mode: number, offset: number, length: number, cb: Callback) =>
      settle('fallocate', path, cb, () => fs.fallocate(handle, mode, offset, length), ok),
    unlink: (path: string, cb: Callback) => settle('unlink', path, cb, () => fs.unlink(path), ok),
    mkdir: (path: string, mode: number, cb: Callback) => settle('mkdir', path, cb, () => fs.mkdir(path, mode), ok),
    rmdir: (path: string, cb: Callback) => settle('rmdir', path, cb, () => fs.rmdir(path), ok),
    rename: (from: string, to: string, cb: Callback) => settle('rename', from, cb, () => fs.rename(from, to), ok),
    chmod: (path: string, mode: number, cb: Callback) => settle('chmod', path, cb, () => fs.chmod(path, mode), ok),
    chown: (path: string, uid: number, gid: number, cb: Callback) => settle('chown', path, cb, () => fs.chown(path, uid, gid), ok),
    // Our patched binding passes { sec, nsec } for each time, UTIME_NOW and UTIME_OMIT included.
    utimens: (path: string, atime: Timespec, mtime: Timespec, cb: Callback) => settle('utimens', path, cb, () => fs.utimens(path, atime, mtime), ok),
    symlink: (target: string, path: string, cb: Callback) => settle('symlink', path, cb, () => fs.symlink(target, path), ok),
    readlink: (path: string, cb: Callback) =>
      settle(
        'readlink',
        path,
        cb,
        () => fs.readlink(path),
        (target) => [0, target],
      ),
    link: (_from: string, to: string, cb: Callback) => settle('link', to, cb, () => fs.unsupported(to), ok),
    mknod: (path: string, mode: number, dev: number, cb: Callback) => settle('mknod', path, cb, () => fs.mknod(path, mode, dev), ok),
    statfs: (path: string, cb: Callback) =>
      settle(
        'statfs',
        path,
        cb,
        () => fs.statfs(path),
        (stat) => [0, stat],
      ),
    access: (path: string, mode: number, cb: Callback) => settle('access', path, cb, () => fs.access(path, mode), ok),
  };
}

export type FuseOperations = ReturnType<typeof createFuseOperations>;
