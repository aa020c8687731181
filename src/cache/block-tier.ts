// A tier of the block cache below memory: local disk today. Lookups of what it holds are
// synchronous (its index is in memory); reading and storing bytes are not.
import type { BlockId } from './block-cache.js';
import type { TierStats } from './types.js';

export interface BlockTier {
  readonly name: string;
  /**
   * Undefined once the tier knows what it holds of `key`; while it is still indexing what
   * earlier mounts stored, a promise that resolves once it knows (that key's blocks are
   * indexed first), so that a read right after a remount finds them instead of asking S3.
   */
  ready?(bucket: string, key: string): Promise<void> | undefined;
  /** Whether the tier holds `id` (it may still turn out unreadable, and then read says so). */
  has(id: BlockId): boolean;
  /** The same, counting a miss when the tier does not hold `id` (its hits are counted by read). */
  probe(id: BlockId): boolean;
  /**
   * The bytes of `id`, checked against what was stored; undefined when missing, torn or
   * corrupt (such an entry is dropped, never returned). With `into`, the bytes are placed
   * there and the returned buffer is a view of it; after undefined, `into` may hold anything.
   */
  read(id: BlockId, into?: Buffer): Promise<Buffer | undefined>;
  /**
   * Stores `bytes` in the background, without copying them: they must not change until
   * `release` is called (a slab about to be reused); without `release` the caller gives them
   * up (a block of the memory cache, which never changes).
   */
  write(id: BlockId, bytes: Buffer, release?: () => void): void;
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
  /**
   * An open descriptor of the file holding `id`, stored raw and checked through that
   * descriptor (identity and checksum), for reads outside JavaScript; undefined when the tier
   * does not hold it raw or it cannot be trusted. The caller owns the descriptor.
   */
  pin?(id: BlockId): Promise<PinnedBlock | undefined>;
  /**
   * read(id, into), with the file's descriptor left open and handed over when the block is
   * stored raw (the caller owns it): a block read for a reader is pinned without a second read.
   */
  readPinned?(id: BlockId, into: Buffer): Promise<{ bytes: Buffer; pinned?: PinnedBlock } | undefined>;
  /** Calls `listener` with the `token` of each block leaving the tier (undefined: every block); returns the unsubscribe. */
  watchDrops?(listener: (token: string | undefined) => void): () => void;
}

/** A block's file, open and checked: its bytes are `length` bytes from `offset`. */
export interface PinnedBlock {
  fd: number;
  offset: number;
  length: number;
  /** Names the block in drop notices. */
  token: string;
}
