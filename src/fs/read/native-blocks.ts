// Blocks a handle has read, offered to the FUSE binding so that its later reads of them are
// answered on the libfuse thread from the block files of the disk cache, without a trip to
// JavaScript (scripts/fuse-native-read-cache.h). Only whole blocks of the one version the
// handle reads, stored raw, each checked (identity and checksum) through the descriptor handed
// over; a block leaving the disk cache and the handle's release take its registrations away.
import type { BlockId } from '../../cache/block-cache.js';
import type { BlockTier, PinnedBlock } from '../../cache/block-tier.js';
import type { Logger } from '../../log.js';
import type { ReadTarget } from '../nodes.js';

/** What the binding offers (src/fuse/native-reads.ts): registrations per handle. */
export interface NativeReadSink {
  /** true when registered: the descriptor is the binding's from then on. */
  register(handle: number, blockSize: number, objectSize: number, index: number, fd: number, offset: number, length: number): boolean;
  dropHandle(handle: number): void;
  dropBlock(handle: number, index: number): void;
}

interface HandleBlocks {
  target: ReadTarget;
  /** Block index → the disk tier's token of its file. */
  registered: Map<number, string>;
  pinning: Set<number>;
}

export interface NativeBlocksOptions {
  bucket: string;
  blockSize: number;
  /** Blocks after a sequential read's last one offered with it, so the kernel's read-ahead finds them. */
  ahead: number;
  /** Closes a descriptor the binding did not take. */
  closeFd: (fd: number) => void;
}

export class NativeBlocks {
  private readonly handles = new Map<number, HandleBlocks>();
  /** Disk token → the handles that registered it, by block index. */
  private readonly byToken = new Map<string, Map<number, number>>();
  private readonly stopWatching: () => void;

  constructor(
    private readonly disk: BlockTier & Required<Pick<BlockTier, 'pin' | 'watchDrops'>>,
    private readonly sink: NativeReadSink,
    private readonly log: Logger,
    private readonly options: NativeBlocksOptions,
  ) {
    this.stopWatching = disk.watchDrops((token) => this.blockLeft(token));
  }

  /**
   * `handle` returned bytes [position, end) of `target`: the blocks holding them (and, when
   * `sequential`, a few after) are registered once their files are pinned and checked.
   */
  offer(handle: number, target: ReadTarget, position: number, end: number, sequential: boolean): void {
    if (end <= position) return;
    let blocks = this.handles.get(handle);
    if (blocks && blocks.target !== target) return;
    if (!blocks) this.handles.set(handle, (blocks = { target, registered: new Map(), pinning: new Set() }));
    const { blockSize } = this.options;
    const lastBlock = Math.floor((target.size - 1) / blockSize);
    const last = Math.min(Math.floor((end - 1) / blockSize) + (sequential ? this.options.ahead : 0), lastBlock);
    for (let index = Math.floor(position / blockSize); index <= last; index++) {
      if (blocks.registered.has(index) || blocks.pinning.has(index)) continue;
      const id: BlockId = { bucket: this.options.bucket, key: target.key, etag: target.etag, unitSize: blockSize, index };
      if (!this.disk.has(id)) continue;
      blocks.pinning.add(index);
      void this.pin(handle, blocks, id);
    }
  }

  /**
   * Where `handle`'s sequence would be had its reads answered in the binding reached
   * JavaScript: past `from` while every block from there up to `position` is registered, so
   * that answered reads do not look like a jump and stop the read-ahead. Else `from`.
   */
  continuedTo(handle: number, from: number, position: number): number {
    const blocks = this.handles.get(handle);
    if (!blocks || position <= from) return from;
    const { blockSize } = this.options;
    for (let index = Math.floor(from / blockSize); index <= Math.floor((position - 1) / blockSize); index++) {
      if (!blocks.registered.has(index)) return from;
    }
    return position;
  }

  /** A block of `target` read for `handle` with its file open: true when registered (the descriptor is the binding's). */
  adopt(handle: number, target: ReadTarget, index: number, pinned: PinnedBlock): boolean {
    let blocks = this.handles.get(handle);
    if (blocks && blocks.target !== target) return false;
    if (!blocks) this.handles.set(handle, (blocks = { target, registered: new Map(), pinning: new Set() }));
    if (blocks.registered.has(index)) return false;
    return this.registered(handle, blocks, index, pinned);
  }

  /** The handle is released: its registrations go, before its number can be given again. */
  release(handle: number): void {
    const blocks = this.handles.get(handle);
    if (!blocks) return;
    this.handles.delete(handle);
    for (const token of blocks.registered.values()) {
      const holders = this.byToken.get(token);
      holders?.delete(handle);
      if (holders?.size === 0) this.byToken.delete(token);
    }
    this.sink.dropHandle(handle);
  }

  close(): void {
    this.stopWatching();
    for (const handle of [...this.handles.keys()]) this.release(handle);
  }

  private async pin(handle: number, blocks: HandleBlocks, id: BlockId): Promise<void> {
    const pinned = await this.disk.pin(id).catch((error: unknown) => {
      this.log.debug({ err: error, key: id.key, index: id.index }, 'native reads: block not pinned');
      return undefined;
    });
    blocks.pinning.delete(id.index);
    if (!pinned) return;
    // Released, or the block left the disk cache, while its file was being checked.
    const current = this.handles.get(handle) === blocks && this.disk.has(id);
    if (!current || !this.registered(handle, blocks, id.index, pinned)) this.options.closeFd(pinned.fd);
  }

  private registered(handle: number, blocks: HandleBlocks, index: number, pinned: PinnedBlock): boolean {
    if (!this.sink.register(handle, this.options.blockSize, blocks.target.size, index, pinned.fd, pinned.offset, pinned.length)) return false;
    blocks.registered.set(index, pinned.token);
    let holders = this.byToken.get(pinned.token);
    if (!holders) this.byToken.set(pinned.token, (holders = new Map()));
    holders.set(handle, index);
    return true;
  }

  /** A block's file left the disk cache (undefined: all of them): no handle reads it any more. */
  private blockLeft(token: string | undefined): void {
    const tokens = token === undefined ? [...this.byToken.keys()] : [token];
    for (const one of tokens) {
      const holders = this.byToken.get(one);
      if (!holders) continue;
      this.byToken.delete(one);
      for (const [handle, index] of holders) {
        this.handles.get(handle)?.registered.delete(index);
        this.sink.dropBlock(handle, index);
      }
    }
  }
}

/** Whether a block tier can pin blocks for native reads. */
export function canPin(tier: BlockTier | undefined): tier is BlockTier & Required<Pick<BlockTier, 'pin' | 'watchDrops'>> {
  return tier?.pin !== undefined && tier.watchDrops !== undefined;
}
