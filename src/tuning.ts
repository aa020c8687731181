// Tuning constants of a mount in one place, with why each is what it is. Measured figures
// behind them are in docs/benchmarks.md.

/** Each S3 attempt must answer within this (per attempt, not per call). */
export const REQUEST_TIMEOUT_MS = 20_000;
/** Room for the retry strategy's backoff between attempts. */
export const RETRY_BACKOFF_MS = 2_000;
/** Connecting takes at most this, within the attempt's timeout. */
export const MAX_CONNECT_TIMEOUT_MS = 10_000;

/** The longest one S3 call may take, retries and backoff included. */
export function callDeadlineMs(maxAttempts: number, requestTimeoutMs = REQUEST_TIMEOUT_MS): number {
  return maxAttempts * requestTimeoutMs + (maxAttempts - 1) * RETRY_BACKOFF_MS;
}

/**
 * How long FUSE waits for an operation before answering ETIMEDOUT itself. A lookup makes at
 * most two S3 calls one after the other, and FUSE must never give up before our own deadlines
 * answer EIO.
 */
export function fuseOperationTimeoutMs(maxAttempts: number): number {
  return 2 * callDeadlineMs(maxAttempts) + 10_000;
}

/**
 * Blocks prefetched ahead of a sequential reader, and the largest GET of a prefetch in blocks:
 * several multi-block GETs in flight keep a cold read from waiting on S3.
 */
export const MAX_PREFETCH_BLOCKS = 32;
export const MAX_REQUEST_BLOCKS = 4;
/** A small read away from the sequence fetches pieces of this size (FUSE's largest request), not a whole block. */
export const PIECE_SIZE = 128 * 1024;
/**
 * Objects larger than this share of the content cache stream through reusable slabs when read
 * sequentially, and the slabs of all such reads together stay within MAX_STREAM_BYTES.
 */
export const STREAM_ABOVE_CACHE_SHARE = 1 / 4;
export const MAX_STREAM_BYTES = 64 * 1024 * 1024;
/**
 * Uploads of whole files in flight at once, all files together: files closed in parallel (cp -r
 * with jobs, tar, rsync, git checkout) upload in parallel, within a bound on memory (a single
 * PUT holds its body, up to the part size) and on the sockets they take from reads.
 */
export const UPLOADS_IN_FLIGHT = 16;
/** Blocks are keyed by ETag and never go stale: only the byte bound pushes them out. */
export const BLOCK_TTL_MS = 24 * 3600 * 1000;
// Native reads (src/fs/read/native-blocks.ts): blocks after a sequential read's own that are
// registered with it, so that the kernel's read-ahead (1 MiB) finds them in the binding.
export const NATIVE_READS_AHEAD_BLOCKS = 2;
// Block files the binding holds open for native reads, at most (one descriptor each).
export const NATIVE_READS_MAX_BLOCKS = 4096;

/**
 * The shared cache on Redis (--shared-cache). The invalidation stream of a bucket keeps about
 * this many entries (XADD MAXLEN ~): a mount that was cut off for fewer changes than that
 * catches up from its last id, one cut off longer drops its metadata. An entry takes about 150
 * bytes, so the stream stays under 20 MB.
 */
export const BUS_STREAM_MAX_ENTRIES = 100_000;
/** A reader's XREAD waits this long for entries, then asks again. */
export const BUS_BLOCK_MS = 5_000;
/** Entries applied per XREAD. */
export const BUS_READ_BATCH = 1_000;
/** Changes kept while they cannot be published; past this, one change of the mount's whole root replaces them. */
export const BUS_MAX_PENDING = 10_000;
/** How long a mount waits for Redis when it starts before going on with TTLs alone. */
export const SHARED_CACHE_START_WAIT_MS = 3_000;
/** Reconnects back off from this to SHARED_CACHE_MAX_BACKOFF_MS, doubling. */
export const SHARED_CACHE_MIN_BACKOFF_MS = 100;
export const SHARED_CACHE_MAX_BACKOFF_MS = 5_000;
/** A connection whose server sends nothing for this long while a command waits is dropped and made again. */
export const SHARED_CACHE_SOCKET_TIMEOUT_MS = 3_000;
/** Metadata entries larger than this (encoded) are not shared: a listing of about 30,000 names. */
export const SHARED_TIER_MAX_ENTRY_BYTES = 4 * 1024 * 1024;
/** No shared metadata entry lives longer than this, whatever its TTL. */
export const SHARED_TIER_MAX_TTL_MS = 24 * 3600 * 1000;
/** Drops that could not be sent and wait for the connection; past this, the mount's whole root is dropped instead. */
export const SHARED_TIER_MAX_PENDING_DROPS = 10_000;
