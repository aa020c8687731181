// HEADs sent ahead for the entries of a listing. A listing carries no user metadata, so the
// mode, owner, times and kind (file, link, directory) of each entry need a HEAD; programs that
// list and then stat in order (`ls -l`, `find`, `rsync`, `os.walk`) would otherwise wait for one
// HEAD after the other. A readdir asks for the first maxInFlight entries; stats that go through
// the entries in listing order ask for entries ahead of them, 8 at first, twice as many with
// each further stat in order, up to `window` (as the kernel's read-ahead grows); at most
// maxInFlight HEADs are in flight. Plain `ls` of a huge directory thus costs maxInFlight
// HEADs, and a stat of a single name in it one.
import type { DirListing, FsNode } from '../nodes.js';

export interface HeadAheadOptions {
  /** HEADs in flight at once, all directories together. */
  maxInFlight: number;
  /** Entries asked for ahead of the last one a program looked at. */
  window: number;
}

export const HEAD_AHEAD_DEFAULTS: HeadAheadOptions = { maxInFlight: 32, window: 256 };
// How far past the last entry asked about a stat still counts as going through them in order.
const SEQUENTIAL_GAP = 8;
// Entries asked for ahead of the first stats in order.
const FIRST_AHEAD = 8;

interface Order {
  names: string[];
  index: Map<string, number>;
  /** Entries before this index were queued (or known) already. */
  scheduled: number;
  /** Index of the entry last asked about (-1: none yet). */
  last: number;
  /** Entries asked for ahead of the last stat: grows while stats come in order. */
  ahead: number;
}

export class HeadAhead {
  private readonly orders = new WeakMap<DirListing, Order>();
  private queue: Array<{ node: FsNode; key: string }> = [];
  private next = 0;
  private inFlight = 0;

  constructor(
    /** The key whose HEAD would tell what `node` is, or undefined when that is known already. */
    private readonly wanted: (node: FsNode) => string | undefined,
    /**
     * What a HEAD of `key` would tell about `node`: from the caches when they remember it, else
     * a HEAD through the cache (joins one in flight, never fails).
     */
    private readonly head: (node: FsNode, key: string) => Promise<unknown>,
    private readonly options: HeadAheadOptions = HEAD_AHEAD_DEFAULTS,
  ) {}

  /** A program read the directory: its first entries may be asked about next. */
  listed(listing: DirListing): void {
    this.advance(listing, this.orderOf(listing), 0, this.options.maxInFlight);
  }

  /** A program asked about `name`: when it goes through the entries in order, the next ones follow. */
  asked(listing: DirListing, name: string): void {
    const order = this.orderOf(listing);
    const at = order.index.get(name);
    if (at === undefined) return;
    // In order: the first entry, or one a little after the last (the kernel runs a few at once),
    // or any later one up to those already sent ahead: the stats of entries whose answers went
    // into the FUSE binding's attribute cache never come here.
    const inOrder = at === 0 || (at > order.last && (at - order.last <= SEQUENTIAL_GAP || at <= order.scheduled));
    order.last = at;
    order.ahead = inOrder ? Math.min(this.options.window, Math.max(FIRST_AHEAD, order.ahead * 2)) : 0;
    // Keep at least half of it queued ahead; refill it whole.
    if (order.ahead > 0 && at + order.ahead / 2 >= order.scheduled) this.advance(listing, order, at, order.ahead);
  }

  private orderOf(listing: DirListing): Order {
    let order = this.orders.get(listing);
    if (!order) {
      const names = [...listing.entries.keys()];
      order = { names, index: new Map(names.map((name, i) => [name, i])), scheduled: 0, last: -1, ahead: 0 };
      this.orders.set(listing, order);
    }
    return order;
  }

  private advance(listing: DirListing, order: Order, from: number, count: number): void {
    const until = Math.min(order.names.length, from + count);
    for (let i = Math.max(from, order.scheduled); i < until; i++) {
      const node = listing.entries.get(order.names[i]);
      const key = node && this.wanted(node);
      if (node && key !== undefined) this.queue.push({ node, key });
    }
    order.scheduled = Math.max(order.scheduled, until);
    this.pump();
  }

  private pump(): void {
    while (this.inFlight < this.options.maxInFlight && this.next < this.queue.length) {
      const { node, key } = this.queue[this.next++];
      this.inFlight++;
      void this.head(node, key).finally(() => {
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
