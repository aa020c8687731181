// Prefetch for programs that open a directory's files one after another in listing order
// (cat dir/*, cp -r, tar c, grep -r): once a few opens follow the listing, the first blocks
// of the next files are fetched in parallel, so a scan of small files stops paying one S3
// round trip per file in turn. Only directories whose listing is cached take part, so it
// costs no extra LIST.
import type { DirListing, FsNode, ReadTarget } from '../nodes.js';

/** Opens in listing order needed before prefetching starts. */
const STREAK_TO_START = 2;
/**
 * Files whose first block is kept requested ahead of the one being opened, and the most bytes
 * that may be in those blocks: small files get many ahead (64 rather than 16 took `cat` of
 * 1,000 files of 4 KiB from 1.22 s to 1.06 s, cold), large ones a few.
 */
const FILES_AHEAD = 64;
const BYTES_AHEAD = 16 * 1024 * 1024;

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

  private readonly filesAhead: number;
  private readonly bytesAhead: number;

  constructor(
    private readonly prefetchFirstBlock: (target: ReadTarget) => void,
    /** Bytes a first block holds at most (the reader's block size). */
    private readonly blockSize: number,
    limits: { filesAhead?: number; bytesAhead?: number } = {},
  ) {
    this.filesAhead = limits.filesAhead ?? FILES_AHEAD;
    this.bytesAhead = limits.bytesAhead ?? BYTES_AHEAD;
  }

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
    const last = Math.min(position + this.filesAhead, order.names.length - 1);
    let next = position + 1;
    for (let bytes = 0; next <= last && bytes < this.bytesAhead; next++) {
      const node = listing.entries.get(order.names[next]);
      if (node?.type !== 'file' || node.size === 0) continue;
      bytes += Math.min(node.size, this.blockSize);
      if (next >= scan.prefetchedUntil) this.prefetchFirstBlock(targetOf(node));
    }
    scan.prefetchedUntil = Math.max(scan.prefetchedUntil, next);
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
