// Which keys of one mount an event message makes it forget, and how the message is counted.
// Pure, like the parser.
import type { EventMessage, ObjectEvent } from './s3-event-message.js';

/** What a mount shows: a bucket, and the keys under a prefix ("" or ending in "/"). */
export interface MountScope {
  bucket: string;
  prefix: string;
}

/**
 * applied: at least one key of this mount is forgotten. foreign: nothing here changed (another
 * bucket, a key outside the prefix, an event that changes nothing shown, S3's test event).
 * malformed: the message, or one of its records, could not be read (its readable records are
 * still applied: forgetting is always safe).
 */
export type MessageOutcome = 'applied' | 'foreign' | 'malformed';

export interface ScopedMessage {
  outcome: MessageOutcome;
  /** Keys to forget (no trailing slash), each once: the keys the events name and the directories above them. */
  keys: string[];
  /** Why the message counts as malformed. */
  reason?: string;
}

/** The key (no trailing slash) the mount forgets for `event`, or undefined when the event is not about it. */
export function keyToForget(event: ObjectEvent, scope: MountScope): string | undefined {
  if (event.change === undefined || event.bucket !== scope.bucket || !event.key.startsWith(scope.prefix)) return undefined;
  // A directory marker "a/b/" stands for the directory "a/b".
  return event.key.endsWith('/') ? event.key.slice(0, -1) : event.key;
}

/**
 * `key` and each directory above it, up to the mount root (not included). Another writer's
 * object can make directories appear or vanish at any level ("a/b/c/x" created where no "a/b"
 * existed; the last key under "a/b/" deleted): each one's entry in its parent's listing, and
 * what was cached about its name, must go too.
 */
export function withAncestors(key: string, prefix: string): string[] {
  const keys = [key];
  for (let slash = key.lastIndexOf('/'); slash > 0 && slash >= prefix.length; slash = key.lastIndexOf('/', slash - 1)) keys.push(key.slice(0, slash));
  return keys;
}

export function scopeMessage(message: EventMessage, scope: MountScope): ScopedMessage {
  switch (message.kind) {
    case 'malformed':
      return { outcome: 'malformed', keys: [], reason: message.reason };
    case 'test':
    case 'other':
      return { outcome: 'foreign', keys: [] };
    case 'events': {
      const keys = new Set<string>();
      for (const event of message.events) {
        const key = keyToForget(event, scope);
        if (key !== undefined) for (const each of withAncestors(key, scope.prefix)) keys.add(each);
      }
      if (message.unreadable > 0)
        return { outcome: 'malformed', keys: [...keys], reason: `${message.unreadable} of ${message.unreadable + message.events.length} records unreadable` };
      return { outcome: keys.size > 0 ? 'applied' : 'foreign', keys: [...keys] };
    }
  }
}
