// HEADs sent ahead for the entries of a listing. A listing carries no user metadata, so the
// mode, owner, times and kind (file, link, directory) of each entry need a HEAD; programs that
// list and then stat in order (`ls -l`, `find`, `rsync`, `os.walk`) would otherwise wait for one
// HEAD after the other. A readdir, or the stat of an entry, asks for the next WINDOW entries in
// listing order, at most MAX_IN_FLIGHT at a time; plain `ls` of a huge directory thus costs at
// most WINDOW HEADs, not one per entry.
import type { DirListing, FsNode } from '../nodes.js';

export interface HeadAheadOptions {
  /** HEADs in flight at once, all directories together. */
  maxInFlight: number;
  /** Entries asked for ahead of the last one a program looked at. */
  window: number;
}

export const HEAD_AHEAD_DEFAULTS: HeadAheadOptions = { maxInFlight: 32, window: 256 };

interface Order {
  names: string[];
  index: Map<string, number>;
  /** Entries before this index were queued (or known) already. */
  scheduled: number;
}

export class HeadAhead {
  private readonly orders = new WeakMap<DirListing, Order>();
  private queue: string[] = [];
  private next = 0;
  private inFlight = 0;

  constructor(
    /** The key whose HEAD would tell what `node` is, or undefined when that is known already. */
    private readonly wanted: (node: FsNode) => string | undefined,
    /** HEAD of a key through the cache (joins one in flight, never fails). */
    private readonly head: (key: string) => Promise<unknown>,
    private readonly options: HeadAheadOptions = HEAD_AHEAD_DEFAULTS,
  ) {}

  /** A program read the directory: its first entries will be asked about. */
  listed(listing: DirListing): void {
    this.advance(listing, this.orderOf(listing), 0);
  }

  /** A program asked about `name`: the entries after it will follow. Cheap when nothing is due. */
  asked(listing: DirListing, name: string): void {
    const order = this.orderOf(listing);
    const at = order.index.get(name);
    // Keep half a window queued ahead; refill a whole window at a time.
    if (at !== undefined && at + this.options.window / 2 >= order.scheduled) this.advance(listing, order, at);
  }

  private orderOf(listing: DirListing): Order {
    let order = this.orders.get(listing);
    if (!order) {
      const names = [...listing.entries.keys()];
      order = { names, index: new Map(names.map((name, i) => [name, i])), scheduled: 0 };
      this.orders.set(listing, order);
    }
    return order;
  }

  private advance(listing: DirListing, order: Order, from: number): void {
    const until = Math.min(order.names.length, from + this.options.window);
    for (let i = Math.max(from, order.scheduled); i < until; i++) {
      const node = listing.entries.get(order.names[i]);
      const key = node && this.wanted(node);
      if (key !== undefined) this.queue.push(key);
    }
    order.scheduled = Math.max(order.scheduled, until);
    this.pump();
  }

  private pump(): void {
    while (this.inFlight < this.options.maxInFlight && this.next < this.queue.length) {
      const key = this.queue[this.next++];
      this.inFlight++;
      void this.head(key).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
    if (this.next === this.queue.length && this.next > 0) {
      this.queue = [];
      this.next = 0;
    }
  }
}
