// Bytes that reach a staged copy when nobody will flush it any more: pages written through a
// MAP_SHARED mapping after close() come as writes on the mapping's handle when the kernel
// writes them back (its own writeback after ~30 s, syncfs, munmap), after the flush of the
// close() that preceded them; a copy still dirty at its last release has no flush to come.
// Such a copy is uploaded once no write came for a short while.

/** First wait after a late write; doubles for each upload of the same handle's late writes. */
export const LATE_UPLOAD_DELAY_MS = 1000;
/** Longest wait, for a handle that keeps writing after its close (a slowly growing file behind a dup'd descriptor). */
export const LATE_UPLOAD_MAX_DELAY_MS = 30_000;

export class LateUploads<File extends object> {
  private readonly timers = new Map<File, NodeJS.Timeout>();

  constructor(private readonly upload: (file: File) => Promise<void>) {}

  /** Uploads `file` `delayMs` after the last call for it. */
  schedule(file: File, delayMs: number): void {
    clearTimeout(this.timers.get(file));
    const timer = setTimeout(() => {
      this.timers.delete(file);
      void this.upload(file);
    }, delayMs);
    // Pending uploads never keep the process alive: the unmount saves what is still dirty.
    timer.unref();
    this.timers.set(file, timer);
  }

  /** Forgets every pending upload (at unmount, which saves everything itself). */
  clear(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}
