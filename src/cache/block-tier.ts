// A tier of the block cache below memory: local disk today. Lookups of what it holds are
// synchronous (its index is in memory); reading and storing bytes are not.
import type { BlockId } from './block-cache.js';
import type { TierStats } from './types.js';

export interface BlockTier {
  readonly name: string;
  /** Whether the tier holds `id` (it may still turn out unreadable, and then read says so). */
  has(id: BlockId): boolean;
  /** The same, counting a miss when the tier does not hold `id` (its hits are counted by read). */
  probe(id: BlockId): boolean;
  /**
   * The bytes of `id`, checked against what was stored; undefined when missing, torn or
   * corrupt (such an entry is dropped, never returned). With `into`, the bytes are copied
   * there and the returned buffer is a view of it.
   */
  read(id: BlockId, into?: Buffer): Promise<Buffer | undefined>;
  /** Keeps a copy of `bytes` (taken before returning, so the caller may reuse them); stored in the background. */
  write(id: BlockId, bytes: Buffer): void;
  /** Drops every block of one object key; returns how many. */
  invalidateKey(bucket: string, key: string): number;
  /** Drops every block of every key starting with `prefix`; returns how many. */
  invalidatePrefix(bucket: string, prefix: string): number;
  clear(): void;
  /** A new byte bound; shrinking evicts at once. */
  resize(maxBytes: number): void;
  stats(): TierStats;
  /** Finishes writes in flight and lets go of the directory. */
  close(): Promise<void>;
}
