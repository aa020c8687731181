// Which getattr answers an invalidation may change, as paths of the mount, for whoever keeps
// answers outside the core (the attribute cache in the FUSE binding). The rule follows
// invalidation.ts: a key changes its own answer and its parent directory's; a prefix everything
// under it; a clear everything.
import type { InvalidationEvent } from './invalidation.js';
import { FOLDER_SUFFIX } from './names/object-kinds.js';
import type { AttrChange } from './types.js';

/**
 * The mount path that `key` names under the mount prefix ("" or ending in "/"), a directory's
 * marker ("dir/") included; undefined when the key is outside the mount.
 */
export function pathOfKey(prefix: string, key: string): string | undefined {
  const name = key.endsWith('/') ? key.slice(0, -1) : key;
  if (name === prefix.slice(0, -1) || name === prefix) return '/';
  if (!name.startsWith(prefix)) return undefined;
  return `/${name.slice(prefix.length)}`;
}

/** The changes `event` (of the mount's own Invalidation, so of its bucket) brings to the answers of a mount at `prefix`. */
export function attrChangesOf(event: InvalidationEvent, prefix: string): AttrChange[] {
  switch (event.kind) {
    case 'clear':
      return [{ kind: 'all' }];
    case 'prefix': {
      if (prefix.startsWith(event.prefix)) return [{ kind: 'all' }];
      const path = pathOfKey(prefix, event.prefix);
      return path === undefined ? [] : [{ kind: 'tree', path }];
    }
    case 'key': {
      // s3fs's oldest directory format names the directory `dir_$folder$`.
      const keys = event.key.endsWith(FOLDER_SUFFIX) ? [event.key, event.key.slice(0, -FOLDER_SUFFIX.length)] : [event.key];
      const changes: AttrChange[] = [];
      for (const key of keys) {
        const path = pathOfKey(prefix, key);
        if (path !== undefined) changes.push({ kind: 'path', path });
      }
      return changes;
    }
  }
}
