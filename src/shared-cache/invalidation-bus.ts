// The invalidation bus: every change this mount makes (origin local or control) is added to
// its bucket's Redis stream, and every change another mount added is applied here with origin
// remote, so that each mount's caches forget what another changed, at once instead of at TTL.
//
// Nothing is missed silently. The reader follows the stream from the last id it applied; after
// a lost connection it catches up from there, unless entries after that id may be gone (the
// stream was trimmed past it, Redis restarted, the stream was deleted, or the mount served
// before it could read at all): then it drops the metadata it holds. Changes that cannot be
// published wait and are sent on reconnect; past a bound, one change of the mount's whole
// root replaces them.
import type { InvalidationEvent, InvalidationListener, InvalidationOrigin } from '../fs/invalidation.js';
import type { Logger } from '../log.js';
import { BUS_BLOCK_MS, BUS_MAX_PENDING, BUS_READ_BATCH, BUS_STREAM_MAX_ENTRIES } from '../tuning.js';
import { type BusChange, decodeBusMessage, encodeBusMessage } from './bus-message.js';
import { type ScopedChange, scopeOf } from './bus-scope.js';
import type { RedisConnection } from './connection.js';
import { streamKey } from './keys.js';
import { compareIds, decideSync, idTime, type StreamFacts } from './stream-position.js';
import type { BusStats } from './types.js';

/** What the bus applies remote changes through: the mount's Invalidation. */
export interface InvalidationTarget {
  subscribe(listener: InvalidationListener): () => void;
  changed(key: string, origin: InvalidationOrigin): number;
  changedTree(key: string, origin: InvalidationOrigin): number;
  changedPath(path: string, recursive: boolean, origin: InvalidationOrigin): number;
  clear(origin: InvalidationOrigin): void;
}

export interface BusOptions {
  /** Carried in every message: a mount skips its own. */
  instanceId: string;
  bucket: string;
  /** The mount's root prefix: "" or ending in "/". */
  root: string;
  /** Tells whoever watches the mount's start (once) that the bus is not there. */
  onUnavailable?: (reason: string) => void;
  /** Each remote change applied, with how long after it was published (ms, by the Redis server's clock). */
  onApplied?: (lagMs: number) => void;
}

export class InvalidationBus {
  private readonly key: string;
  private target?: InvalidationTarget;
  private unsubscribe?: () => void;
  private closed = false;
  private reading?: Promise<void>;

  // The reader: where it stands, on which server, and whether that is known to be complete.
  private position?: string;
  private runId?: string;
  private synced = false;
  private missedBefore = false;
  private firstSync?: Promise<void>;
  private resolveFirstSync?: () => void;

  // The publisher: changes waiting for a connection.
  private pending: BusChange[] = [];
  private pendingOverflowed = false;
  private flushing = false;

  private readonly counts = {
    published: 0,
    publishErrors: 0,
    applied: 0,
    own: 0,
    outOfScope: 0,
    malformed: 0,
    drops: 0,
    catchUps: 0,
    lastLagMs: undefined as number | undefined,
    maxLagMs: 0,
    lagTotalMs: 0,
  };

  constructor(
    private readonly commands: RedisConnection,
    private readonly stream: RedisConnection,
    private readonly log: Logger,
    private readonly options: BusOptions,
  ) {
    this.key = streamKey(options.bucket);
    this.firstSync = new Promise((resolve) => (this.resolveFirstSync = resolve));
    commands.client.on('ready', () => void this.flushPending());
    stream.client.on('close', () => (this.synced = false));
  }

  /** Publishes this mount's changes and applies the others' from now on. */
  attach(target: InvalidationTarget): void {
    this.target = target;
    this.unsubscribe = target.subscribe((event) => this.publish(event));
    this.reading = this.readLoop();
  }

  /**
   * Resolves true once the reader knows where it stands in the stream, false if that took
   * longer than `timeoutMs`: the mount then serves with TTLs alone, and the first time the reader
   * gets there it drops what was cached meanwhile.
   */
  async started(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const inTime = await Promise.race([
      this.firstSync?.then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (!inTime && !this.synced) {
      this.missedBefore = true;
      this.options.onUnavailable?.(this.stream.lastError ?? this.commands.lastError ?? 'no answer');
    }
    return inTime === true;
  }

  /** Whether every change published so far has been applied or is being read: the reader is connected and in step. */
  get inSync(): boolean {
    return this.synced && this.stream.ready;
  }

  stats(): BusStats {
    const c = this.counts;
    return {
      state: this.inSync ? 'in sync' : this.stream.state === 'connected' ? 'catching up' : 'down',
      instanceId: this.options.instanceId,
      position: this.position,
      reconnects: this.stream.reconnects,
      published: c.published,
      publishErrors: c.publishErrors,
      pending: this.pending.length,
      applied: c.applied,
      ownSkipped: c.own,
      outOfScope: c.outOfScope,
      malformed: c.malformed,
      catchUps: c.catchUps,
      drops: c.drops,
      lastLagMs: c.lastLagMs,
      maxLagMs: c.maxLagMs,
      meanLagMs: c.applied > 0 ? c.lagTotalMs / c.applied : undefined,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe?.();
    // Changes still waiting get one last chance while the connection is there.
    await this.flushPending();
    this.resolveFirstSync?.();
  }

  /** Resolves once the reading loop has ended (after the connections were closed). */
  async finished(): Promise<void> {
    await this.reading;
  }

  // ---- publishing ----

  private publish(event: InvalidationEvent): void {
    if (event.origin === 'remote' || this.closed) return;
    const change: BusChange =
      event.kind === 'key'
        ? { kind: 'key', key: event.key }
        : event.kind === 'prefix'
          ? { kind: 'prefix', prefix: event.prefix }
          : { kind: 'clear', prefix: this.options.root };
    if (this.pending.length > 0 || this.flushing || !this.commands.ready) {
      this.enqueue(change);
      void this.flushPending();
      return;
    }
    this.send(change).catch(() => {
      this.enqueue(change);
      void this.flushPending();
    });
  }

  private async send(change: BusChange): Promise<void> {
    try {
      const fields = encodeBusMessage({ source: this.options.instanceId, bucket: this.options.bucket, change });
      await this.commands.client.xadd(this.key, 'MAXLEN', '~', BUS_STREAM_MAX_ENTRIES, '*', ...fields);
      this.counts.published++;
    } catch (error) {
      this.counts.publishErrors++;
      throw error;
    }
  }

  private enqueue(change: BusChange): void {
    if (this.pendingOverflowed) return;
    if (this.pending.length < BUS_MAX_PENDING) {
      this.pending.push(change);
      return;
    }
    // Too many to keep: one change covering everything this mount shows says as much.
    this.pendingOverflowed = true;
    this.pending = [{ kind: 'prefix', prefix: this.options.root }];
    this.log.warn(
      { bucket: this.options.bucket, root: this.options.root },
      'too many changes waiting for the shared cache; other mounts will drop all of this mount’s root',
    );
  }

  /** Sends what waits, in order, while the connection lasts; invalidations commute, so a retry out of order is harmless. */
  private async flushPending(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.pending.length > 0 && this.commands.ready) {
        const batch = this.pending.slice(0, 100);
        const results = await Promise.allSettled(batch.map((change) => this.send(change)));
        const failed = batch.filter((_, i) => results[i].status === 'rejected');
        this.pending = [...failed, ...this.pending.slice(batch.length)];
        if (this.pending.length === 0) this.pendingOverflowed = false;
        if (failed.length > 0) break;
      }
    } finally {
      this.flushing = false;
    }
    if (this.pending.length > 0 && !this.closed && this.commands.ready) setTimeout(() => void this.flushPending(), 1000).unref();
  }

  // ---- reading ----

  private async readLoop(): Promise<void> {
    while (!this.closed) {
      await this.stream.whenReady();
      if (this.closed) break;
      try {
        if (!this.synced) await this.sync();
        const reply = (await this.stream.client.xread('COUNT', BUS_READ_BATCH, 'BLOCK', BUS_BLOCK_MS, 'STREAMS', this.key, this.position ?? '$')) as Array<
          [string, Array<[string, string[]]>]
        > | null;
        for (const [, entries] of reply ?? []) for (const [id, fields] of entries) this.receive(id, fields);
      } catch (error) {
        this.synced = false;
        if (this.closed) break;
        this.log.debug({ err: (error as Error).message }, 'invalidation stream read failed');
        // A server answering errors (not a lost connection) is asked again after a pause.
        if (this.stream.ready) await new Promise((resolve) => setTimeout(resolve, 1000).unref());
      }
    }
  }

  /** Decides, from what the server says, whether to catch up from the last id or drop what is cached. */
  private async sync(): Promise<void> {
    const facts = await this.streamFacts();
    const decision = decideSync(facts, { position: this.position, runId: this.runId, missedBefore: this.missedBefore });
    if (decision.action === 'drop') {
      this.counts.drops++;
      this.log.warn({ bucket: this.options.bucket, reason: decision.reason }, 'shared cache: changes may have been missed; dropping cached metadata');
      this.target?.clear('remote');
    } else if (this.position !== undefined) {
      this.counts.catchUps++;
      this.log.info({ bucket: this.options.bucket, from: decision.from }, 'shared cache: catching up on the invalidation stream');
    }
    this.position = decision.from;
    this.runId = facts.runId;
    this.missedBefore = false;
    this.synced = true;
    this.resolveFirstSync?.();
  }

  private async streamFacts(): Promise<StreamFacts> {
    const client = this.stream.client;
    const info = await client.info('server');
    const runId = /^run_id:(\S+)/m.exec(info)?.[1] ?? 'unknown';
    let raw: unknown[];
    try {
      raw = (await client.xinfo('STREAM', this.key)) as unknown[];
    } catch (error) {
      if (/no such key/i.test((error as Error).message)) return { runId };
      throw error;
    }
    const fields = new Map<string, unknown>();
    for (let i = 0; i + 1 < raw.length; i += 2) fields.set(String(raw[i]), raw[i + 1]);
    const lastGeneratedId = String(fields.get('last-generated-id'));
    const position = this.position ?? '0-0';
    let holdsPosition: boolean;
    if (position === '0-0') {
      // Never saw an entry: whatever was added since must all be there (Redis 7 counts them).
      const added = fields.get('entries-added');
      holdsPosition = added !== undefined && Number(added) === Number(fields.get('length'));
    } else {
      // Trimming removes the oldest entries first: while the last one read is there, so is all after it.
      holdsPosition = ((await client.xrange(this.key, position, position)) as unknown[]).length === 1;
    }
    return { runId, stream: { lastGeneratedId, holdsPosition } };
  }

  private receive(id: string, fields: string[]): void {
    if (this.position === undefined || compareIds(id, this.position) > 0) this.position = id;
    const message = decodeBusMessage(fields);
    if (!message || message.bucket !== this.options.bucket) {
      this.counts.malformed++;
      this.log.debug({ id }, 'invalidation stream entry not understood; skipped');
      return;
    }
    if (message.source === this.options.instanceId) {
      this.counts.own++;
      return;
    }
    const scoped = scopeOf(message.change, this.options.root);
    if (!scoped) {
      this.counts.outOfScope++;
      return;
    }
    this.apply(scoped);
    const lag = Math.max(0, Date.now() - idTime(id));
    const c = this.counts;
    c.applied++;
    c.lastLagMs = lag;
    c.maxLagMs = Math.max(c.maxLagMs, lag);
    c.lagTotalMs += lag;
    this.options.onApplied?.(lag);
    if (this.log.isLevelEnabled('debug')) this.log.debug({ id, change: message.change, lagMs: lag }, 'remote change applied');
  }

  private apply(scoped: ScopedChange): void {
    const target = this.target;
    if (!target) return;
    switch (scoped.apply) {
      case 'key':
        target.changed(scoped.key, 'remote');
        return;
      case 'tree':
        target.changedTree(scoped.key, 'remote');
        return;
      case 'root':
        target.changedPath('/', false, 'remote');
        return;
      case 'everything':
        target.changedPath('/', true, 'remote');
        return;
      case 'clear':
        target.clear('remote');
        return;
    }
  }
}
