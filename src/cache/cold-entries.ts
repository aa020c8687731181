// The large entries of a memory tier that may go cold: which they are, when they were last
// used, and each one's compressed form while it is cold. An entry goes cold only on a sweep
// (compressIdle) and comes back on its next use; either step that fails leaves the tier true:
// an entry that cannot be encoded stays live, one that cannot be decoded is dropped.
import type { Logger } from '../log.js';
import type { ColdSettings } from './cold-codec.js';
import { BlockCodec } from './disk/codec.js';
import type { StoredEntry } from './disk/entry-format.js';
import type { CacheOp, TierStats } from './types.js';

/** What the memory tier keeps under a cache key. */
export interface Entry {
  /** The live value; undefined while the entry is cold. */
  value: object | undefined;
  op: CacheOp;
  indexKey: string;
  /** Estimated heap bytes of the live value: set only on entries large enough to go cold. */
  weight?: number;
  /** When it was last seen used: stored, or found used by a sweep. */
  usedAt?: number;
  /** Used since the last sweep (a flag, so that a lookup does not read the clock). */
  used?: boolean;
  /** The compressed value while the entry is cold. */
  cold?: StoredEntry;
}

export type ColdStats = Required<Pick<TierStats, 'compressedEntries' | 'compressedBytes' | 'savedBytes' | 'decompressions' | 'errors'>>;

export class ColdEntries {
  private readonly candidates = new Map<string, Entry>();
  private readonly zstd = new BlockCodec('zstd');
  private timer?: NodeJS.Timeout;
  private compressedEntries = 0;
  private compressedBytes = 0;
  private savedBytes = 0;
  private decompressions = 0;
  private errors = 0;

  constructor(
    private readonly settings: ColdSettings,
    private readonly now: () => number,
    /** Whether `entry` is still what the tier holds, fresh, under `cacheKey`. */
    private readonly isCurrent: (cacheKey: string, entry: Entry) => boolean,
    private readonly log?: Logger,
  ) {}

  /** A new entry of the tier: watched when large enough to go cold. */
  watch(cacheKey: string, entry: Entry): void {
    if (entry.value === undefined) return;
    const weight = this.settings.codec.weigh(entry.op, entry.value);
    if (weight === undefined || weight < this.settings.minBytes) return;
    entry.weight = weight;
    entry.usedAt = this.now();
    this.candidates.set(cacheKey, entry);
    if (!this.timer && this.settings.sweepMs > 0) {
      this.timer = setInterval(() => this.compressIdle(), this.settings.sweepMs);
      this.timer.unref();
    }
  }

  /** The live value of a watched entry, decoded if it was cold; undefined when it does not decode (drop it). */
  use(cacheKey: string, entry: Entry): object | undefined {
    entry.used = true;
    if (entry.value !== undefined) return entry.value;
    const stored = entry.cold;
    if (!stored) return undefined;
    const started = performance.now();
    let value: object | undefined;
    let failure: unknown;
    try {
      const bytes = this.zstd.decode(stored);
      value = bytes && this.settings.codec.decode(entry.op, bytes);
    } catch (error) {
      failure = error;
    }
    this.uncount(entry);
    entry.cold = undefined;
    if (value === undefined) {
      this.errors++;
      this.log?.warn({ err: failure, entry: printable(cacheKey) }, 'cold cache entry did not decode; dropped');
      return undefined;
    }
    this.decompressions++;
    entry.value = value;
    this.log?.debug({ entry: printable(cacheKey), ms: +(performance.now() - started).toFixed(2) }, 'cold cache entry decoded');
    return value;
  }

  /** An entry leaves the tier (or is replaced). */
  forget(cacheKey: string, entry: Entry): void {
    if (this.candidates.get(cacheKey) === entry) this.candidates.delete(cacheKey);
    if (entry.cold) {
      this.uncount(entry);
      entry.cold = undefined;
    }
  }

  /**
   * Compresses every watched entry unused for `afterMs`; returns how many. An entry used since
   * the last sweep counts as used now: so one goes cold between `afterMs` and `afterMs` plus
   * the time between sweeps after its last use, never sooner.
   */
  compressIdle(): number {
    const now = this.now();
    const started = performance.now();
    let compressed = 0;
    for (const [cacheKey, entry] of this.candidates) {
      if (!this.isCurrent(cacheKey, entry)) {
        this.candidates.delete(cacheKey);
        continue;
      }
      if (entry.used) {
        entry.used = false;
        entry.usedAt = now;
      }
      if (entry.value === undefined || now - (entry.usedAt ?? now) < this.settings.afterMs) continue;
      if (this.compress(entry)) compressed++;
      // Not worth it or not encodable: it stays live, and is not tried again.
      else this.candidates.delete(cacheKey);
    }
    if (this.candidates.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
    if (compressed > 0) {
      const ms = +(performance.now() - started).toFixed(2);
      this.log?.debug({ compressed, cold: this.compressedEntries, bytes: this.compressedBytes, saved: this.savedBytes, ms }, 'cold cache entries compressed');
    }
    return compressed;
  }

  clear(): void {
    this.candidates.clear();
    this.compressedEntries = 0;
    this.compressedBytes = 0;
    this.savedBytes = 0;
  }

  stats(): ColdStats {
    const { compressedEntries, compressedBytes, savedBytes, decompressions, errors } = this;
    return { compressedEntries, compressedBytes, savedBytes, decompressions, errors };
  }

  private compress(entry: Entry): boolean {
    const value = entry.value;
    const weight = entry.weight;
    if (value === undefined || weight === undefined) return false;
    let stored: StoredEntry | undefined;
    try {
      const bytes = this.settings.codec.encode(entry.op, value);
      stored = bytes && this.zstd.encode(bytes);
    } catch (error) {
      this.errors++;
      this.log?.warn({ err: error }, 'cold cache entry did not encode; kept as it is');
      return false;
    }
    if (!stored || stored.payload.length >= weight / 2) return false;
    entry.cold = stored;
    entry.value = undefined;
    this.compressedEntries++;
    this.compressedBytes += stored.payload.length;
    this.savedBytes += weight - stored.payload.length;
    return true;
  }

  private uncount(entry: Entry): void {
    if (!entry.cold || entry.weight === undefined) return;
    this.compressedEntries--;
    this.compressedBytes -= entry.cold.payload.length;
    this.savedBytes -= entry.weight - entry.cold.payload.length;
  }
}

/** A cache key as logs show it (its parts are separated by NULs). */
function printable(cacheKey: string): string {
  return cacheKey.replaceAll('\u0000', ' ');
}
