// What a change published by another mount of the bucket means for this one, whose root is
// `root` ("" or ending in "/"): which invalidation to apply, or none when the change concerns
// no key under the root.
import type { BusChange } from './bus-message.js';

export type ScopedChange =
  /** A file or directory under the root: Invalidation.changed(key). */
  | { apply: 'key'; key: string }
  /** A directory under the root and everything under it: Invalidation.changedTree(key). */
  | { apply: 'tree'; key: string }
  /** The root's own listing (the root itself appeared, went or was relisted). */
  | { apply: 'root' }
  /** Everything under the root may have changed: Invalidation.changedPath('/', true). */
  | { apply: 'everything' }
  /** Another mount dropped everything it had, and that covers this root: Invalidation.clear. */
  | { apply: 'clear' };

export function scopeOf(change: BusChange, root: string): ScopedChange | undefined {
  if (change.kind === 'key') {
    const { key } = change;
    if (key === root) return { apply: 'root' };
    // The publisher's root listing ("…/" or ""): only a directory under ours is concerned.
    if (key === '' || key.endsWith('/')) return key.startsWith(root) ? { apply: 'key', key: key.slice(0, -1) } : undefined;
    if (key.startsWith(root)) return { apply: 'key', key };
    // The directory this mount shows as its root was created or removed.
    if (`${key}/` === root) return { apply: 'root' };
    return undefined;
  }
  const { prefix } = change;
  if (root.startsWith(prefix)) return change.kind === 'clear' ? { apply: 'clear' } : { apply: 'everything' };
  if (prefix.startsWith(root)) return { apply: 'tree', key: prefix.slice(0, -1) };
  return undefined;
}
