// Blocks on local disk, below the memory tier: one file per block, under a directory per
// object key, so that invalidating a key is one directory removal. The index of what is on
// disk lives in memory, in least-recently-used order; file mtimes carry that order across
// restarts. Writes go to a temporary name and are renamed into place, so a file is whole or
// absent; a checksum over identity and payload catches what the disk or a person changed.
import { createHash } from 'node:crypto';
import { close as closeFd, fstat, open as openFd, read as readFd } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from '../../log.js';
import type { BlockId } from '../block-cache.js';
import type { BlockTier, PinnedBlock } from '../block-tier.js';
import type { TierStats } from '../types.js';
import { BlockCodec, type Compression } from './codec.js';
import { checkEntry, encodeHead, headLength } from './entry-format.js';

export interface DiskBlockTierOptions {
  /** This mount's cache directory (locked by the caller); blocks go under `blocks/`. */
  directory: string;
  maxBytes: number;
  compression: Compression;
  /** Injected clock (ms), for tests. */
  now?: () => number;
}

interface DiskEntry {
  objectHash: string;
  /** File name within the object's directory. */
  file: string;
  storedBytes: number;
  logicalBytes: number;
  touchedMs: number;
}

interface ScannedBlock {
  rel: string;
  entry: DiskEntry;
  indexKey: string;
  mtimeMs: number;
}

interface DiskObject {
  /** bucket + "\0" + key */
  indexKey: string;
  /** Index keys (see relOf) of this object's blocks. */
  blocks: Set<string>;
}

// A file touched less than this long ago is not touched again (one utimes per minute at most).
const TOUCH_EVERY_MS = 60_000;
// After a write fails for lack of space or rights, writes pause this long.
const BACKOFF_MS = 30_000;
// Copies of blocks waiting to be written, at most; beyond it a write is skipped.
const MAX_PENDING_BYTES = 64 * 1024 * 1024;
// Object directories read at once while indexing at start.
const SCAN_PARALLEL = 16;
const SPACE_ERRORS = new Set(['ENOSPC', 'EDQUOT', 'EACCES', 'EPERM', 'EROFS']);
// Raw descriptors for pinned blocks: a FileHandle would close its descriptor when collected,
// while the FUSE binding may still be reading it.
const openRaw = promisify(openFd);
const fstatRaw = promisify(fstat);
const readRaw = promisify(readFd);
const closeRaw = promisify(closeFd);

export class DiskBlockTier implements BlockTier {
  readonly name = 'blocks/disk';
  /** Ready once the blocks left by earlier mounts are indexed. */
  readonly scanned: Promise<void>;
  private readonly blocksDir: string;
  private readonly codec: BlockCodec;
  private readonly entries = new Map<string, DiskEntry>();
  private readonly objects = new Map<string, DiskObject>();
  private readonly knownDirs = new Set<string>();
  private readonly writes = new Set<Promise<void>>();
  private maxBytes: number;
  private storedBytes = 0;
  private logicalBytes = 0;
  private pendingBytes = 0;
  /** Object directories being removed, by path. */
  private readonly removals = new Map<string, Promise<void>>();
  /** Objects dropped so far: a store that meets ENOENT after a drop lost its directory to it. */
  private dropCount = 0;
  private backoffUntil = 0;
  private generation = 0;
  /** Objects whose blocks were indexed ahead of the scan because a read asked (see ready). */
  private readonly scannedFirst = new Map<string, Promise<void>>();
  /** Invalidations while the scan runs: what it finds under these is removed, not indexed. */
  private scanning = true;
  private readonly invalidatedDuringScan: string[] = [];
  private readonly counts = { hits: 0, misses: 0, evictions: 0, errors: 0, skipped: 0 };
  private readonly dropListeners = new Set<(token: string | undefined) => void>();
  private readonly now: () => number;

  constructor(
    options: DiskBlockTierOptions,
    private readonly log: Logger,
  ) {
    this.blocksDir = join(options.directory, 'blocks');
    this.codec = new BlockCodec(options.compression);
    this.maxBytes = options.maxBytes;
    this.now = options.now ?? Date.now;
    this.scanned = this.scan().catch((error: unknown) => {
      this.counts.errors++;
      this.log.warn({ err: error, directory: this.blocksDir }, 'disk cache: could not read what earlier mounts stored; starting from what this mount stores');
    });
  }

  ready(bucket: string, key: string): Promise<void> | undefined {
    if (!this.scanning) return undefined;
    const objectHash = objectHashOf(bucket, key);
    let scan = this.scannedFirst.get(objectHash);
    if (!scan) {
      const generation = this.generation;
      scan = this.scanObject(join(this.blocksDir, objectHash.slice(0, 2), objectHash), objectHash)
        .then((found) => {
          if (!this.scanning || generation !== this.generation) return;
          for (const { rel, entry, indexKey } of found) if (!this.invalidatedWhileScanning(indexKey)) this.add(rel, entry, indexKey);
        })
        .catch(() => undefined);
      this.scannedFirst.set(objectHash, scan);
    }
    return scan;
  }

  has(id: BlockId): boolean {
    return this.entries.has(relOf(id));
  }

  /** Whether the tier holds `id`, counting a miss when not. */
  probe(id: BlockId): boolean {
    if (this.has(id)) return true;
    this.counts.misses++;
    return false;
  }

  async read(id: BlockId, into?: Buffer): Promise<Buffer | undefined> {
    const rel = relOf(id);
    const entry = this.entries.get(rel);
    if (!entry) {
      this.counts.misses++;
      return undefined;
    }
    this.touch(rel, entry);
    const identity = identityOf(id);
    let checked: ReturnType<typeof checkEntry>;
    try {
      checked = await this.readEntry(this.pathOf(entry), identity, into);
    } catch (error) {
      // A block evicted or invalidated meanwhile is gone, not broken (as in pin and readPinned).
      if (this.entries.get(rel) === entry) this.dropBlock(rel, 'unreadable', error);
      else this.counts.misses++;
      return undefined;
    }
    const bytes = typeof checked === 'string' ? undefined : this.codec.decode(checked);
    if (!bytes) {
      this.dropBlock(rel, typeof checked === 'string' ? checked : 'does not decompress');
      return undefined;
    }
    this.counts.hits++;
    if (!into || (bytes.buffer === into.buffer && bytes.byteOffset === into.byteOffset)) return bytes;
    bytes.copy(into);
    return into.subarray(0, bytes.length);
  }

  /**
   * A file's entry, checked. A raw payload is read straight into `into` when it fits, so a
   * block read from disk into a slab is not copied once more.
   */
  private async readEntry(path: string, identity: string, into?: Buffer): Promise<ReturnType<typeof checkEntry>> {
    const handle = await open(path, 'r');
    try {
      const { size } = await handle.stat();
      const head = Buffer.allocUnsafe(Math.min(size, headLength(identity)));
      await handle.read(head, 0, head.length, 0);
      const payloadLength = Math.max(0, size - head.length);
      const raw = head.length >= 6 && head.readUInt8(5) === 0;
      const payload = raw && into && into.length >= payloadLength ? into.subarray(0, payloadLength) : Buffer.allocUnsafe(payloadLength);
      const { bytesRead } = await handle.read(payload, 0, payloadLength, head.length);
      return checkEntry(identity, head, payload.subarray(0, bytesRead), size);
    } finally {
      await handle.close();
    }
  }

  async pin(id: BlockId): Promise<PinnedBlock | undefined> {
    const rel = relOf(id);
    const entry = this.entries.get(rel);
    if (!entry || entry.storedBytes - headLength(identityOf(id)) !== entry.logicalBytes) return undefined;
    this.touch(rel, entry);
    let fd: number | undefined;
    try {
      fd = await openRaw(this.pathOf(entry), 'r');
      const { size } = await fstatRaw(fd);
      const identity = identityOf(id);
      const file = Buffer.allocUnsafe(size);
      const { bytesRead } = await readRaw(fd, file, 0, size, 0);
      const head = file.subarray(0, Math.min(bytesRead, headLength(identity)));
      const checked = checkEntry(identity, head, file.subarray(head.length, bytesRead), size);
      if (typeof checked === 'string' || checked.codec !== 'raw') {
        if (typeof checked === 'string') this.dropBlock(rel, checked);
        await closeRaw(fd);
        return undefined;
      }
      // Dropped while it was being checked: not pinned.
      if (this.entries.get(rel) !== entry) {
        await closeRaw(fd);
        return undefined;
      }
      return { fd, offset: head.length, length: checked.logicalLength, token: rel };
    } catch (error) {
      if (fd !== undefined) await closeRaw(fd).catch(() => undefined);
      // A block evicted meanwhile is gone, not broken.
      if (this.entries.get(rel) === entry) this.dropBlock(rel, 'unreadable', error);
      return undefined;
    }
  }

  async readPinned(id: BlockId, into: Buffer): Promise<{ bytes: Buffer; pinned?: PinnedBlock } | undefined> {
    const rel = relOf(id);
    const entry = this.entries.get(rel);
    const identity = identityOf(id);
    if (!entry || entry.storedBytes - headLength(identity) !== entry.logicalBytes || into.length < entry.logicalBytes) {
      const bytes = await this.read(id, into);
      return bytes && { bytes };
    }
    this.touch(rel, entry);
    let fd: number | undefined;
    try {
      fd = await openRaw(this.pathOf(entry), 'r');
      const { size } = await fstatRaw(fd);
      const head = Buffer.allocUnsafe(Math.min(size, headLength(identity)));
      await readRaw(fd, head, 0, head.length, 0);
      const payload = into.subarray(0, Math.max(0, Math.min(into.length, size - head.length)));
      const { bytesRead } = await readRaw(fd, payload, 0, payload.length, head.length);
      const checked = checkEntry(identity, head, payload.subarray(0, bytesRead), size);
      if (typeof checked === 'string' || checked.codec !== 'raw') {
        await closeRaw(fd);
        if (typeof checked === 'string') this.dropBlock(rel, checked);
        return undefined;
      }
      this.counts.hits++;
      const bytes = into.subarray(0, checked.logicalLength);
      if (this.entries.get(rel) !== entry) {
        await closeRaw(fd);
        return { bytes };
      }
      return { bytes, pinned: { fd, offset: head.length, length: checked.logicalLength, token: rel } };
    } catch (error) {
      if (fd !== undefined) await closeRaw(fd).catch(() => undefined);
      if (this.entries.get(rel) === entry) this.dropBlock(rel, 'unreadable', error);
      return undefined;
    }
  }

  watchDrops(listener: (token: string | undefined) => void): () => void {
    this.dropListeners.add(listener);
    return () => this.dropListeners.delete(listener);
  }

  private dropped(token: string | undefined): void {
    for (const listener of this.dropListeners) listener(token);
  }

  write(id: BlockId, bytes: Buffer, release?: () => void): void {
    const rel = relOf(id);
    if (this.entries.has(rel) || this.now() < this.backoffUntil || this.pendingBytes + bytes.length > MAX_PENDING_BYTES) {
      if (!this.entries.has(rel)) this.counts.skipped++;
      release?.();
      return;
    }
    // A raw payload is the caller's buffer itself, written as is: it must not change until release.
    const stored = this.codec.encode(bytes);
    const head = encodeHead(identityOf(id), stored);
    const objectHash = objectHashOf(id.bucket, id.key);
    const storedBytes = head.length + stored.payload.length;
    const entry: DiskEntry = {
      objectHash,
      file: `${blockNameOf(id)}-L${stored.logicalLength}`,
      storedBytes,
      logicalBytes: stored.logicalLength,
      touchedMs: this.now(),
    };
    this.pendingBytes += storedBytes;
    const generation = this.generation;
    const write = this.store(id, rel, entry, [head, stored.payload], generation)
      .catch((error: unknown) => this.writeFailed(error))
      .finally(() => {
        this.pendingBytes -= storedBytes;
        release?.();
        this.writes.delete(write);
      });
    this.writes.add(write);
  }

  invalidateKey(bucket: string, key: string): number {
    const indexKey = `${bucket}\0${key}`;
    if (this.scanning) this.invalidatedDuringScan.push(indexKey);
    return this.dropObject(objectHashOf(bucket, key));
  }

  invalidatePrefix(bucket: string, prefix: string): number {
    const indexPrefix = `${bucket}\0${prefix}`;
    if (this.scanning) this.invalidatedDuringScan.push(`${indexPrefix}*`);
    let dropped = 0;
    for (const [objectHash, object] of this.objects) if (object.indexKey.startsWith(indexPrefix)) dropped += this.dropObject(objectHash);
    return dropped;
  }

  clear(): void {
    this.generation++;
    this.entries.clear();
    this.dropped(undefined);
    this.objects.clear();
    this.knownDirs.clear();
    this.storedBytes = 0;
    this.logicalBytes = 0;
    if (this.scanning) this.invalidatedDuringScan.push('*');
    // Moved aside at once (new writes start from an empty directory), removed in the background.
    const aside = `${this.blocksDir}.cleared-${process.pid}-${this.generation}`;
    const removal = rename(this.blocksDir, aside)
      .then(() => rm(aside, { recursive: true, force: true }))
      .catch((error: unknown) => {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn({ err: error }, 'disk cache: clearing failed');
      });
    this.track(removal);
  }

  resize(maxBytes: number): void {
    this.maxBytes = maxBytes;
    this.evict();
  }

  stats(): TierStats {
    return {
      tier: this.name,
      entries: this.entries.size,
      bytes: this.logicalBytes,
      storedBytes: this.storedBytes,
      maxBytes: this.maxBytes,
      evictions: this.counts.evictions,
      expired: 0,
      hits: this.counts.hits,
      misses: this.counts.misses,
      errors: this.counts.errors,
    };
  }

  async close(): Promise<void> {
    this.scanning = false;
    while (this.writes.size > 0) await Promise.allSettled([...this.writes]);
  }

  private async store(id: BlockId, rel: string, entry: DiskEntry, parts: Buffer[], generation: number): Promise<void> {
    const dir = join(this.blocksDir, entry.objectHash.slice(0, 2), entry.objectHash);
    // The object's directory being removed (its key changed): a new version's block goes into a new one.
    const removal = this.removals.get(dir);
    if (removal) await removal;
    const drops = this.dropCount;
    try {
      await this.storeIn(dir, id, rel, entry, parts, generation);
    } catch (error) {
      // Its directory was removed under it: the block belonged to what was dropped.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' && this.dropCount !== drops) return;
      throw error;
    }
  }

  private async storeIn(dir: string, id: BlockId, rel: string, entry: DiskEntry, parts: Buffer[], generation: number): Promise<void> {
    if (!this.knownDirs.has(dir)) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      // The object's key, for invalidation by prefix after a restart.
      await writeFile(join(dir, 'key'), JSON.stringify({ bucket: id.bucket, key: id.key }), { mode: 0o600 });
      this.knownDirs.add(dir);
    }
    const path = join(dir, entry.file);
    const temporary = `${path}.tmp-${process.pid}`;
    const handle = await open(temporary, 'w', 0o600);
    try {
      await handle.writev(parts);
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
    // Cleared or invalidated while on its way: the file must not outlive what dropped it.
    if (generation !== this.generation || !this.knownDirs.has(dir)) {
      await unlink(path).catch(() => undefined);
      return;
    }
    this.add(rel, entry, `${id.bucket}\0${id.key}`);
    this.evict();
  }

  private add(rel: string, entry: DiskEntry, indexKey: string): void {
    if (this.entries.has(rel)) return;
    this.entries.set(rel, entry);
    this.storedBytes += entry.storedBytes;
    this.logicalBytes += entry.logicalBytes;
    let object = this.objects.get(entry.objectHash);
    if (!object) this.objects.set(entry.objectHash, (object = { indexKey, blocks: new Set() }));
    object.blocks.add(rel);
  }

  private forget(rel: string): DiskEntry | undefined {
    const entry = this.entries.get(rel);
    if (!entry) return undefined;
    this.entries.delete(rel);
    this.dropped(rel);
    this.storedBytes -= entry.storedBytes;
    this.logicalBytes -= entry.logicalBytes;
    const object = this.objects.get(entry.objectHash);
    object?.blocks.delete(rel);
    if (object && object.blocks.size === 0) this.objects.delete(entry.objectHash);
    return entry;
  }

  private evict(): void {
    for (const rel of this.entries.keys()) {
      if (this.storedBytes <= this.maxBytes) break;
      const entry = this.forget(rel);
      if (!entry) continue;
      this.counts.evictions++;
      unlink(this.pathOf(entry)).catch(() => undefined);
    }
  }

  private dropBlock(rel: string, reason: string, error?: unknown): void {
    const entry = this.forget(rel);
    this.counts.errors++;
    this.log.warn({ block: rel, reason, err: error }, 'disk cache: dropped a block that cannot be trusted; it is fetched again');
    if (entry) unlink(this.pathOf(entry)).catch(() => undefined);
  }

  private dropObject(objectHash: string): number {
    const object = this.objects.get(objectHash);
    const dir = join(this.blocksDir, objectHash.slice(0, 2), objectHash);
    this.knownDirs.delete(dir);
    let dropped = 0;
    for (const rel of [...(object?.blocks ?? [])]) if (this.forget(rel)) dropped++;
    this.objects.delete(objectHash);
    this.dropCount++;
    // Removals of one directory run one after the other, and stores into it wait for them.
    const removal = (this.removals.get(dir) ?? Promise.resolve())
      .then(() => rm(dir, { recursive: true, force: true }))
      .catch(() => undefined)
      .finally(() => {
        if (this.removals.get(dir) === removal) this.removals.delete(dir);
      });
    this.removals.set(dir, removal);
    this.track(removal);
    return dropped;
  }

  private touch(rel: string, entry: DiskEntry): void {
    this.entries.delete(rel);
    this.entries.set(rel, entry);
    const now = this.now();
    if (now - entry.touchedMs < TOUCH_EVERY_MS) return;
    entry.touchedMs = now;
    const seconds = now / 1000;
    utimes(this.pathOf(entry), seconds, seconds).catch(() => undefined);
  }

  private writeFailed(error: unknown): void {
    this.counts.errors++;
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (SPACE_ERRORS.has(code)) {
      const quiet = this.backoffUntil > 0 && this.now() - this.backoffUntil < BACKOFF_MS;
      this.backoffUntil = this.now() + BACKOFF_MS;
      if (!quiet)
        this.log.warn(
          { err: error, directory: this.blocksDir },
          `disk cache: cannot write (${code}); reads go on from memory and S3, writes pause for ${BACKOFF_MS / 1000} s`,
        );
      return;
    }
    this.log.warn({ err: error }, 'disk cache: a block could not be stored');
  }

  /** Background work that close() waits for. */
  private track(work: Promise<void>): void {
    this.writes.add(work);
    void work.finally(() => this.writes.delete(work));
  }

  private pathOf(entry: DiskEntry): string {
    return join(this.blocksDir, entry.objectHash.slice(0, 2), entry.objectHash, entry.file);
  }

  /** Indexes what earlier mounts left, oldest first, and removes what cannot be used. */
  private async scan(): Promise<void> {
    const generation = this.generation;
    const found: ScannedBlock[] = [];
    await mkdir(this.blocksDir, { recursive: true, mode: 0o700 });
    const objectDirs: Array<[string, string]> = [];
    for (const shard of await readdir(this.blocksDir)) {
      for (const objectHash of await readdir(join(this.blocksDir, shard)).catch(() => [] as string[]))
        objectDirs.push([join(this.blocksDir, shard, objectHash), objectHash]);
    }
    // Directories are read a few at a time: the stats of their files then overlap in libuv's
    // thread pool instead of waiting for each other.
    let next = 0;
    const worker = async () => {
      while (next < objectDirs.length && this.scanning && generation === this.generation) {
        const [dir, objectHash] = objectDirs[next++];
        if (this.scannedFirst.has(objectHash)) continue;
        found.push(...(await this.scanObject(dir, objectHash)));
      }
    };
    await Promise.all(Array.from({ length: SCAN_PARALLEL }, worker));
    // Those indexed ahead of the scan (ready) are then among `current`.
    await Promise.all(this.scannedFirst.values());
    if (!this.scanning || generation !== this.generation) return;
    // Earlier mounts' blocks are older than anything this mount stored: they go first in the
    // recency order, oldest first.
    found.sort((a, b) => a.mtimeMs - b.mtimeMs);
    // Reordered, not dropped: the blocks indexed so far stay (drop listeners are not told).
    const current = [...this.entries].map(([rel, entry]) => ({ rel, entry, indexKey: this.objects.get(entry.objectHash)?.indexKey ?? '' }));
    this.entries.clear();
    this.objects.clear();
    this.storedBytes = 0;
    this.logicalBytes = 0;
    for (const { rel, entry, indexKey } of found) {
      if (!this.invalidatedWhileScanning(indexKey)) this.add(rel, entry, indexKey);
    }
    for (const { rel, entry, indexKey } of current) this.add(rel, entry, indexKey);
    this.scannedFirst.clear();
    this.scanning = false;
    this.invalidatedDuringScan.length = 0;
    this.evict();
    this.log.debug({ entries: found.length }, 'disk cache: indexed the blocks of earlier mounts');
  }

  /** The blocks of one object's directory; a directory without its key file is removed. */
  private async scanObject(dir: string, objectHash: string): Promise<ScannedBlock[]> {
    const indexKey = await readKeyFile(join(dir, 'key'));
    if (indexKey === undefined || this.invalidatedWhileScanning(indexKey)) {
      if (!this.objects.has(objectHash)) await rm(dir, { recursive: true, force: true });
      return [];
    }
    const files = await readdir(dir).catch(() => [] as string[]);
    const scanned = await Promise.all(
      files.map(async (file): Promise<ScannedBlock | undefined> => {
        if (file === 'key') return undefined;
        const parsed = /^(\d+)\.(\d+)\.([0-9a-f]{32})-L(\d+)$/.exec(file);
        if (!parsed) {
          // A temporary file of a write that never finished, or something that is not ours.
          await unlink(join(dir, file)).catch(() => undefined);
          return undefined;
        }
        const info = await stat(join(dir, file)).catch(() => undefined);
        if (!info) return undefined;
        const rel = `${objectHash}/${parsed[1]}.${parsed[2]}.${parsed[3]}`;
        return {
          rel,
          indexKey,
          mtimeMs: info.mtimeMs,
          entry: { objectHash, file, storedBytes: info.size, logicalBytes: Number(parsed[4]), touchedMs: info.mtimeMs },
        };
      }),
    );
    return scanned.filter((block): block is ScannedBlock => block !== undefined);
  }

  private invalidatedWhileScanning(indexKey: string): boolean {
    return this.invalidatedDuringScan.some((mark) => mark === '*' || (mark.endsWith('*') ? indexKey.startsWith(mark.slice(0, -1)) : mark === indexKey));
  }
}

function objectHashOf(bucket: string, key: string): string {
  return createHash('sha256').update(`${bucket}\0${key}`).digest('hex').slice(0, 32);
}

/** File name of a block in its object's directory, without the logical length. */
function blockNameOf(id: BlockId): string {
  return `${id.index}.${id.unitSize}.${createHash('sha256').update(id.etag).digest('hex').slice(0, 32)}`;
}

/** The index key of a block: object directory and block name. */
function relOf(id: BlockId): string {
  return `${objectHashOf(id.bucket, id.key)}/${blockNameOf(id)}`;
}

function identityOf(id: BlockId): string {
  return `${id.bucket}\0${id.key}\0${id.etag}\0${id.unitSize}\0${id.index}`;
}

async function readKeyFile(path: string): Promise<string | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as { bucket?: unknown; key?: unknown };
    return typeof parsed.bucket === 'string' && typeof parsed.key === 'string' ? `${parsed.bucket}\0${parsed.key}` : undefined;
  } catch {
    return undefined;
  }
}
