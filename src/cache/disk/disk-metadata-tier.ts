// Metadata on local disk, below the memory tier: HEAD answers (the per-version ones too),
// probes and assembled listings, each with the wall-clock time it stops being true, in one
// SQLite database in the mount's cache directory. SQLite gives what a file per entry would
// have to build by hand: atomic writes (a crash leaves the last transaction out, never half
// an entry), drops by key and by prefix through an index, an LRU order kept as a column, and
// a start that reads three numbers rather than 100,000 files. Every entry still carries the
// block tier's header (CRC-32 over identity and payload, codec, lengths), so a flipped or cut
// entry is caught, dropped and fetched again.
//
// Reads and drops run at once (better-sqlite3 is synchronous: a point lookup takes
// microseconds), so a get after a drop can never see what the drop removed. Stores wait in
// memory, where reads find them and a drop removes the matching ones, until stores pause: a
// burst of HEADs (a cold `ls -l`, `find`) is written after it, in slices, rather than on the
// event loop that answers it.
import crypto from 'node:crypto';
import { closeSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../log.js';
import { decodeEntry, encodeEntry } from '../entry-codec.js';
import type { LowerTier, StoredEntry } from '../lower-tier.js';
import type { CacheKey, TierStats } from '../types.js';
import { BlockCodec, type Compression } from './codec.js';
import { decodeDetached, encodeDetached } from './entry-format.js';
import { openSqlite, type SqliteDatabase, type SqliteStatement, sqliteCode } from './sqlite.js';

export interface DiskMetadataTierOptions {
  /** The mount's cache directory (locked by the caller); the database is a file in it. */
  directory: string;
  maxBytes: number;
  compression: Compression;
  /** Wall clock in ms since the epoch (tests inject one). */
  now?: () => number;
  /** How long stores must pause before they are written (tests lengthen it). */
  flushQuietMs?: number;
}

export const METADATA_FILE = 'metadata.sqlite';
// Bumped when the table or the payload changes: a database of another version is emptied.
const SCHEMA_VERSION = 2;
// Stores and recency updates are written once no store or hit came for this long (the end of
// a burst)...
const FLUSH_QUIET_MS = 100;
// ...or this long after the first of them waited, or once this many bytes wait.
const FLUSH_MAX_DELAY_MS = 5_000;
const FLUSH_BYTES = 4 * 1024 * 1024;
// Rows written per transaction of a flush; the event loop turns between slices, so that a
// request waits for one slice at most (a row takes tens of microseconds).
const FLUSH_SLICE = 256;
// Encoded entries waiting to be written, at most; beyond it a store is skipped.
const MAX_PENDING_BYTES = 32 * 1024 * 1024;
// An entry larger than this share of the bound is not kept (it would push out everything else).
const MAX_ENTRY_SHARE = 1 / 4;
// After a write fails for lack of space or rights, writes pause this long.
const BACKOFF_MS = 30_000;
// Least recently used entries read per eviction step.
const EVICT_BATCH = 64;
// Bytes a row takes besides its data and its key (twice: row and index): other columns, index entries.
const ROW_OVERHEAD = 48;
const CORRUPT = new Set(['SQLITE_CORRUPT', 'SQLITE_NOTADB']);
// A payload starts with its expiry (ms since the epoch, a float64), then the encoded value.
const EXPIRY_BYTES = 8;
// Rows of dropped entries \`present\` may hold before it is read again from the database.
const PRESENT_SLACK = 4096;

interface Pending {
  indexKey: string;
  text: string;
  expiresAt: number;
  bytes: number;
}

interface Totals {
  entries: number;
  storedBytes: number;
  logicalBytes: number;
}

interface SizeRow {
  stored_bytes: number;
  logical_bytes: number;
}

interface Statements {
  get: SqliteStatement;
  sizeOf: SqliteStatement;
  put: SqliteStatement;
  touch: SqliteStatement;
  remove: SqliteStatement;
  dropKey: SqliteStatement;
  dropRange: SqliteStatement;
  dropAll: SqliteStatement;
  purge: SqliteStatement;
  oldest: SqliteStatement;
  totals: SqliteStatement;
  ids: SqliteStatement;
}

export class DiskMetadataTier implements LowerTier {
  readonly name = 'metadata/disk';
  /** Milliseconds the database took to open and count what earlier mounts left. */
  readonly openMs: number;
  private readonly path: string;
  private readonly codec: BlockCodec;
  private readonly now: () => number;
  private readonly flushQuietMs: number;
  private db: SqliteDatabase | undefined;
  private statements: Statements | undefined;
  private readonly pending = new Map<string, Pending>();
  /** The identities waiting under each bucket and key, so that a drop by key finds them at once. */
  private readonly pendingByKey = new Map<string, Set<string>>();
  private readonly touched = new Set<string>();
  /**
   * The row of every entry in the database (and some dropped since): a key asked for that is
   * not here is a miss without a query, as every HEAD of a cold \`ls -l\` asks first.
   */
  private present = new Set<bigint>();
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  /** A flush goes on in slices (the next one is queued with setImmediate). */
  private slicing = false;
  /** When the first write still waiting, and the last store or hit, came (performance.now()). */
  private firstWaitingAt = 0;
  private lastActivityAt = 0;
  private seq = 0;
  private totals: Totals = { entries: 0, storedBytes: 0, logicalBytes: 0 };
  private maxBytes: number;
  private backoffUntil = 0;
  private closed = false;
  private readonly counts = { hits: 0, misses: 0, evictions: 0, expired: 0, errors: 0, skipped: 0 };

  /** Throws when the database cannot be opened at all (the caller goes on without the tier). */
  constructor(
    options: DiskMetadataTierOptions,
    private readonly log: Logger,
  ) {
    this.path = join(options.directory, METADATA_FILE);
    this.codec = new BlockCodec(options.compression);
    this.now = options.now ?? Date.now;
    this.flushQuietMs = options.flushQuietMs ?? FLUSH_QUIET_MS;
    this.maxBytes = options.maxBytes;
    const started = performance.now();
    this.open();
    this.openMs = performance.now() - started;
  }

  async get(key: CacheKey): Promise<StoredEntry | undefined> {
    return this.read(key);
  }

  mayHold(key: CacheKey): boolean {
    if (!this.statements || this.closed) return false;
    const id = idOf(key);
    return this.pending.has(id) || this.present.has(rowIdOf(id));
  }

  set(key: CacheKey, entry: StoredEntry): void {
    if (!this.db || this.closed) return;
    // The row this store replaces goes now, not at the flush (nor never, when the store is
    // skipped below): a crash before the flush must not leave it to answer after a restart,
    // as a listing from before this mount's own change would (a removed file listed, a new
    // one missing). A row is there only for a key fetched again or edited: a cold `ls -l`
    // pays nothing.
    const rowId = rowIdOf(idOf(key));
    if (this.present.has(rowId)) {
      this.drop((s) => s.remove.all(rowId) as SizeRow[]);
      // Not in the database any more: the next store of the key asks nothing.
      this.present.delete(rowId);
    }
    const now = this.now();
    if (entry.expiresAt <= now) return;
    if (now < this.backoffUntil) {
      this.counts.skipped++;
      return;
    }
    let text: string;
    try {
      text = encodeEntry(entry.value);
    } catch (error) {
      this.counts.errors++;
      this.log.warn({ err: error, key: key.key }, 'disk cache: a metadata entry could not be encoded');
      return;
    }
    const bytes = Buffer.byteLength(text);
    if (bytes > this.maxBytes * MAX_ENTRY_SHARE || this.pendingBytes + bytes > MAX_PENDING_BYTES) {
      this.counts.skipped++;
      return;
    }
    const id = idOf(key);
    this.unqueue(id);
    const indexKey = indexKeyOf(key.bucket, key.key);
    this.pending.set(id, { indexKey, text, expiresAt: entry.expiresAt, bytes });
    let ids = this.pendingByKey.get(indexKey);
    if (!ids) this.pendingByKey.set(indexKey, (ids = new Set()));
    ids.add(id);
    this.pendingBytes += bytes;
    this.lastActivityAt = performance.now();
    if (this.pendingBytes >= FLUSH_BYTES) this.startSlices();
    else this.schedule();
  }

  dropKey(bucket: string, key: string): void {
    const indexKey = indexKeyOf(bucket, key);
    for (const id of this.pendingByKey.get(indexKey) ?? []) this.unqueue(id);
    this.drop((s) => s.dropKey.all(Buffer.from(indexKey)) as SizeRow[]);
  }

  dropUnder(bucket: string, prefix: string): void {
    const indexPrefix = indexKeyOf(bucket, prefix);
    for (const [indexKey, ids] of this.pendingByKey) if (indexKey.startsWith(indexPrefix)) for (const id of ids) this.unqueue(id);
    const low = Buffer.from(indexPrefix);
    // 0xFF never occurs in UTF-8: every key starting with the prefix sorts below prefix + 0xFF.
    const high = Buffer.concat([low, Buffer.from([0xff])]);
    this.drop((s) => s.dropRange.all(low, high) as SizeRow[]);
  }

  clear(): void {
    this.pending.clear();
    this.pendingByKey.clear();
    this.pendingBytes = 0;
    this.touched.clear();
    this.drop((s) => {
      s.dropAll.run();
      return [];
    });
    this.totals = { entries: 0, storedBytes: 0, logicalBytes: 0 };
    this.present.clear();
    this.vacuum();
  }

  /** A new byte bound; shrinking evicts at once. */
  resize(maxBytes: number): void {
    this.maxBytes = maxBytes;
    this.write(() => this.evict());
    this.vacuum();
  }

  stats(): TierStats {
    return {
      tier: this.name,
      entries: this.totals.entries,
      bytes: this.totals.logicalBytes,
      storedBytes: this.totals.storedBytes,
      maxBytes: this.maxBytes,
      evictions: this.counts.evictions,
      expired: this.counts.expired,
      hits: this.counts.hits,
      misses: this.counts.misses,
      errors: this.counts.errors,
    };
  }

  /** Writes what waits and closes the database. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    try {
      this.db?.close();
    } catch (error) {
      this.log.warn({ err: error }, 'disk cache: closing the metadata database failed');
    }
    this.db = undefined;
    this.statements = undefined;
  }

  private read(key: CacheKey): StoredEntry | undefined {
    const id = idOf(key);
    const now = this.now();
    const waiting = this.pending.get(id);
    if (waiting && waiting.expiresAt > now) {
      const value = decodeEntry(waiting.text);
      if (value) {
        this.counts.hits++;
        return { value, expiresAt: waiting.expiresAt };
      }
    }
    const statements = this.statements;
    if (!statements || this.closed) {
      this.counts.misses++;
      return undefined;
    }
    const rowId = rowIdOf(id);
    if (!this.present.has(rowId)) {
      this.counts.misses++;
      return undefined;
    }
    let row: { expires_at: number; data: Buffer } | undefined;
    try {
      row = statements.get.get(rowId) as typeof row;
    } catch (error) {
      this.failed(error, 'read');
      this.counts.misses++;
      return undefined;
    }
    if (!row) {
      this.counts.misses++;
      return undefined;
    }
    if (row.expires_at <= now) {
      this.counts.misses++;
      this.counts.expired++;
      this.remove(id);
      return undefined;
    }
    const found = this.decodeRow(id, row.data);
    if (typeof found === 'string') {
      this.counts.misses++;
      this.counts.errors++;
      this.log.warn({ key: key.key, op: key.op, reason: found }, 'disk cache: dropped a metadata entry that cannot be trusted; it is fetched again');
      this.remove(id);
      return undefined;
    }
    if (found.expiresAt <= now) {
      this.counts.misses++;
      this.counts.expired++;
      this.remove(id);
      return undefined;
    }
    this.counts.hits++;
    this.touched.add(id);
    this.lastActivityAt = performance.now();
    this.schedule();
    return found;
  }

  /** The entry a row's data holds, checked, or the reason it cannot be trusted. */
  private decodeRow(id: string, data: Buffer): StoredEntry | string {
    const checked = decodeDetached(id, data);
    if (typeof checked === 'string') return checked;
    const payload = this.codec.decode(checked);
    if (!payload) return 'does not decompress';
    if (payload.length < EXPIRY_BYTES) return 'no expiry';
    const expiresAt = payload.readDoubleBE(0);
    if (!Number.isFinite(expiresAt)) return 'no expiry';
    const value = decodeEntry(payload.toString('utf8', EXPIRY_BYTES));
    if (!value) return 'does not decode';
    return { value, expiresAt };
  }

  private unqueue(id: string): void {
    const waiting = this.pending.get(id);
    if (!waiting) return;
    this.pending.delete(id);
    this.pendingBytes -= waiting.bytes;
    const ids = this.pendingByKey.get(waiting.indexKey);
    ids?.delete(id);
    if (ids?.size === 0) this.pendingByKey.delete(waiting.indexKey);
  }

  private schedule(): void {
    if (this.timer || this.slicing || this.closed) return;
    this.firstWaitingAt = performance.now();
    this.timer = setTimeout(() => this.quietOrNot(), this.flushQuietMs);
    this.timer.unref();
  }

  /** Flushes when stores have paused (or waited long enough), else waits for the pause. */
  private quietOrNot(): void {
    this.timer = undefined;
    if (this.closed) return;
    const now = performance.now();
    const quietFor = now - this.lastActivityAt;
    if (quietFor < this.flushQuietMs && now - this.firstWaitingAt < FLUSH_MAX_DELAY_MS) {
      this.timer = setTimeout(() => this.quietOrNot(), this.flushQuietMs - quietFor);
      this.timer.unref();
      return;
    }
    this.startSlices();
  }

  private startSlices(): void {
    if (this.slicing || this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.slicing = true;
    setImmediate(() => this.nextSlice());
  }

  private nextSlice(): void {
    this.slicing = false;
    if (this.closed) return;
    // Stores came again since the flush began (a burst resumed): back to waiting for its pause.
    const now = performance.now();
    if (now - this.lastActivityAt < this.flushQuietMs && this.pendingBytes < FLUSH_BYTES && now - this.firstWaitingAt < FLUSH_MAX_DELAY_MS) {
      this.schedule();
      return;
    }
    this.flush(FLUSH_SLICE);
    if (this.pending.size > 0 || this.touched.size > 0) {
      this.slicing = true;
      setImmediate(() => this.nextSlice());
    }
  }

  /**
   * Writes the stores that wait (the oldest `limit` of them, or all), and once none is left
   * the recency updates, in one transaction. What is not written yet stays where reads and
   * drops find it.
   */
  private flush(limit = Number.POSITIVE_INFINITY): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const pending: Array<[string, Pending]> = [];
    for (const entry of this.pending) {
      if (pending.length >= limit) break;
      pending.push(entry);
    }
    for (const [id] of pending) this.unqueue(id);
    const touched = this.pending.size === 0 ? [...this.touched] : [];
    if (this.pending.size === 0) this.touched.clear();
    if (pending.length === 0 && touched.length === 0) return;
    const now = this.now();
    this.write((s) => {
      for (const [id, waiting] of pending) {
        if (waiting.expiresAt > now) this.put(s, id, waiting);
      }
      for (const id of touched) s.touch.run(++this.seq, rowIdOf(id));
      this.evict();
    });
    // Drops and evictions leave their rows in \`present\`: read it again once they outnumber the rest.
    if (this.statements && this.present.size > 2 * this.totals.entries + PRESENT_SLACK) this.loadPresent();
  }

  private put(s: Statements, id: string, waiting: Pending): void {
    // The expiry inside the payload, under the checksum; the column beside it is a copy for queries.
    const payload = Buffer.allocUnsafe(EXPIRY_BYTES + waiting.bytes);
    payload.writeDoubleBE(waiting.expiresAt, 0);
    payload.write(waiting.text, EXPIRY_BYTES, 'utf8');
    const stored = this.codec.encode(payload);
    const data = encodeDetached(id, stored);
    const indexKey = Buffer.from(waiting.indexKey);
    const storedBytes = data.length + 2 * indexKey.length + ROW_OVERHEAD;
    const rowId = rowIdOf(id);
    // A row `present` does not hold is not in the database: no query (every store of a cold `ls -l`).
    const old = this.present.has(rowId) ? (s.sizeOf.get(rowId) as SizeRow | undefined) : undefined;
    if (old) this.forget([old]);
    s.put.run(rowId, indexKey, waiting.expiresAt, ++this.seq, storedBytes, payload.length, data);
    this.present.add(rowId);
    this.totals.entries++;
    this.totals.storedBytes += storedBytes;
    this.totals.logicalBytes += payload.length;
  }

  /** Least recently used entries out until the bound holds. Inside a transaction. */
  private evict(): void {
    const s = this.statements;
    while (s && this.totals.storedBytes > this.maxBytes) {
      // Row ids are 64-bit: read as BigInt, and so are the sizes beside them.
      const victims = s.oldest.all(EVICT_BATCH) as Array<{ id: bigint; stored_bytes: bigint; logical_bytes: bigint }>;
      if (victims.length === 0) break;
      for (const victim of victims) {
        if (this.totals.storedBytes <= this.maxBytes) break;
        s.remove.run(victim.id);
        this.forget([{ stored_bytes: Number(victim.stored_bytes), logical_bytes: Number(victim.logical_bytes) }]);
        this.counts.evictions++;
      }
    }
  }

  /**
   * Removes expired entries (one scan of the table: at start only; afterwards an expired entry
   * goes when asked for or by the bound, least recently used first).
   */
  private purge(now: number): void {
    const s = this.statements;
    if (!s) return;
    const gone = s.purge.all(now) as SizeRow[];
    this.forget(gone);
    this.counts.expired += gone.length;
  }

  private remove(id: string): void {
    this.drop((s) => s.remove.all(rowIdOf(id)) as SizeRow[]);
  }

  private forget(rows: SizeRow[]): void {
    for (const row of rows) {
      this.totals.entries--;
      this.totals.storedBytes -= row.stored_bytes;
      this.totals.logicalBytes -= row.logical_bytes;
    }
  }

  /**
   * Runs a removal at once. One that fails leaves entries that must not come back after a
   * restart, so the database is started anew.
   */
  private drop(removal: (s: Statements) => SizeRow[]): void {
    const s = this.statements;
    if (!s) return;
    try {
      this.forget(removal(s));
    } catch (error) {
      this.counts.errors++;
      this.log.warn({ err: error, file: this.path }, 'disk cache: a metadata drop failed; the metadata database is started anew');
      this.reset();
    }
  }

  /** Runs `work` in a transaction; a failure is counted, and a corrupt database started anew. */
  private write(work: (s: Statements) => void): void {
    const { db, statements } = this;
    if (!db || !statements) return;
    try {
      db.transaction(() => work(statements))();
    } catch (error) {
      this.failed(error, 'write');
      // Counts kept in memory may no longer match the rows: read them again.
      if (this.statements) this.countRows();
    }
  }

  private failed(error: unknown, what: 'read' | 'write'): void {
    this.counts.errors++;
    const code = sqliteCode(error) ?? (error as NodeJS.ErrnoException).code ?? '';
    if (CORRUPT.has(code)) {
      this.log.warn({ err: error, file: this.path }, 'disk cache: the metadata database is damaged; it is started anew');
      this.reset();
      return;
    }
    if (what === 'write') {
      const quiet = this.backoffUntil > 0 && this.now() - this.backoffUntil < BACKOFF_MS;
      this.backoffUntil = this.now() + BACKOFF_MS;
      if (!quiet)
        this.log.warn(
          { err: error, file: this.path },
          `disk cache: cannot write metadata (${code}); answers go on from memory and S3, writes pause for ${BACKOFF_MS / 1000} s`,
        );
      return;
    }
    this.log.warn({ err: error, file: this.path }, 'disk cache: a metadata read failed');
  }

  private vacuum(): void {
    try {
      this.db?.pragma('incremental_vacuum');
    } catch (error) {
      this.failed(error, 'write');
    }
  }

  /** Opens the database, starting it anew when it is damaged or of another version. */
  private open(): void {
    if (!openSqlite) throw new Error('better-sqlite3 is not installed (its native build failed)');
    try {
      this.openFile();
    } catch (error) {
      const code = sqliteCode(error);
      if (!code || !CORRUPT.has(code)) throw error;
      this.counts.errors++;
      this.log.warn({ err: error, file: this.path }, 'disk cache: the metadata database is damaged; it is started anew');
      this.closeQuietly();
      this.removeFiles();
      this.openFile();
    }
  }

  private openFile(): void {
    // Created 0600 before SQLite opens it: SQLite gives its write-ahead log the same mode.
    closeSync(openSync(this.path, 'a', 0o600));
    const db = (openSqlite as NonNullable<typeof openSqlite>)(this.path);
    this.db = db;
    // One process per cache directory (its lock file): no shared-memory index, no other reader.
    db.pragma('locking_mode = EXCLUSIVE');
    if (db.pragma('user_version', { simple: true }) !== SCHEMA_VERSION) this.createSchema(db);
    db.pragma('journal_mode = WAL');
    // A crash of the process loses nothing committed; a power loss may lose the last commits.
    db.pragma('synchronous = NORMAL');
    db.pragma('journal_size_limit = 4194304');
    this.statements = prepare(db);
    this.countRows();
    this.purge(this.now());
    this.loadPresent();
  }

  /** Reads the rows the database holds into \`present\` (drops leave theirs there until this runs again). */
  private loadPresent(): void {
    const present = new Set<bigint>();
    for (const id of (this.statements as Statements).ids.iterate()) present.add(id as bigint);
    this.present = present;
  }

  private createSchema(db: SqliteDatabase): void {
    db.exec('DROP TABLE IF EXISTS entries');
    // Only takes effect on an empty database: a file emptied by clear() then shrinks.
    db.pragma('auto_vacuum = INCREMENTAL');
    db.exec('VACUUM');
    db.exec(`
      CREATE TABLE entries (
        id INTEGER PRIMARY KEY,
        index_key BLOB NOT NULL,
        expires_at INTEGER NOT NULL,
        used INTEGER NOT NULL,
        stored_bytes INTEGER NOT NULL,
        logical_bytes INTEGER NOT NULL,
        data BLOB NOT NULL
      );
      CREATE INDEX entries_by_key ON entries(index_key);
      CREATE INDEX entries_by_use ON entries(used);
    `);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }

  private countRows(): void {
    const s = this.statements as Statements;
    const row = s.totals.get() as { entries: number; stored: number; logical: number; seq: number | null };
    this.totals = { entries: row.entries, storedBytes: row.stored, logicalBytes: row.logical };
    this.seq = Math.max(this.seq, row.seq ?? 0);
  }

  /** Starts with an empty database; without one, the tier answers nothing. */
  private reset(): void {
    this.closeQuietly();
    this.removeFiles();
    this.totals = { entries: 0, storedBytes: 0, logicalBytes: 0 };
    if (this.closed) return;
    try {
      this.openFile();
    } catch (error) {
      this.closeQuietly();
      this.log.error({ err: error, file: this.path }, 'disk cache: the metadata database cannot be opened again; metadata stays in memory');
    }
  }

  private closeQuietly(): void {
    try {
      this.db?.close();
    } catch {
      // Already unusable.
    }
    this.db = undefined;
    this.statements = undefined;
  }

  private removeFiles(): void {
    for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${this.path}${suffix}`, { force: true });
  }
}

function prepare(db: SqliteDatabase): Statements {
  return {
    get: db.prepare('SELECT expires_at, data FROM entries WHERE id = ?'),
    sizeOf: db.prepare('SELECT stored_bytes, logical_bytes FROM entries WHERE id = ?'),
    put: db.prepare('INSERT OR REPLACE INTO entries (id, index_key, expires_at, used, stored_bytes, logical_bytes, data) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    touch: db.prepare('UPDATE entries SET used = ? WHERE id = ?'),
    remove: db.prepare('DELETE FROM entries WHERE id = ? RETURNING stored_bytes, logical_bytes'),
    dropKey: db.prepare('DELETE FROM entries WHERE index_key = ? RETURNING stored_bytes, logical_bytes'),
    dropRange: db.prepare('DELETE FROM entries WHERE index_key >= ? AND index_key < ? RETURNING stored_bytes, logical_bytes'),
    dropAll: db.prepare('DELETE FROM entries'),
    purge: db.prepare('DELETE FROM entries WHERE expires_at <= ? RETURNING stored_bytes, logical_bytes'),
    oldest: db.prepare('SELECT id, stored_bytes, logical_bytes FROM entries ORDER BY used LIMIT ?').safeIntegers(),
    totals: db.prepare('SELECT count(*) AS entries, total(stored_bytes) AS stored, total(logical_bytes) AS logical, max(used) AS seq FROM entries'),
    ids: db.prepare('SELECT id FROM entries').pluck().safeIntegers(),
  };
}

/** One entry: operation, bucket, key and parameters (also what its checksum covers). */
function idOf(key: CacheKey): string {
  return `${key.op}\0${key.bucket}\0${key.key}\0${key.params ?? ''}`;
}

/**
 * The row of an entry: 64 bits of a hash of its identity (SQLite's rowid, so that no second
 * index of identities is kept). Two identities meeting on one row fail the checksum, which
 * covers the identity: a miss, never the other's answer.
 */
function rowIdOf(id: string): bigint {
  let rowId = recentRows.get(id);
  if (rowId === undefined) {
    rowId = sha1(id).readBigInt64BE(0);
    if (recentRows.size >= RECENT_ROWS) recentRows.clear();
    recentRows.set(id, rowId);
  }
  return rowId;
}

// The rows of the identities hashed last: a HEAD's version entry is looked for before the HEAD
// and written after it, a few hundred entries later in a cold `ls -l`; hashed once.
const RECENT_ROWS = 4096;
const recentRows = new Map<string, bigint>();

/** The database row that holds `key` (for tests that damage one on purpose). */
export function metadataRowOf(key: CacheKey): bigint {
  return rowIdOf(idOf(key));
}

// crypto.hash (Node 20.12 and later) hashes in one call, without a Hash object: a third of
// createHash's cost, and a cold `ls -l` hashes two identities per entry.
const sha1: (text: string) => Buffer =
  typeof crypto.hash === 'function'
    ? (text) => crypto.hash('sha1', text, 'buffer') as unknown as Buffer
    : (text) => crypto.createHash('sha1').update(text).digest();

/** What drops find an entry by: bucket and object key (or directory prefix). */
function indexKeyOf(bucket: string, key: string): string {
  return `${bucket}\0${key}`;
}
