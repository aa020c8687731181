// Reads object content through the content cache: ranged GETs of fixed-size units keyed by
// key + ETag + unit, so that a changed object never serves old bytes. A handle reading
// sequentially gets whole blocks and a prefetch window of parallel GETs that grows while
// it stays sequential; a small read at a random offset fetches only the pieces it touches.
//
// A sequential read of an object larger than a quarter of the content cache streams instead:
// its blocks go through a few reusable slabs and never enter the cache, as PostgreSQL rings
// the buffers of a large sequential scan. One big read then neither pushes everything else
// out of the cache nor pays for fresh memory for every block; the kernel's page cache keeps
// what it read for the next reader.
import type { BlockCache, BlockId } from '../../cache/block-cache.js';
import type { BlockTier, PinnedBlock } from '../../cache/block-tier.js';
import { isStoreError, type ObjectStore } from '../../s3/object-store.js';
import type { ReadTarget } from '../nodes.js';
import { BlockStream, type StreamSource } from './block-stream.js';
import { ObjectChangedError } from './object-changed.js';
import type { Slab, SlabPool } from './slab-pool.js';

/** Per-handle sequential-read detection. */
export interface ReadPattern {
  /** Where the next sequential read would start. */
  nextOffset: number;
  /** Blocks to prefetch beyond the current read; 0 while reads look random. */
  window: number;
  /** Blocks below this index were already asked for by this handle's prefetching. */
  prefetchedUntil: number;
  /** This handle's streamed blocks, once it streams. */
  stream?: BlockStream;
  /** Offered the blocks this handle's stream reads from disk, their files open (see BlockStream). */
  keep?: (target: ReadTarget, index: number, pinned: PinnedBlock) => boolean;
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
  /** The block cache's tier below memory: streaming reads use it too. */
  disk?: BlockTier;
  /** Slabs for streaming reads (whole multiples of blockSize); no streaming without. */
  slabs?: SlabPool;
  /** Objects larger than this (bytes) stream when read sequentially. */
  streamAbove?: number;
  /** The kernel's read-ahead on the mount (bytes); default 1 MiB. */
  readAheadBytes?: number;
}

/** A grid of fixed-size units over an object: blocks, or the pieces of a random read. */
interface Unit {
  size: number;
}

/** Consecutive units missing from the cache, fetched by one GET. */
interface MissingRun {
  first: number;
  last: number;
  units: Promise<Map<number, Buffer>>;
  deliver(units: Promise<Map<number, Buffer>>): void;
}

/** Where some of a read's bytes come from. */
interface ReadPart {
  /** Offset in the object of the first byte of `bytes`. */
  start: number;
  bytes: Promise<Buffer>;
  /** A slab the part holds until its bytes are copied. */
  slab?: Slab;
}

// The kernel keeps up to read_ahead_kb of 128 KiB reads in flight and several FUSE threads
// hand them over, so they arrive out of order: a read up to twice the read-ahead ahead of
// where the sequence has got to continues it, and so does one up to four times it behind
// (a late arrival, not a jump back). Measured on a cold 256 MiB read with 1 MiB of
// read-ahead: reads came more than 2 MiB behind the furthest one; with no allowance for
// that, 48 MiB of a streamed 256 MiB file were fetched a second time.
const DEFAULT_READ_AHEAD = 1024 * 1024;
const DEFAULT_REQUEST_BLOCKS = 4;

export function newReadPattern(): ReadPattern {
  return { nextOffset: 0, window: 0, prefetchedUntil: 0 };
}

export class BlockReader {
  private readonly block: Unit;
  private readonly piece: Unit;
  private readonly readAhead: number;
  /** How far behind the sequence a read still belongs to it. */
  private readonly lateRead: number;
  private readonly streamSource?: StreamSource;

  constructor(
    private readonly store: ObjectStore,
    private readonly cache: BlockCache,
    /** Told when an object turned out to have changed under a reader. */
    private readonly onStale: (key: string) => void,
    private readonly options: BlockReaderOptions,
  ) {
    const pieceSize = options.pieceSize ?? options.blockSize;
    if (options.blockSize % pieceSize !== 0) throw new Error(`piece size ${pieceSize} does not divide block size ${options.blockSize}`);
    this.readAhead = options.readAheadBytes ?? DEFAULT_READ_AHEAD;
    this.lateRead = 4 * this.readAhead;
    this.block = { size: options.blockSize };
    this.piece = { size: pieceSize };
    if (options.slabs) {
      this.streamSource = {
        store,
        bucket: options.bucket,
        disk: options.disk,
        slabs: options.slabs,
        blockSize: options.blockSize,
        readError: (target, error) => this.readError(target, error),
      };
    }
  }

  /** Bytes [position, position + length) of the object into `into`, clipped at its end; resolves to the count. */
  async readInto(target: ReadTarget, pattern: ReadPattern, position: number, length: number, into: Buffer): Promise<number> {
    const end = Math.min(position + length, target.size, position + into.length);
    if (position >= end) return 0;
    this.track(pattern, position, end);
    // Small reads away from this handle's sequence fetch pieces, unless the block is at hand or
    // on its way, or the one before it is: then another reader is going through the object
    // (16 processes reading one file each see jumps, as the page cache serves the others'
    // pages), and pieces would fetch its bytes a second time.
    const random = pattern.window === 0 && end - position <= this.piece.size && this.piece.size < this.block.size;
    const block = Math.floor(position / this.block.size);
    if (random && !this.anyAvailable(target, this.block, Math.max(0, block - 1), Math.floor((end - 1) / this.block.size))) {
      return this.copyParts(this.unitParts(target, this.piece, position, end), position, end, into);
    }
    if (this.streamSource && pattern.window > 0 && target.size > (this.options.streamAbove ?? Infinity)) {
      return this.copyParts(this.streamedParts(this.streamSource, target, pattern, position, end), position, end, into);
    }
    this.prefetch(target, pattern, Math.floor((end - 1) / this.block.size));
    return this.copyParts(this.unitParts(target, this.block, position, end), position, end, into);
  }

  /** readInto a new buffer. */
  /** The handle is closed: its streamed blocks go back to the pool. */
  close(pattern: ReadPattern): void {
    pattern.stream?.close();
    pattern.stream = undefined;
  }

  /** Starts fetching the first block of an object that is likely to be read soon. */
  prefetchFirstBlock(target: ReadTarget): void {
    // A failed prefetch is not cached; the read that needs the block retries it.
    this.fetchUnits(target, this.block, 0, 0)[0].catch(() => undefined);
  }

  /** The units holding bytes [position, end), from the cache or one GET for those missing. */
  private unitParts(target: ReadTarget, unit: Unit, position: number, end: number): ReadPart[] {
    const first = Math.floor(position / unit.size);
    return this.fetchUnits(target, unit, first, Math.floor((end - 1) / unit.size)).map((bytes, i) => ({ start: (first + i) * unit.size, bytes }));
  }

  /** Copies bytes [position, end) out of the parts that hold them; then lets go of their slabs. */
  private async copyParts(parts: ReadPart[], position: number, end: number, into: Buffer): Promise<number> {
    try {
      const buffers = await Promise.all(parts.map((part) => part.bytes));
      let written = 0;
      for (const [i, bytes] of buffers.entries()) {
        const start = parts[i].start;
        written += bytes.copy(into, written, Math.max(position - start, 0), Math.min(end - start, bytes.length));
      }
      return written;
    } finally {
      for (const part of parts) if (part.slab) this.options.slabs?.release(part.slab);
    }
  }

  /**
   * The blocks of [position, end) from this handle's stream, which is first extended to the
   * window ahead; each part holds its slab until copied. A block the stream could not take
   * (no slab free) comes through the cache instead.
   */
  private streamedParts(source: StreamSource, target: ReadTarget, pattern: ReadPattern, position: number, end: number): ReadPart[] {
    const stream = (pattern.stream ??= new BlockStream(source, pattern.keep));
    const first = Math.floor(position / this.block.size);
    const last = Math.floor((end - 1) / this.block.size);
    // Blocks a late read may still ask for stay; those further behind the sequence go.
    stream.releaseBefore(Math.floor((pattern.nextOffset - this.lateRead) / this.block.size));
    stream.extend(target, first, last + pattern.window);
    const parts: ReadPart[] = [];
    for (let index = first; index <= last; index++) {
      const start = index * this.block.size;
      const streamed = stream.take(index);
      parts.push(streamed ? { start, bytes: streamed.bytes, slab: streamed.slab } : { start, bytes: this.fetchUnits(target, this.block, index, index)[0] });
    }
    return parts;
  }

  /** True when one of units first..last is cached or on its way: fetching it would not call S3. */
  private anyAvailable(target: ReadTarget, unit: Unit, first: number, last: number): boolean {
    for (let index = first; index <= last; index++) {
      if (this.cache.has(this.cacheKey(target, unit, index))) return true;
    }
    return false;
  }

  private track(pattern: ReadPattern, position: number, end: number): void {
    const gap = position - pattern.nextOffset;
    const sequential = gap <= 2 * this.readAhead && gap >= -this.lateRead;
    pattern.window = sequential ? Math.min(Math.max(pattern.window * 2, 1), this.options.maxPrefetchBlocks) : 0;
    pattern.nextOffset = sequential ? Math.max(pattern.nextOffset, end) : end;
    // After a jump, what was prefetched for the old position says nothing about the new one.
    // A stream's blocks stay: reads that move on past them let them go.
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
   * ranged GET per run of consecutive missing units, split into units, so that no byte is
   * asked for twice. The cache calls the loaders of missing units before fetch returns, so once
   * the loop is done the missing ones are known and their GETs can start.
   */
  private fetchUnits(target: ReadTarget, unit: Unit, first: number, last: number): Array<Promise<Buffer>> {
    const runs: MissingRun[] = [];
    const pending: Array<Promise<Buffer>> = [];
    let planned = false;
    for (let index = first; index <= last; index++) {
      const load = () => {
        // Asked for after the GETs were planned (a block the disk tier held but could not
        // read): a GET of its own.
        if (planned) return this.getUnits(target, unit, index, index).then((got) => got.get(index) as Buffer);
        let run = runs[runs.length - 1];
        if (run?.last !== index - 1) {
          let deliver!: MissingRun['deliver'];
          const units = new Promise<Map<number, Buffer>>((resolve) => (deliver = resolve));
          run = { first: index, last: index, units, deliver };
          runs.push(run);
        }
        run.last = index;
        return run.units.then((got) => got.get(index) as Buffer);
      };
      pending.push(this.cached(target, unit, index, load));
    }
    planned = true;
    for (const run of runs) run.deliver(this.getUnits(target, unit, run.first, run.last));
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

  private cacheKey(target: ReadTarget, unit: Unit, index: number): BlockId {
    return { bucket: this.options.bucket, key: target.key, etag: target.etag, unitSize: unit.size, index };
  }

  private async cached(target: ReadTarget, unit: Unit, index: number, load: () => Promise<Buffer>): Promise<Buffer> {
    try {
      return await this.cache.fetch(this.cacheKey(target, unit, index), load);
    } catch (error) {
      throw this.readError(target, error);
    }
  }

  private readError(target: ReadTarget, error: unknown): unknown {
    if (!isStoreError(error, 'PreconditionFailed')) return error;
    // Another writer replaced the object: the filesystem refreshes what it knew and moves
    // the handle to the new version when it served no byte yet (never mixing versions).
    this.onStale(target.key);
    return new ObjectChangedError(target);
  }
}
