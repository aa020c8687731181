// Blocks of the disk cache offered to the FUSE binding, so that reads of them are answered on
// the libfuse thread from their block files, without a trip to JavaScript
// (scripts/fuse-native-read-cache.h). Registrations belong to one version of an object (key +
// ETag), whichever handle's reads made them; a handle is attached to the version it returned
// bytes of, and only then are its reads answered from that version's blocks. Only whole
// blocks stored raw, each checked (identity and checksum) through the descriptor handed over.
// A block leaving the disk cache takes its registration away; a handle's release detaches it
// (the version's blocks stay for the next reader, within a bound on open descriptors).
import type { BlockId } from '../../cache/block-cache.js';
import type { BlockTier, PinnedBlock } from '../../cache/block-tier.js';
import type { Logger } from '../../log.js';
import type { ReadTarget } from '../nodes.js';

/** What the binding offers (src/fuse/native-reads.ts): blocks per version, handles attached to one. */
export interface NativeReadSink {
  /** true when registered: the descriptor is the binding's from then on. */
  register(version: number, blockSize: number, objectSize: number, index: number, fd: number, offset: number, length: number): boolean;
  /** The handle's reads may be answered from the version's blocks. */
  attach(handle: number, version: number): void;
  /** The handle is released: its reads go to JavaScript. */
  dropHandle(handle: number): void;
  dropBlock(version: number, index: number): void;
}

interface VersionBlocks {
  id: number;
  target: ReadTarget;
  /** Block index → the disk tier's token of its file. */
  registered: Map<number, string>;
  pinning: Set<number>;
  /** Handles attached now. */
  handles: Set<number>;
}

export interface NativeBlocksOptions {
  bucket: string;
  blockSize: number;
  /** Blocks after a sequential read's last one offered with it, so the kernel's read-ahead finds them. */
  ahead: number;
  /** Blocks registered at most (the binding's bound on open descriptors). */
  maxBlocks: number;
  /** Closes a descriptor the binding did not take. */
  closeFd: (fd: number) => void;
}

export class NativeBlocks {
  /** Handle → the version it is attached to. */
  private readonly handles = new Map<number, VersionBlocks>();
  /** By key and ETag, least recently attached first. */
  private readonly versions = new Map<string, VersionBlocks>();
  /** Disk token → the version block it is. */
  private readonly byToken = new Map<string, { version: VersionBlocks; index: number }>();
  private blocks = 0;
  private nextId = 1;
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
   * `handle` returned bytes of `target`: from now on its reads may be answered from blocks of
   * that version. Undefined when the handle is attached to another version.
   */
  attach(handle: number, target: ReadTarget): VersionBlocks | undefined {
    const attached = this.handles.get(handle);
    if (attached) return versionName(attached.target) === versionName(target) ? attached : undefined;
    const name = versionName(target);
    let version = this.versions.get(name);
    if (version) this.versions.delete(name);
    else version = { id: this.nextId++, target, registered: new Map(), pinning: new Set(), handles: new Set() };
    this.versions.set(name, version);
    version.handles.add(handle);
    this.handles.set(handle, version);
    this.sink.attach(handle, version.id);
    return version;
  }

  /**
   * `handle` returned bytes [position, end) of `target`: it is attached, and the blocks holding
   * them (and, when `sequential`, a few after) are registered once their files are pinned and checked.
   */
  offer(handle: number, target: ReadTarget, position: number, end: number, sequential: boolean): void {
    if (end <= position) return;
    const version = this.attach(handle, target);
    if (!version) return;
    const { blockSize } = this.options;
    const lastBlock = Math.floor((target.size - 1) / blockSize);
    const last = Math.min(Math.floor((end - 1) / blockSize) + (sequential ? this.options.ahead : 0), lastBlock);
    for (let index = Math.floor(position / blockSize); index <= last; index++) {
      if (version.registered.has(index) || version.pinning.has(index)) continue;
      const id: BlockId = { bucket: this.options.bucket, key: target.key, etag: target.etag, unitSize: blockSize, index };
      if (!this.disk.has(id)) continue;
      version.pinning.add(index);
      void this.pin(version, id);
    }
  }

  /**
   * Where `handle`'s sequence would be had its reads answered in the binding reached
   * JavaScript: past `from` while every block from there up to `position` is registered, so
   * that answered reads do not look like a jump and stop the read-ahead. Else `from`.
   */
  continuedTo(handle: number, from: number, position: number): number {
    const version = this.handles.get(handle);
    if (!version || position <= from) return from;
    const { blockSize } = this.options;
    for (let index = Math.floor(from / blockSize); index <= Math.floor((position - 1) / blockSize); index++) {
      if (!version.registered.has(index)) return from;
    }
    return position;
  }

  /** A block of `target` read for `handle` with its file open: true when registered (the descriptor is the binding's). */
  adopt(handle: number, target: ReadTarget, index: number, pinned: PinnedBlock): boolean {
    const version = this.attach(handle, target);
    if (!version || version.registered.has(index)) return false;
    return this.registered(version, index, pinned);
  }

  /** The handle is released: it is detached before its number can be given again. */
  release(handle: number): void {
    const version = this.handles.get(handle);
    if (!version) return;
    this.handles.delete(handle);
    version.handles.delete(handle);
    this.sink.dropHandle(handle);
    this.forgetIfUnused(version);
  }

  close(): void {
    this.stopWatching();
    for (const handle of [...this.handles.keys()]) this.release(handle);
  }

  /** Blocks registered now (for tests and statistics). */
  get registeredBlocks(): number {
    return this.blocks;
  }

  private async pin(version: VersionBlocks, id: BlockId): Promise<void> {
    const pinned = await this.disk.pin(id).catch((error: unknown) => {
      this.log.debug({ err: error, key: id.key, index: id.index }, 'native reads: block not pinned');
      return undefined;
    });
    version.pinning.delete(id.index);
    if (!pinned) return this.forgetIfUnused(version);
    // The block left the disk cache while its file was being checked, or its version was let go.
    const current = this.versions.get(versionName(version.target)) === version && this.disk.has(id) && !version.registered.has(id.index);
    if (!current || !this.registered(version, id.index, pinned)) {
      this.options.closeFd(pinned.fd);
      this.forgetIfUnused(version);
    }
  }

  /** A version with no block, no handle and no pin under way goes. */
  private forgetIfUnused(version: VersionBlocks): void {
    if (version.registered.size > 0 || version.handles.size > 0 || version.pinning.size > 0) return;
    const name = versionName(version.target);
    if (this.versions.get(name) === version) this.versions.delete(name);
  }

  private registered(version: VersionBlocks, index: number, pinned: PinnedBlock): boolean {
    if (this.blocks >= this.options.maxBlocks) this.makeRoom(version);
    if (this.blocks >= this.options.maxBlocks) return false;
    if (!this.sink.register(version.id, this.options.blockSize, version.target.size, index, pinned.fd, pinned.offset, pinned.length)) return false;
    this.blocks++;
    version.registered.set(index, pinned.token);
    this.byToken.set(pinned.token, { version, index });
    return true;
  }

  /** Lets go of the blocks of the least recently attached versions no handle reads now. */
  private makeRoom(keep: VersionBlocks): void {
    for (const [name, version] of this.versions) {
      if (this.blocks < this.options.maxBlocks) return;
      if (version === keep || version.handles.size > 0) continue;
      for (const [index, token] of version.registered) {
        this.byToken.delete(token);
        this.sink.dropBlock(version.id, index);
        this.blocks--;
      }
      version.registered.clear();
      this.versions.delete(name);
    }
  }

  /** A block's file left the disk cache (undefined: all of them): no handle reads it any more. */
  private blockLeft(token: string | undefined): void {
    const tokens = token === undefined ? [...this.byToken.keys()] : [token];
    for (const one of tokens) {
      const held = this.byToken.get(one);
      if (!held) continue;
      this.byToken.delete(one);
      held.version.registered.delete(held.index);
      this.blocks--;
      this.sink.dropBlock(held.version.id, held.index);
      this.forgetIfUnused(held.version);
    }
  }
}

function versionName(target: ReadTarget): string {
  return `${target.key}\0${target.etag}`;
}

/** Whether a block tier can pin blocks for native reads. */
export function canPin(tier: BlockTier | undefined): tier is BlockTier & Required<Pick<BlockTier, 'pin' | 'watchDrops'>> {
  return tier?.pin !== undefined && tier.watchDrops !== undefined;
}
