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
