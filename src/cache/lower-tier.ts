// A metadata tier below memory: local disk, or shared by many mounts (Redis). Unlike the
// memory tier it answers asynchronously, keeps values encoded (src/cache/entry-codec.ts), and
// counts expiry on the wall clock, since its entries outlive the process and cross machines.
import type { CacheKey, TierStats } from './types.js';

/** A value with the wall-clock time (ms since the epoch) after which it is no longer true. */
export interface StoredEntry {
  value: object;
  expiresAt: number;
}

export interface LowerTier {
  readonly name: string;
  /**
   * The entry under `key` if held and not expired. Never rejects: a failure (unreachable,
   * corrupt, foreign) is a miss, counted in stats. A get issued after a drop of the same key
   * never answers what the drop removed.
   */
  get(key: CacheKey): Promise<StoredEntry | undefined>;
  /**
   * false when the tier surely holds nothing under `key` (known at once, without I/O), so that
   * no get need be asked; true when it may. A tier that cannot tell leaves it out.
   */
  mayHold?(key: CacheKey): boolean;
  /** Keeps `entry` until its expiry (a tier may keep it for less). In the background; never throws. */
  set(key: CacheKey, entry: StoredEntry): void;
  /** Drops every entry (any op, any parameters) of one object key or directory prefix. */
  dropKey(bucket: string, key: string): void;
  /** Drops every entry whose key starts with `prefix`. */
  dropUnder(bucket: string, prefix: string): void;
  /** Drops everything it holds for this mount (its bucket, or its bucket's prefix). */
  clear(): void;
  stats(): TierStats;
  /** Flushes what is pending and lets go of files or connections. */
  close(): Promise<void>;
}
