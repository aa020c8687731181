// A bound on the parts of multipart uploads in flight, shared by every staged file: each part
// sent is read into a buffer of the part size, so this bound is the memory uploads take.
// First come, first served, so that a file being closed waits behind no more than the parts
// already queued before it.
//
// Each slot lends its part buffer, reused from part to part: a fresh 8 MiB buffer per part
// counts as external memory to V8, which answered 1 GiB of parts (and the FUSE write buffers)
// with a full garbage collection every few parts (docs/benchmarks.md). The buffers go back
// to the allocator once no part has been sent for IDLE_MS.

/** How long buffers are kept with no part in flight. */
export const IDLE_MS = 2000;

/** A slot taken: its buffer (partBytes long) is the holder's until it calls release (once). */
export interface PartSlot {
  readonly buffer: Buffer;
  release(): void;
}

export class PartSlots {
  private free: number;
  private readonly waiting: Array<() => void> = [];
  private readonly buffers: Buffer[] = [];
  private idle?: NodeJS.Timeout;

  constructor(
    readonly size: number,
    /** Bytes of each slot's buffer: the part size. */
    private readonly partBytes: number,
    private readonly idleMs = IDLE_MS,
  ) {
    this.free = size;
  }

  /** Resolves once a slot is free. */
  async acquire(): Promise<PartSlot> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    return this.lend();
  }

  /** A slot if one is free now, else undefined (for callers that can do without). */
  tryAcquire(): PartSlot | undefined {
    if (this.free === 0) return undefined;
    this.free--;
    return this.lend();
  }

  private lend(): PartSlot {
    clearTimeout(this.idle);
    this.idle = undefined;
    let buffer: Buffer | undefined;
    let released = false;
    const take = () => this.buffers.pop() ?? Buffer.allocUnsafeSlow(this.partBytes);
    return {
      // Taken on first use: a part found current, or a send given up, needs none.
      get buffer() {
        buffer ??= take();
        return buffer;
      },
      release: () => {
        if (released) return;
        released = true;
        if (buffer) this.buffers.push(buffer);
        const next = this.waiting.shift();
        if (next) next();
        else this.free++;
        if (this.free === this.size) this.idle = setTimeout(() => this.buffers.splice(0), this.idleMs).unref();
      },
    };
  }

  /** Slots taken right now (for tests and statistics). */
  get taken(): number {
    return this.size - this.free;
  }

  /** Buffers kept for the next parts (for tests). */
  get kept(): number {
    return this.buffers.length;
  }
}
