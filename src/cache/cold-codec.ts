// How the memory tier keeps large entries that went unused for a while: as bytes (then
// zstd-compressed) instead of live objects, decoded on their next use. The cache does not know
// the shapes of the values it holds; the layer that does (the names layer, for listings)
// passes a codec in.
import type { CacheOp } from './types.js';

export interface ColdCodec {
  /**
   * Roughly the heap bytes `value` takes as live objects, or undefined when this codec does not
   * keep such values compressed. Called on every store of an entry: must be cheap.
   */
  weigh(op: CacheOp, value: object): number | undefined;
  /** `value` as bytes, exactly (decode gives back an equal value); undefined when it cannot. */
  encode(op: CacheOp, value: object): Buffer | undefined;
  /** The value `bytes` encode, or undefined when they are not a well-formed encoding. Never throws. */
  decode(op: CacheOp, bytes: Buffer): object | undefined;
}

/** When an entry of the memory tier goes cold. */
export interface ColdSettings {
  codec: ColdCodec;
  /** Unused for this long (ms), an entry is kept compressed. */
  afterMs: number;
  /** Only entries weighing at least this much (bytes, by the codec) are. */
  minBytes: number;
  /**
   * A sweep runs this often (ms) while the tier holds such entries; 0: only when asked. An entry
   * goes cold between `afterMs` and `afterMs + sweepMs` after its last use.
   */
  sweepMs: number;
}

// Chosen in docs/benchmarks.md ("Cold listings in memory"). 10 s unused (cold after 10 to 15 s,
// with a sweep every 5 s): longer than the gaps between the stats of an `ls -l`, a `find` or a
// `tar x`, so a listing in use is not decoded again, and short enough to matter under the
// default 60 s metadata TTL. Decoding a listing of 100,000 keys costs about a tenth of a
// second, so even one used just after each time it goes cold costs at most about 1% of a CPU.
export const COLD_AFTER_MS = 10_000;
// About 700 listing entries: smaller ones save less than a quarter MiB each, and the sweep
// would walk many more entries.
export const COLD_MIN_BYTES = 256 * 1024;

export function coldSettings(codec: ColdCodec): ColdSettings {
  return { codec, afterMs: COLD_AFTER_MS, minBytes: COLD_MIN_BYTES, sweepMs: COLD_AFTER_MS / 2 };
}
