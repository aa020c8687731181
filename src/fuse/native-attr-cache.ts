// The attribute cache inside the FUSE binding (scripts/fuse-native-attr-cache.h): getattr
// answers kept on the libfuse thread, so that a repeated stat does not wait for JavaScript.
// This side turns it on for a mount, hands it the changes the core reports (operations on a
// path drop what they touch in the binding itself), and reads its counters. A binding built
// without it (the prebuilt one, when scripts/build-native.sh could not rebuild) leaves it off:
// every getattr then comes to JavaScript, as before.
import Fuse, { type AttrCache, type AttrCacheStats } from 'fuse-native';
import type { AttrChange } from '../fs/types.js';

export type NativeAttrCacheStats = AttrCacheStats;

// The binding holds one cache per process, and s3mount serves one mount per process: a second
// mount in the same process would go without.
let claimed = false;

export class NativeAttrCache {
  private constructor(private readonly cache: AttrCache) {}

  /** The cache, on and empty, holding at most `maxEntries`; undefined when the binding has none or it is taken. */
  static open(maxEntries: number, cache: AttrCache | null | undefined = Fuse.attrCache): NativeAttrCache | undefined {
    if (!cache || claimed || maxEntries < 1) return undefined;
    claimed = true;
    cache.configure(Math.min(maxEntries, 0xffff_ffff));
    return new NativeAttrCache(cache);
  }

  /** Drops what `change` may have made untrue: a path and its parent, a tree, or everything. */
  apply(change: AttrChange): void {
    if (change.kind === 'all') this.cache.clear();
    else this.cache.drop(change.path, 1, change.kind === 'tree' ? 1 : 0);
  }

  /** Whether the binding can take answers no getattr asked for (prime). */
  get primes(): boolean {
    return this.cache.prime !== undefined;
  }

  /** Keeps `stat` for `path` for keepMs as a getattr's answer asked now would be kept. */
  prime(path: string, stat: object, keepMs: number): void {
    this.cache.prime?.(path, stat, keepMs);
  }

  stats(): NativeAttrCacheStats {
    return this.cache.stats();
  }

  /** Off and empty (after the unmount); the process may open it again. */
  close(): void {
    this.cache.configure(0);
    claimed = false;
  }
}
