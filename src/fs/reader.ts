// Reads object content through the content cache: ranged GETs of fixed-size units keyed by
// key + ETag + unit, so that a changed object never serves old bytes. A handle reading
// sequentially gets whole blocks and a prefetch window of parallel GETs that grows while
// it stays sequential; a small read at a random offset fetches only the pieces it touches.
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
  /** Largest GET of a prefetch, in blocks; a refill of the window is several in parallel. */
  maxRequestBlocks?: number;
  /** Unit of a random read; must divide blockSize. Default: blockSize (no pieces). */
  pieceSize?: number;
}

/** A grid of fixed-size units over an object: blocks, or the pieces of a random read. */
interface Unit {
  size: number;
  /** Cache parameter of unit `index`. */
  name(etag: string, index: number): string;
}

// The kernel keeps 3-4 reads of 128 KiB in flight and they may arrive out of
// order, so "sequential" tolerates that much jitter around the expected offset.
const SEQUENTIAL_JITTER = 4 * 128 * 1024;
const DEFAULT_REQUEST_BLOCKS = 4;

export function newReadPattern(): ReadPattern {
  return { nextOffset: 0, window: 0, prefetchedUntil: 0 };
}

export class BlockReader {
  private readonly block: Unit;
  private readonly piece: Unit;

  constructor(
    private readonly store: ObjectStore,
    private readonly cache: ObjectCache,
    private readonly log: Logger,
    private readonly options: BlockReaderOptions,
  ) {
    const pieceSize = options.pieceSize ?? options.blockSize;
    if (options.blockSize % pieceSize !== 0) throw new Error(`piece size ${pieceSize} does not divide block size ${options.blockSize}`);
    this.block = { size: options.blockSize, name: (etag, index) => `${etag}:${index}` };
    this.piece = { size: pieceSize, name: (etag, index) => `${etag}:${index}/${pieceSize}` };
  }

  async read(target: ReadTarget, pattern: ReadPattern, position: number, length: number): Promise<Buffer> {
    const end = Math.min(position + length, target.size);
    if (position >= end) return Buffer.alloc(0);
    this.track(pattern, position, end);
    // Small reads away from the sequence fetch pieces, unless the whole block is at hand.
    const random = pattern.window === 0 && end - position <= this.piece.size && this.piece.size < this.block.size;
    if (random && !this.cachedUnit(target, this.block, Math.floor(position / this.block.size), Math.floor((end - 1) / this.block.size))) {
      return this.readUnits(target, this.piece, position, end);
    }
    this.prefetch(target, pattern, Math.floor((end - 1) / this.block.size));
    return this.readUnits(target, this.block, position, end);
  }

  /** Starts fetching the first block of an object that is likely to be read soon. */
  prefetchFirstBlock(target: ReadTarget): void {
    // A failed prefetch is not cached; the read that needs the block retries it.
    this.fetchUnits(target, this.block, 0, 0)[0].catch(() => undefined);
  }

  /** Bytes [position, end) from the units that hold them, fetched in one GET where missing. */
  private async readUnits(target: ReadTarget, unit: Unit, position: number, end: number): Promise<Buffer> {
    const first = Math.floor(position / unit.size);
    const last = Math.floor((end - 1) / unit.size);
    const units = await Promise.all(this.fetchUnits(target, unit, first, last));
    if (units.length === 1) {
      const offset = position - first * unit.size;
      return units[0].subarray(offset, offset + (end - position));
    }
    const out = Buffer.allocUnsafe(end - position);
    let written = 0;
    for (const [i, bytes] of units.entries()) {
      const unitStart = (first + i) * unit.size;
      written += bytes.copy(out, written, Math.max(position - unitStart, 0), Math.min(end - unitStart, bytes.length));
    }
    return out;
  }

  /** True when units first..last are all in the cache (one of them, for a read within one block). */
  private cachedUnit(target: ReadTarget, unit: Unit, first: number, last: number): boolean {
    for (let index = first; index <= last; index++) {
      if (!this.cache.has(this.cacheKey(target, unit, index))) return false;
    }
    return true;
  }

  private track(pattern: ReadPattern, position: number, end: number): void {
    const sequential = Math.abs(position - pattern.nextOffset) <= SEQUENTIAL_JITTER;
    pattern.window = sequential ? Math.min(Math.max(pattern.window * 2, 1), this.options.maxPrefetchBlocks) : 0;
    pattern.nextOffset = sequential ? Math.max(pattern.nextOffset, end) : end;
    // After a jump, what was prefetched for the old position says nothing about the new one.
    if (!sequential) pattern.prefetchedUntil = 0;
  }

  /**
   * Keeps `window` blocks requested ahead of the block being read. Refills happen once half
   * the window is used up, as GETs of up to maxRequestBlocks blocks each, all at once: a
   * sequential reader keeps several requests in flight, each for several blocks.
   */
  private prefetch(target: ReadTarget, pattern: ReadPattern, reading: number): void {
    if (pattern.window === 0) return;
    const lastBlock = Math.floor((target.size - 1) / this.block.size);
    const wanted = Math.min(reading + pattern.window, lastBlock);
    const from = Math.max(pattern.prefetchedUntil, reading + 1);
    if (wanted < from || wanted - from + 1 < Math.ceil(pattern.window / 2)) return;
    pattern.prefetchedUntil = wanted + 1;
    const step = this.options.maxRequestBlocks ?? DEFAULT_REQUEST_BLOCKS;
    for (let start = from; start <= wanted; start += step) {
      // A failed prefetch is not cached; the read that needs the block retries it.
      for (const pending of this.fetchUnits(target, this.block, start, Math.min(start + step - 1, wanted))) pending.catch(() => undefined);
    }
  }

  /**
   * Units first..last through the cache; those it neither holds nor is loading come from one
   * ranged GET, split into units. The cache calls loaders synchronously inside fetch, so once
   * the loop is done the missing ones are known and their GET can start.
   */
  private fetchUnits(target: ReadTarget, unit: Unit, first: number, last: number): Array<Promise<Buffer>> {
    const missing: number[] = [];
    let deliver!: (units: Promise<Map<number, Buffer>>) => void;
    const group = new Promise<Map<number, Buffer>>((resolve) => (deliver = resolve));
    const pending: Array<Promise<Buffer>> = [];
    for (let index = first; index <= last; index++) {
      const load = () => {
        missing.push(index);
        return group.then((units) => units.get(index) as Buffer);
      };
      pending.push(this.cached(target, unit, index, load));
    }
    if (missing.length > 0) deliver(this.getUnits(target, unit, missing[0], missing[missing.length - 1]));
    else deliver(Promise.resolve(new Map()));
    return pending;
  }

  /** Units first..last (inclusive) in one ranged GET, as separate buffers. */
  private async getUnits(target: ReadTarget, unit: Unit, first: number, last: number): Promise<Map<number, Buffer>> {
    const start = first * unit.size;
    const bytes = await this.store.getRange(target.key, start, Math.min((last + 1) * unit.size, target.size), { ifMatch: target.etag });
    const units = new Map<number, Buffer>();
    for (let index = first; index <= last; index++) units.set(index, bytes.subarray((index - first) * unit.size, (index - first + 1) * unit.size));
    return units;
  }

  private cacheKey(target: ReadTarget, unit: Unit, index: number) {
    return { op: 'block' as const, bucket: this.options.bucket, key: target.key, params: unit.name(target.etag, index) };
  }

  private async cached(target: ReadTarget, unit: Unit, index: number, load: () => Promise<Buffer>): Promise<Buffer> {
    try {
      return await this.cache.fetch<Buffer>(this.cacheKey(target, unit, index), load, { sizeOf: (bytes) => bytes.length });
    } catch (error) {
      if (isStoreError(error, 'PreconditionFailed')) {
        // Another writer replaced the object under an open handle: drop what we knew
        // so the next open sees the new version, and refuse to mix versions here.
        this.cache.invalidateKey(this.options.bucket, target.key);
        this.log.warn({ key: target.key, etag: target.etag }, 'object changed while open; reopen to read the new version');
        throw new FsError('EIO', `object changed while open: ${target.key}`);
      }
      throw error;
    }
  }
}
