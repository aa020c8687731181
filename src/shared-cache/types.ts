// What `cache stats` and the metrics show of a mount's shared cache.
import type { ConnectionState } from './connection.js';

export interface BusStats {
  /** in sync: reading the stream in step; catching up: connected, not yet in step; down: not connected. */
  state: 'in sync' | 'catching up' | 'down';
  instanceId: string;
  /** Id of the last stream entry read. */
  position?: string;
  /** Times the stream connection was made again after being lost. */
  reconnects: number;
  /** Changes of this mount added to the stream. */
  published: number;
  /** Attempts to add a change that failed (it waits and is sent again). */
  publishErrors: number;
  /** Changes waiting for the connection. */
  pending: number;
  /** Other mounts' changes applied here. */
  applied: number;
  /** This mount's own changes read back. */
  ownSkipped: number;
  /** Changes to keys outside this mount's prefix. */
  outOfScope: number;
  /** Entries that were not a change this version understands. */
  malformed: number;
  /** Reconnects that read on from the last entry seen. */
  catchUps: number;
  /** Times the mount dropped its metadata because changes may have been missed. */
  drops: number;
  /** From a change's publication to its application here, by the Redis server's clock (ms). */
  lastLagMs?: number;
  maxLagMs: number;
  meanLagMs?: number;
}

export interface SharedTierStats {
  /** Lookups answered, not held, refused for their content (corrupt, foreign, misshapen), or not asked (connection down, drops pending). */
  hits: number;
  misses: number;
  rejected: number;
  unavailable: number;
  /** Entries written; not written because too large, or because the bus was not in step. */
  stored: number;
  tooLarge: number;
  skipped: number;
  /** Drops sent, and drops waiting for the connection. */
  drops: number;
  pendingDrops: number;
  /** Commands that failed. */
  errors: number;
}

export interface SharedCacheStats {
  /** The server, without its password. */
  redis: string;
  state: ConnectionState;
  /** Times the command connection was made again after being lost. */
  reconnects: number;
  lastError?: string;
  bus: BusStats;
  tier?: SharedTierStats;
  /** What the server said at its last look: keys in the database, memory used and its bound (0: none). */
  server?: { keys: number; usedMemoryBytes: number; maxMemoryBytes: number; evictedKeys: number; version: string };
}
