// Changes to a staged copy (writes, truncates) run side by side; an upload runs alone, so
// that the bytes and size it sends are those of one moment, never a copy changing under it.

export class WriteGate {
  private active = 0;
  private drained?: () => void;
  private closed?: Promise<void>;

  /** No change and no upload under way: a change made now, without waiting, is alone. */
  get idle(): boolean {
    return this.active === 0 && !this.closed;
  }

  /** Runs a change; waits while an upload holds the gate. */
  async change<T>(work: () => Promise<T>): Promise<T> {
    while (this.closed) await this.closed;
    this.active++;
    try {
      return await work();
    } finally {
      if (--this.active === 0) this.drained?.();
    }
  }

  /** Runs `work` once the changes in progress are done, holding off new ones until it ends. */
  async alone<T>(work: () => Promise<T>): Promise<T> {
    while (this.closed) await this.closed;
    let open!: () => void;
    this.closed = new Promise<void>((resolve) => (open = resolve));
    try {
      if (this.active > 0) await new Promise<void>((resolve) => (this.drained = resolve));
      this.drained = undefined;
      return await work();
    } finally {
      this.closed = undefined;
      open();
    }
  }
}
