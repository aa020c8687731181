// A bound on the parts of multipart uploads in flight, shared by every staged file: each part
// sent is read into a buffer of the part size, so this bound is the memory uploads take.
// First come, first served, so that a file being closed waits behind no more than the parts
// already queued before it.

export class PartSlots {
  private free: number;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly size: number) {
    this.free = size;
  }

  /** Resolves once a slot is free; call the function returned to give it back (once). */
  async acquire(): Promise<() => void> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    };
  }

  /** Slots taken right now (for tests and statistics). */
  get taken(): number {
    return this.size - this.free;
  }
}
