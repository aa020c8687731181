// Attribute changes held in memory for the mount's lifetime, laid over what S3 says:
// the mount root's (it has no object to hold them), a directory's mtime and ctime when
// entries come and go in it (no object changes), and atime moved by reads (relatime; not
// worth a copy of the object per read, and s3fs does not save it either). Whatever is here
// is written to S3 with the next change that rewrites the object, and then forgotten.
import { LRUCache } from 'lru-cache';
import type { Attr } from '../types.js';
import type { StagedAttributes } from '../write/staged-file.js';
import { attrTimes, timesOfAttr } from './attributes.js';

export type LocalChange = Partial<Pick<StagedAttributes, 'mode' | 'uid' | 'gid' | 'atime' | 'mtime' | 'ctime'>>;

// A bound, so that reading a million files cannot grow this without end: the oldest
// change forgotten means an atime (or a directory's mtime) shows S3's value again.
const MAX_ENTRIES = 100_000;

export class LocalAttributes {
  private readonly changes: LRUCache<string, LocalChange>;
  // The same Attr is asked for again and again: the merged one is made once per change.
  private readonly merged = new WeakMap<Attr, { change: LocalChange; attr: Attr }>();

  /** `onEvicted` hears of each key whose changes the bound pushed out. */
  constructor(onEvicted?: (key: string) => void, maxEntries: number = MAX_ENTRIES) {
    this.changes = new LRUCache<string, LocalChange>({
      max: maxEntries,
      dispose: onEvicted && ((_change, key, reason) => reason === 'evict' && onEvicted(key)),
    });
  }

  get(key: string): LocalChange | undefined {
    return this.changes.get(key);
  }

  /** Adds `change` to what is held for `key`. */
  set(key: string, change: LocalChange): void {
    this.changes.set(key, { ...this.changes.get(key), ...change });
  }

  /** Once the object holds everything (it was rewritten with these attributes). */
  forget(key: string): void {
    this.changes.delete(key);
  }

  /** Forgets `key` and every key under it (a directory removed or renamed). */
  forgetTree(key: string): void {
    this.changes.delete(key);
    const prefix = `${key}/`;
    for (const held of [...this.changes.keys()]) if (held.startsWith(prefix)) this.changes.delete(held);
  }

  /** `attr` with the changes held for `key`; `attr` itself when there are none. */
  apply(key: string, attr: Attr): Attr {
    const change = this.changes.peek(key);
    if (!change) return attr;
    const known = this.merged.get(attr);
    if (known?.change === change) return known.attr;
    const times = { ...timesOfAttr(attr), ...pickTimes(change) };
    const merged: Attr = { ...attr, ...attrTimes(times) };
    if (change.mode !== undefined) merged.mode = (attr.mode & ~0o7777) | (change.mode & 0o7777);
    if (change.uid !== undefined) merged.uid = change.uid;
    if (change.gid !== undefined) merged.gid = change.gid;
    this.merged.set(attr, { change, attr: merged });
    return merged;
  }
}

function pickTimes(change: LocalChange) {
  const times: Partial<Pick<StagedAttributes, 'atime' | 'mtime' | 'ctime'>> = {};
  if (change.atime) times.atime = change.atime;
  if (change.mtime) times.mtime = change.mtime;
  if (change.ctime) times.ctime = change.ctime;
  return times;
}
