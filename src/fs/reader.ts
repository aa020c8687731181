// Reads object content through the block cache: ranged GETs of fixed-size blocks,
// keyed by key + ETag + index so that a changed object never serves old bytes,
// with a prefetch window that grows while a handle reads sequentially.
import type { ObjectCache } from '../cache/types.js';
import type { Logger } from '../log.js';
import { isStoreError, type ObjectStore } from '../s3/object-store.js';
import { FsError } from './errors.js';

/** The version of an object a handle reads. */
export interface ReadTarget {
  key: string;
  size: number;
  etag: string;
}

/** Per-handle sequential-read detection. */
export interface ReadPattern {
  /** Where the next sequential read would start. */
  nextOffset: number;
  /** Blocks to prefetch beyond the current read; 0 while reads look random. */
  window: number;
  /** Blocks below this index were already asked for by this handle's prefetching. */
  prefetchedUntil: number;
}

export interface BlockReaderOptions {
  bucket: string;
  blockSize: number;
  /** Upper bound of the prefetch window, in blocks (bounds memory per reader). */
  maxPrefetchBlocks: number;
}

// The kernel keeps 3-4 reads of 128 KiB in flight and they may arrive out of
// order, so "sequential" tolerates that much jitter around the expected offset.
const SEQUENTIAL_JITTER = 4 * 128 * 1024;

export function newReadPattern(): ReadPattern {
  return { nextOffset: 0, window: 0, prefetchedUntil: 0 };
}

export class BlockReader {
  constructor(
    private readonly store: ObjectStore,
    private readonly cache: ObjectCache,
    private readonly log: Logger,
    private readonly options: BlockReaderOptions,
  ) {}

  async read(target: ReadTarget, pattern: ReadPattern, position: number, length: number): Promise<Buffer> {
    const end = Math.min(position + length, target.size);
    if (position >= end) return Buffer.alloc(0);
    const { blockSize } = this.options;
    const first = Math.floor(position / blockSize);
    const last = Math.floor((end - 1) / blockSize);

    this.track(pattern, position, end);
    this.prefetch(target, pattern, last);

    const blocks = await Promise.all(range(first, last).map((index) => this.block(target, index)));
    if (blocks.length === 1) {
      const offset = position - first * blockSize;
      return blocks[0].subarray(offset, offset + (end - position));
    }
    const out = Buffer.allocUnsafe(end - position);
    let written = 0;
    for (const [i, block] of blocks.entries()) {
      const blockStart = (first + i) * blockSize;
      const from = Math.max(position - blockStart, 0);
      const to = Math.min(end - blockStart, block.length);
      written += block.copy(out, written, from, to);
    }
    return out;
  }

  /** Starts fetching the first block of an object that is likely to be read soon. */
  prefetchFirstBlock(target: ReadTarget): void {
    // A failed prefetch is not cached; the read that needs the block retries it.
    this.block(target, 0).catch(() => undefined);
  }

  private track(pattern: ReadPattern, position: number, end: number): void {
    const sequential = Math.abs(position - pattern.nextOffset) <= SEQUENTIAL_JITTER;
    pattern.window = sequential ? Math.min(Math.max(pattern.window * 2, 1), this.options.maxPrefetchBlocks) : 0;
    pattern.nextOffset = sequential ? Math.max(pattern.nextOffset, end) : end;
    // After a jump, what was prefetched for the old position says nothing about the new one.
    if (!sequential) pattern.prefetchedUntil = 0;
  }

  /**
   * Keeps `window` blocks requested ahead of the block being read. Refills happen only once
   * half the window is used up, and each refill is one ranged GET split into blocks, so a
   * sequential reader makes one request per several blocks instead of one per block.
   */
  private prefetch(target: ReadTarget, pattern: ReadPattern, reading: number): void {
    if (pattern.window === 0) return;
    const lastBlock = Math.floor((target.size - 1) / this.options.blockSize);
    const wanted = Math.min(reading + pattern.window, lastBlock);
    const from = Math.max(pattern.prefetchedUntil, reading + 1);
    if (wanted < from || wanted - from + 1 < Math.ceil(pattern.window / 2)) return;
    pattern.prefetchedUntil = wanted + 1;
    // The cache calls a loader only for blocks it neither holds nor is loading; those
    // loaders run synchronously inside fetch, so after the loop `missing` is complete.
    const missing: number[] = [];
    let deliver!: (blocks: Promise<Map<number, Buffer>>) => void;
    const group = new Promise<Map<number, Buffer>>((resolve) => (deliver = (blocks) => resolve(blocks)));
    for (let index = from; index <= wanted; index++) {
      this.block(target, index, () => {
        missing.push(index);
        return group.then((blocks) => blocks.get(index) as Buffer);
      }).catch(() => undefined); // A failed prefetch is not cached; the read that needs the block retries it.
    }
    if (missing.length === 0) return;
    deliver(this.fetchBlocks(target, missing[0], missing[missing.length - 1]));
  }

  /** Blocks first..last (inclusive) in one ranged GET, as separate block buffers. */
  private async fetchBlocks(target: ReadTarget, first: number, last: number): Promise<Map<number, Buffer>> {
    const { blockSize } = this.options;
    const start = first * blockSize;
    const bytes = await this.store.getRange(target.key, start, Math.min((last + 1) * blockSize, target.size), { ifMatch: target.etag });
    const blocks = new Map<number, Buffer>();
    for (let index = first; index <= last; index++) blocks.set(index, bytes.subarray((index - first) * blockSize, (index - first + 1) * blockSize));
    return blocks;
  }

  private async block(target: ReadTarget, index: number, load = () => this.fetchBlocks(target, index, index).then((blocks) => blocks.get(index) as Buffer)): Promise<Buffer> {
    const { bucket } = this.options;
    try {
      return await this.cache.fetch<Buffer>({ op: 'block', bucket, key: target.key, params: `${target.etag}:${index}` }, load, { sizeOf: (block) => block.length });
    } catch (error) {
      if (isStoreError(error, 'PreconditionFailed')) {
        // Another writer replaced the object under an open handle: drop what we knew
        // so the next open sees the new version, and refuse to mix versions here.
        this.cache.invalidateKey(bucket, target.key);
        this.log.warn({ key: target.key, etag: target.etag }, 'object changed while open; reopen to read the new version');
        throw new FsError('EIO', `object changed while open: ${target.key}`);
      }
      throw error;
    }
  }
}

function range(first: number, last: number): number[] {
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}
