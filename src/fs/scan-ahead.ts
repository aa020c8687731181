// Prefetch for programs that open a directory's files one after another in listing order
// (cat dir/*, cp -r, tar c, grep -r): once a few opens follow the listing, the first blocks
// of the next files are fetched in parallel, so a scan of small files stops paying one S3
// round trip per file in turn. Only directories whose listing is cached take part, so it
// costs no extra LIST.
import type { DirListing, FsNode } from './namespace.js';
import type { ReadTarget } from './reader.js';

/** Opens in listing order needed before prefetching starts. */
const STREAK_TO_START = 2;
/** Files whose first block is kept requested ahead of the one being opened. */
const FILES_AHEAD = 16;

interface DirectoryScan {
  /** Listing position of the last file opened. */
  position: number;
  streak: number;
  /** Files below this position were already prefetched. */
  prefetchedUntil: number;
}

interface OrderedListing {
  names: string[];
  positions: Map<string, number>;
}

export class ScanAhead {
  private readonly scans = new Map<string, DirectoryScan>();
  private readonly ordered = new WeakMap<DirListing, OrderedListing>();

  constructor(private readonly prefetchFirstBlock: (target: ReadTarget) => void) {}

  /** Called when `name` in the directory `dirPrefix` (whose listing is `listing`) is opened for reading. */
  opened(dirPrefix: string, listing: DirListing, name: string): void {
    const order = this.order(listing);
    const position = order.positions.get(name);
    if (position === undefined) return;
    const scan = this.scans.get(dirPrefix) ?? { position: -2, streak: 0, prefetchedUntil: 0 };
    scan.streak = position === scan.position + 1 ? scan.streak + 1 : 0;
    scan.position = position;
    if (scan.streak === 0) scan.prefetchedUntil = 0;
    this.scans.set(dirPrefix, scan);
    // Directories come and go; keep the bookkeeping small.
    if (this.scans.size > 1024) this.scans.delete(this.scans.keys().next().value as string);
    if (scan.streak < STREAK_TO_START) return;
    const until = Math.min(position + 1 + FILES_AHEAD, order.names.length);
    for (let next = Math.max(position + 1, scan.prefetchedUntil); next < until; next++) {
      const node = listing.entries.get(order.names[next]);
      if (node?.type === 'file' && node.size > 0) this.prefetchFirstBlock(targetOf(node));
    }
    scan.prefetchedUntil = Math.max(scan.prefetchedUntil, until);
  }

  private order(listing: DirListing): OrderedListing {
    let order = this.ordered.get(listing);
    if (!order) {
      const names = [...listing.entries.keys()];
      order = { names, positions: new Map(names.map((name, index) => [name, index])) };
      this.ordered.set(listing, order);
    }
    return order;
  }
}

function targetOf(node: FsNode & { type: 'file' }): ReadTarget {
  return { key: node.key, size: node.size, etag: node.etag };
}
