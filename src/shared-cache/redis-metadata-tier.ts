// The shared metadata tier: HEAD answers, probe pages and directory listings kept in Redis for
// their TTL, so that N mounts of a bucket make one LIST per directory per TTL instead of N.
//
// Layout: one hash per object key or directory prefix (keys.ts), one field per entry (op and
// parameters), each value "s3mount/1 BUCKET EXPIRES_AT\n" + the entry codec's JSON. The hash
// lives as long as its longest entry (PEXPIRE only ever lengthened), each entry is checked
// against its own expiry, and nothing lives past SHARED_TIER_MAX_TTL_MS.
//
// Trust: a value is used only if its header names this bucket, it has not expired, it decodes,
// and the names layer finds it well formed for its key (`validate`); anything else is a miss,
// counted as rejected.
//
// Coherence: dropping a key deletes its hash on the same connection that later reads it, so a
// read issued after a drop never sees what the drop removed; a drop that could not be sent is
// kept and sent on reconnect, and until then the tier answers nothing. A mount writes only
// while its invalidation bus is in step, and every mount applying a change drops the Redis
// entries too: a listing loaded before another mount's change and written after that mount
// dropped the key is dropped again when the writer applies the change (or, if the change
// arrived while the load was on its way, never written: the cache does not keep a load that an
// invalidation overtook).
import { decodeEntry, encodeEntry } from '../cache/entry-codec.js';
import type { LowerTier, StoredEntry } from '../cache/lower-tier.js';
import type { CacheKey, TierStats } from '../cache/types.js';
import type { Logger } from '../log.js';
import { SHARED_TIER_MAX_ENTRY_BYTES, SHARED_TIER_MAX_PENDING_DROPS, SHARED_TIER_MAX_TTL_MS } from '../tuning.js';
import type { RedisConnection } from './connection.js';
import { entryKey, entryPattern } from './keys.js';
import type { SharedTierStats } from './types.js';

const HEADER = 's3mount/1';
const SCAN_COUNT = 1000;

// Sets the field and lengthens the hash's expiry to the entry's when that is longer.
const SET_SCRIPT = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 1`;

type Drop = { kind: 'key'; key: string } | { kind: 'under'; prefix: string };

export interface RedisTierOptions {
  bucket: string;
  /** The mount's root prefix: entries outside it are neither asked for nor trusted. */
  root: string;
  /** Whether a decoded value is well formed for its key (src/fs/names/metadata-shapes.ts). */
  validate(key: CacheKey, value: unknown): boolean;
  /** Whether this mount may write: its invalidation bus is in step. */
  canStore(): boolean;
  /** What the server said at its last look, for stats. */
  server?(): { keys: number; usedMemoryBytes: number; maxMemoryBytes: number; evictedKeys: number } | undefined;
  /** Wall clock (ms since the epoch; tests inject one). */
  now?: () => number;
}

/** The field of an entry within its key's hash. */
function fieldOf(key: CacheKey): string {
  return key.params === undefined ? key.op : `${key.op}=${key.params}`;
}

export class RedisMetadataTier implements LowerTier {
  readonly name = 'metadata/redis';
  private readonly now: () => number;
  private pendingDrops: Drop[] = [];
  private retrying = false;
  /** Prefixes being dropped by SCAN: lookups under them miss until it is done. */
  private readonly draining = new Map<string, number>();
  private readonly counts: SharedTierStats = {
    hits: 0,
    misses: 0,
    rejected: 0,
    unavailable: 0,
    stored: 0,
    tooLarge: 0,
    skipped: 0,
    drops: 0,
    pendingDrops: 0,
    errors: 0,
  };
  private rejectionLogged = false;

  constructor(
    private readonly connection: RedisConnection,
    private readonly log: Logger,
    private readonly options: RedisTierOptions,
  ) {
    this.now = options.now ?? Date.now;
    connection.client.on('ready', () => void this.retryDrops());
  }

  async get(key: CacheKey): Promise<StoredEntry | undefined> {
    if (!this.ours(key)) return undefined;
    if (!this.answering() || this.isDraining(key.key)) {
      this.counts.unavailable++;
      return undefined;
    }
    let text: string | null;
    try {
      text = await this.connection.client.hget(entryKey(key.bucket, key.key), fieldOf(key));
    } catch {
      this.counts.errors++;
      return undefined;
    }
    if (text === null) {
      this.counts.misses++;
      return undefined;
    }
    const entry = this.decode(key, text);
    if (!entry) {
      this.counts.rejected++;
      if (!this.rejectionLogged) {
        this.rejectionLogged = true;
        this.log.warn(
          { key: key.key, op: key.op },
          'shared cache: a metadata entry in Redis was malformed or foreign and was not used (further ones are counted in cache stats)',
        );
      }
      return undefined;
    }
    if (entry.expiresAt <= this.now()) {
      this.counts.misses++;
      return undefined;
    }
    this.counts.hits++;
    return entry;
  }

  set(key: CacheKey, entry: StoredEntry): void {
    if (!this.ours(key)) return;
    if (!this.answering() || !this.options.canStore() || this.isDraining(key.key)) {
      this.counts.skipped++;
      return;
    }
    const ttl = Math.min(Math.round(entry.expiresAt - this.now()), SHARED_TIER_MAX_TTL_MS);
    if (ttl <= 0) return;
    let text: string;
    try {
      text = `${HEADER} ${key.bucket} ${Math.round(entry.expiresAt)}\n${encodeEntry(entry.value)}`;
    } catch {
      this.counts.errors++;
      return;
    }
    if (Buffer.byteLength(text) > SHARED_TIER_MAX_ENTRY_BYTES) {
      this.counts.tooLarge++;
      return;
    }
    this.connection.client.eval(SET_SCRIPT, 1, entryKey(key.bucket, key.key), fieldOf(key), text, ttl).then(
      () => this.counts.stored++,
      () => this.counts.errors++,
    );
  }

  dropKey(bucket: string, key: string): void {
    if (bucket !== this.options.bucket) return;
    this.drop({ kind: 'key', key });
  }

  dropUnder(bucket: string, prefix: string): void {
    if (bucket !== this.options.bucket) return;
    this.drop({ kind: 'under', prefix });
  }

  clear(): void {
    this.drop({ kind: 'under', prefix: this.options.root });
  }

  stats(): TierStats {
    const server = this.options.server?.();
    const c = this.counts;
    return {
      tier: this.name,
      entries: server?.keys ?? 0,
      bytes: server?.usedMemoryBytes ?? 0,
      ...(server?.maxMemoryBytes ? { maxBytes: server.maxMemoryBytes } : {}),
      evictions: server?.evictedKeys ?? 0,
      expired: 0,
      hits: c.hits,
      misses: c.misses + c.unavailable,
      errors: c.rejected + c.errors,
    };
  }

  sharedStats(): SharedTierStats {
    return { ...this.counts, pendingDrops: this.pendingDrops.length };
  }

  async close(): Promise<void> {
    // The connection is the shared cache's to close.
  }

  private ours(key: CacheKey): boolean {
    return key.bucket === this.options.bucket && key.key.startsWith(this.options.root);
  }

  /** Connected, and no drop waits to be sent: what Redis holds may be read. */
  private answering(): boolean {
    return this.connection.ready && this.pendingDrops.length === 0;
  }

  private isDraining(key: string): boolean {
    for (const prefix of this.draining.keys()) if (key.startsWith(prefix)) return true;
    return false;
  }

  private decode(key: CacheKey, text: string): StoredEntry | undefined {
    const newline = text.indexOf('\n');
    if (newline < 0) return undefined;
    const [header, bucket, expires, ...rest] = text.slice(0, newline).split(' ');
    const expiresAt = Number(expires);
    if (header !== HEADER || bucket !== key.bucket || rest.length > 0 || !Number.isSafeInteger(expiresAt)) return undefined;
    if (expiresAt > this.now() + SHARED_TIER_MAX_TTL_MS) return undefined;
    const value = decodeEntry(text.slice(newline + 1));
    if (value === undefined || !this.options.validate(key, value)) return undefined;
    return { value, expiresAt };
  }

  private drop(drop: Drop): void {
    if (this.pendingDrops.length > 0 || !this.connection.ready) {
      this.keepDrop(drop);
      return;
    }
    this.send(drop).catch(() => {
      this.counts.errors++;
      this.keepDrop(drop);
    });
  }

  private async send(drop: Drop): Promise<void> {
    const client = this.connection.client;
    if (drop.kind === 'key') {
      await client.unlink(entryKey(this.options.bucket, drop.key));
      this.counts.drops++;
      return;
    }
    const { prefix } = drop;
    this.draining.set(prefix, (this.draining.get(prefix) ?? 0) + 1);
    try {
      const pattern = entryPattern(this.options.bucket, prefix);
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
        if (keys.length > 0) await client.unlink(...keys);
        cursor = next;
      } while (cursor !== '0');
      this.counts.drops++;
    } finally {
      const left = (this.draining.get(prefix) ?? 1) - 1;
      if (left === 0) this.draining.delete(prefix);
      else this.draining.set(prefix, left);
    }
  }

  private keepDrop(drop: Drop): void {
    if (this.pendingDrops.length < SHARED_TIER_MAX_PENDING_DROPS) this.pendingDrops.push(drop);
    else this.pendingDrops = [{ kind: 'under', prefix: this.options.root }];
    void this.retryDrops();
  }

  /** Sends the drops that waited, before anything is read again. */
  private async retryDrops(): Promise<void> {
    if (this.retrying || !this.connection.ready) return;
    this.retrying = true;
    try {
      while (this.pendingDrops.length > 0 && this.connection.ready) {
        await this.send(this.pendingDrops[0]);
        this.pendingDrops.shift();
      }
    } catch {
      this.counts.errors++;
      if (this.connection.ready) setTimeout(() => void this.retryDrops(), 1000).unref();
    } finally {
      this.retrying = false;
    }
  }
}
