// Reads answered inside the FUSE binding (scripts/fuse-native-read-cache.h): the core
// registers blocks of the disk cache per object version (src/fs/read/native-blocks.ts) and
// attaches each handle to the version it read; the binding answers that handle's later reads
// of registered blocks on the libfuse thread with pread.
// This side turns it on for a mount, carries the registrations and reads its counters. A
// binding built without it (the prebuilt one) leaves every read to JavaScript, as before.
import Fuse, { type NativeReadsBinding, type NativeReadsStats } from 'fuse-native';
import type { NativeReadSink } from '../fs/read/native-blocks.js';

export type { NativeReadsStats };

// One table per process, and s3mount serves one mount per process.
let claimed = false;

export class NativeReads implements NativeReadSink {
  private constructor(private readonly binding: NativeReadsBinding) {}

  /** On and empty, holding at most `maxBlocks` block files open; undefined when the binding has none or it is taken. */
  static open(maxBlocks: number, binding: NativeReadsBinding | null | undefined = Fuse.nativeReads): NativeReads | undefined {
    // A binding built before registrations were per version has no attach: its reads stay in JavaScript.
    if (!binding?.attach || claimed || maxBlocks < 1) return undefined;
    claimed = true;
    binding.configure(maxBlocks);
    return new NativeReads(binding);
  }

  register(version: number, blockSize: number, objectSize: number, index: number, fd: number, offset: number, length: number): boolean {
    return this.binding.register(version, blockSize, objectSize, index, fd, offset, length);
  }

  attach(handle: number, version: number): void {
    this.binding.attach?.(handle, version);
  }

  dropHandle(handle: number): void {
    this.binding.dropHandle(handle);
  }

  dropBlock(version: number, index: number): void {
    this.binding.dropBlock(version, index);
  }

  stats(): NativeReadsStats {
    return this.binding.stats();
  }

  /** Off, every descriptor closed (after the unmount); the process may open it again. */
  close(): void {
    this.binding.configure(0);
    claimed = false;
  }
}
