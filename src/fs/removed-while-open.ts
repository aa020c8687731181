// Files removed while open, when libfuse could not hide them.
//
// libfuse 2 renames a file removed while open to `.fuse_hidden…` and removes it at the last
// release, but it counts an open only once our open has answered. An unlink arriving in between
// (another process's `rm` while `cat` opens) reaches us as a real unlink, and the new handle would
// then read a deleted key: EIO. So opens and unlinks of one key are ordered here, and an unlink
// of a key that read handles hold is turned into the same hiding, done by us.

/** Orders opens and unlinks of the same key (each side waits for the other's earlier calls). */
export class OpenUnlinkOrder {
  private readonly opening = new Map<string, Set<Promise<unknown>>>();
  private readonly unlinking = new Map<string, Promise<unknown>>();

  /** Runs an open of `key` after any unlink of it already under way. */
  async open<T>(key: string, run: () => Promise<T>): Promise<T> {
    const unlink = this.unlinking.get(key);
    if (unlink) await unlink.catch(() => undefined);
    const running = run();
    let set = this.opening.get(key);
    if (!set) {
      set = new Set();
      this.opening.set(key, set);
    }
    set.add(running);
    try {
      return await running;
    } finally {
      set.delete(running);
      if (set.size === 0 && this.opening.get(key) === set) this.opening.delete(key);
    }
  }

  /** Runs an unlink of `key` once the opens of it already under way have answered. */
  async unlink(key: string, run: () => Promise<void>): Promise<void> {
    const opens = [...(this.opening.get(key) ?? [])];
    const before = this.unlinking.get(key);
    const running = (async () => {
      await Promise.allSettled(before ? [...opens, before] : opens);
      await run();
    })();
    this.unlinking.set(key, running);
    try {
      await running;
    } finally {
      if (this.unlinking.get(key) === running) this.unlinking.delete(key);
    }
  }
}

/** Names under which this mount hides files removed while open (one directory each). */
export class HiddenNames {
  private next = 1;
  /** Hidden key → its path. */
  private readonly held = new Map<string, string>();

  /** A fresh hidden name beside `path`, remembered until `forget`. */
  hide(path: string, keyOfPath: (path: string) => string): { path: string; key: string } {
    const slash = path.lastIndexOf('/');
    const hiddenPath = `${path.slice(0, slash)}/.s3mount_hidden_${process.pid}_${this.next++}`;
    const key = keyOfPath(hiddenPath);
    this.held.set(key, hiddenPath);
    return { path: hiddenPath, key };
  }

  pathOf(key: string): string | undefined {
    return this.held.get(key);
  }

  forget(key: string): void {
    this.held.delete(key);
  }

  all(): Array<{ key: string; path: string }> {
    return [...this.held].map(([key, path]) => ({ key, path }));
  }
}
