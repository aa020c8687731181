// The blocks one handle streams: requested ahead in whole slabs from a SlabPool, handed to
// reads, and let go of once the handle has moved past them. Nothing here enters the memory
// cache (see reader.ts for when a read streams); with a disk tier, blocks it holds are read
// from it, and blocks fetched from S3 are stored in it.

import { closeSync } from 'node:fs';
import type { BlockId } from '../../cache/block-cache.js';
import type { BlockTier, PinnedBlock } from '../../cache/block-tier.js';
import type { ObjectStore } from '../../s3/object-store.js';
import type { ReadTarget } from '../nodes.js';
import type { Slab, SlabPool } from './slab-pool.js';

export interface StreamSource {
  store: ObjectStore;
  bucket: string;
  /** The block cache's tier below memory, if any. */
  disk?: BlockTier;
  slabs: SlabPool;
  blockSize: number;
  /** What a failed GET becomes for the reads waiting on it. */
  readError(target: ReadTarget, error: unknown): unknown;
}

/** A streamed block; its slab is held for whoever received it, until released. */
export interface StreamedBlock {
  slab: Slab;
  bytes: Promise<Buffer>;
}

export class BlockStream {
  /** Blocks requested and not let go of, each holding its slab once. */
  private readonly blocks = new Map<number, StreamedBlock>();
  /** Blocks below this index were requested. */
  private requestedUntil = 0;

  constructor(
    private readonly source: StreamSource,
    /** Offered each block read from disk with its file still open: true when it took the descriptor. */
    private readonly keep?: (target: ReadTarget, index: number, pinned: PinnedBlock) => boolean,
  ) {}

  /** Requests blocks from..to (in whole slabs) that were not requested yet, while slabs are free. */
  extend(target: ReadTarget, from: number, to: number): void {
    const { slabs, blockSize } = this.source;
    const perSlab = Math.max(1, Math.floor(slabs.slabBytes / blockSize));
    const lastBlock = Math.floor((target.size - 1) / blockSize);
    let start = Math.max(this.requestedUntil, from);
    while (start <= Math.min(to, lastBlock)) {
      const slab = slabs.take();
      if (!slab) break;
      const groupStart = start;
      const groupEnd = Math.min(start + perSlab - 1, lastBlock);
      // The GET holds the slab until it settles, so that no other GET can write into it meanwhile.
      const bytes = this.fill(target, groupStart, groupEnd, slab)
        .catch((error: unknown) => {
          // A failed GET is not kept: the next read of these blocks asks again.
          for (let index = groupStart; index <= groupEnd; index++) {
            if (this.blocks.get(index)?.slab !== slab) continue;
            this.blocks.delete(index);
            slabs.release(slab);
          }
          this.requestedUntil = Math.min(this.requestedUntil, groupStart);
          throw this.source.readError(target, error);
        })
        .finally(() => slabs.release(slab));
      for (let index = groupStart; index <= groupEnd; index++) {
        slabs.hold(slab);
        const offset = (index - groupStart) * blockSize;
        const block = bytes.then((view) => view.subarray(offset, offset + blockSize));
        block.catch(() => undefined); // a block nobody reads may fail unobserved
        this.blocks.set(index, { slab, bytes: block });
      }
      start = groupEnd + 1;
    }
    this.requestedUntil = Math.max(this.requestedUntil, start);
  }

  /** Blocks first..last into the slab: from the disk tier when it holds them all, else one GET (then kept on disk). */
  private async fill(target: ReadTarget, first: number, last: number, slab: Slab): Promise<Buffer> {
    const { store, disk, blockSize } = this.source;
    const end = Math.min((last + 1) * blockSize, target.size);
    const ids: BlockId[] = [];
    for (let index = first; index <= last; index++) ids.push({ bucket: this.source.bucket, key: target.key, etag: target.etag, unitSize: blockSize, index });
    const ready = disk?.ready?.(this.source.bucket, target.key);
    if (ready) await ready;
    if (disk && ids.every((id) => disk.probe(id))) {
      const read = await Promise.all(ids.map((id, i) => this.readBlock(disk, target, id, slab.buffer.subarray(i * blockSize, (i + 1) * blockSize))));
      if (read.every((bytes, i) => bytes?.length === Math.min(blockSize, end - (first + i) * blockSize)))
        return slab.buffer.subarray(0, end - first * blockSize);
    }
    const bytes = await store.getRange(target.key, first * blockSize, end, { ifMatch: target.etag, into: slab.buffer });
    if (disk) {
      const { slabs } = this.source;
      // The slab stays held until the disk has its bytes: they are written without a copy.
      ids.forEach((id, i) => {
        slabs.hold(slab);
        disk.write(id, bytes.subarray(i * blockSize, (i + 1) * blockSize), () => slabs.release(slab));
      });
    }
    return bytes;
  }

  /** One block from disk into `into`; its open file goes to `keep` when wanted. */
  private async readBlock(disk: BlockTier, target: ReadTarget, id: BlockId, into: Buffer): Promise<Buffer | undefined> {
    if (!this.keep || !disk.readPinned) return disk.read(id, into);
    const read = await disk.readPinned(id, into);
    if (read?.pinned && !this.keep(target, id.index, read.pinned)) closeSync(read.pinned.fd);
    return read?.bytes;
  }

  /** Block `index` if the stream has it, its slab held once more for the caller to release. */
  take(index: number): StreamedBlock | undefined {
    const streamed = this.blocks.get(index);
    if (streamed) this.source.slabs.hold(streamed.slab);
    return streamed;
  }

  /** Lets go of the blocks below `before`. */
  releaseBefore(before: number): void {
    for (const [index, streamed] of this.blocks) {
      if (index >= before) continue;
      this.blocks.delete(index);
      this.source.slabs.release(streamed.slab);
    }
  }

  close(): void {
    this.releaseBefore(Infinity);
  }
}
