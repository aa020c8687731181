// Consumes S3 event notifications from the --s3-events-queue: one long poll at a time, each
// message read, the keys of this mount it names forgotten at once, then deleted from the
// queue whatever it held (a message that cannot be read would otherwise come back forever).
// Failures back off and are logged once per outage; stop() ends a pending poll at once.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../log.js';
import type { EventQueue, QueueMessage } from '../sqs/event-queue.js';
import { QueueError } from '../sqs/event-queue.js';
import { type MountScope, scopeMessage } from './event-scope.js';
import { parseEventMessage } from './s3-event-message.js';

/** What the consumer does to the mount: it can only make it forget. */
export interface ForgetSink {
  /** A key (no trailing slash) changed: forget it, its parent's listing and the root's. */
  changed(key: string): void;
  /** Events may have been lost (the queue was gone, or away longer than it keeps messages): forget everything under the mount. */
  everythingMayHaveChanged(): void;
}

export interface EventConsumerStats {
  queue: string;
  /** The last call to the queue succeeded. */
  connected: boolean;
  /** Messages received, each once (a message SQS sends again counts again). */
  received: number;
  /** Messages that made the mount forget at least one key. */
  applied: number;
  /** Messages about nothing this mount shows: other buckets, keys outside the prefix, other events, S3's test event. */
  foreign: number;
  /** Messages (or records in them) that could not be read. */
  malformed: number;
  /** Keys forgotten: those the events named and the directories above them. */
  keys: number;
  /** Failed receives and deletes (each retry counts). */
  errors: number;
  /** Times the queue stopped answering. */
  outages: number;
  /** When the last receive answered (ISO 8601), messages or not. */
  lastReceiveAt?: string;
}

export interface EventConsumerOptions {
  scope: MountScope;
  /** How long the queue keeps messages (seconds): an outage at least this long may have lost some. */
  retentionSeconds?: number;
  /** Wait after a failure, doubled at each one up to maxMs. */
  backoff?: { initialMs: number; maxMs: number };
}

const DEFAULT_BACKOFF = { initialMs: 1_000, maxMs: 20_000 };
// A queue full of junk must not fill the log: one line per minute at most, saying how many.
const MALFORMED_LOG_INTERVAL_MS = 60_000;

export class EventConsumer {
  private readonly abort = new AbortController();
  private readonly deletes = new Set<Promise<void>>();
  private readonly counts = { received: 0, applied: 0, foreign: 0, malformed: 0, keys: 0, errors: 0, outages: 0 };
  private connected = true;
  private lastReceiveAt?: number;
  private outage?: { since: number; failures: number; queueMissing: boolean };
  private deleteFailing = false;
  private malformedLoggedAt = Number.NEGATIVE_INFINITY;
  private malformedUnlogged = 0;
  private running?: Promise<void>;
  private readonly backoff: { initialMs: number; maxMs: number };

  constructor(
    private readonly queue: EventQueue,
    private readonly sink: ForgetSink,
    private readonly log: Logger,
    private readonly options: EventConsumerOptions,
  ) {
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
  }

  start(): void {
    this.running ??= this.run();
  }

  /** Ends the pending poll and any delete in flight (undeleted messages come back to the next consumer, harmlessly). */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
    await Promise.all(this.deletes);
  }

  stats(): EventConsumerStats {
    return {
      queue: this.queue.url,
      connected: this.connected,
      ...this.counts,
      lastReceiveAt: this.lastReceiveAt === undefined ? undefined : new Date(this.lastReceiveAt).toISOString(),
    };
  }

  private async run(): Promise<void> {
    const { signal } = this.abort;
    let waitMs = this.backoff.initialMs;
    while (!signal.aborted) {
      let messages: QueueMessage[];
      try {
        messages = await this.queue.receive(signal);
      } catch (error) {
        if (signal.aborted) break;
        this.failed(error);
        await sleep(waitMs, undefined, { signal }).catch(() => {});
        waitMs = Math.min(waitMs * 2, this.backoff.maxMs);
        continue;
      }
      waitMs = this.backoff.initialMs;
      this.reached();
      if (messages.length > 0) this.apply(messages);
    }
  }

  private apply(messages: QueueMessage[]): void {
    const { scope } = this.options;
    for (const message of messages) {
      this.counts.received++;
      const scoped = scopeMessage(parseEventMessage(message.body), scope);
      for (const key of scoped.keys) {
        this.sink.changed(key);
        this.counts.keys++;
      }
      this.counts[scoped.outcome]++;
      if (scoped.outcome === 'malformed') this.logMalformed(message, scoped.reason ?? '');
      else if (this.log.isLevelEnabled('debug')) this.log.debug({ message: message.id, outcome: scoped.outcome, keys: scoped.keys }, 's3 event');
    }
    this.delete(messages.map((message) => message.receiptHandle));
  }

  /** Deletes without holding up the next poll; a failed delete lets SQS send the message again, which only repeats a forget. */
  private delete(receiptHandles: string[]): void {
    const done = this.queue.delete(receiptHandles, this.abort.signal).then(
      (refused) => {
        if (refused === 0) {
          this.deleteFailing = false;
          return;
        }
        this.counts.errors += refused;
        this.deleteFailed(`SQS refused to delete ${refused} of ${receiptHandles.length} messages`);
      },
      (error: unknown) => {
        if (error instanceof QueueError && error.kind === 'aborted') return;
        this.counts.errors++;
        this.deleteFailed(error instanceof Error ? error.message : String(error));
      },
    );
    this.deletes.add(done);
    void done.finally(() => this.deletes.delete(done));
  }

  private deleteFailed(reason: string): void {
    if (this.deleteFailing) return;
    this.deleteFailing = true;
    this.log.warn(
      { queue: this.queue.url, reason },
      's3 events: messages applied but not deleted from the queue; SQS will send them again (the mount needs sqs:DeleteMessage)',
    );
  }

  private failed(error: unknown): void {
    this.counts.errors++;
    const queueMissing = error instanceof QueueError && error.kind === 'missing';
    if (this.outage) {
      this.outage.failures++;
      this.outage.queueMissing ||= queueMissing;
      return;
    }
    this.connected = false;
    this.counts.outages++;
    this.outage = { since: Date.now(), failures: 1, queueMissing };
    this.log.warn(
      { queue: this.queue.url, err: error instanceof Error ? error.message : String(error) },
      's3 events queue unavailable: retrying with backoff; until it answers, changes by other writers show after --metadata-ttl',
    );
  }

  private reached(): void {
    const now = Date.now();
    this.lastReceiveAt = now;
    const outage = this.outage;
    if (!outage) return;
    this.outage = undefined;
    this.connected = true;
    const seconds = (now - outage.since) / 1000;
    const retention = this.options.retentionSeconds;
    // Messages wait in the queue while it cannot be reached; a queue that was gone lost what S3
    // sent meanwhile, and so did one away longer than it keeps messages.
    const mayHaveLost = outage.queueMissing || (retention !== undefined && seconds >= retention);
    if (mayHaveLost) this.sink.everythingMayHaveChanged();
    this.log.warn(
      { queue: this.queue.url, seconds: Math.round(seconds * 10) / 10, failures: outage.failures, droppedCache: mayHaveLost },
      mayHaveLost
        ? 's3 events queue answers again; events may have been lost meanwhile, so everything cached under the mount was dropped'
        : 's3 events queue answers again; events sent meanwhile waited in the queue',
    );
  }

  private logMalformed(message: QueueMessage, reason: string): void {
    const now = Date.now();
    if (now - this.malformedLoggedAt < MALFORMED_LOG_INTERVAL_MS) {
      this.malformedUnlogged++;
      return;
    }
    this.log.warn(
      { queue: this.queue.url, message: message.id, reason, body: message.body.slice(0, 200), alsoSince: this.malformedUnlogged },
      's3 events: a message that is not an S3 event notification was dropped',
    );
    this.malformedLoggedAt = now;
    this.malformedUnlogged = 0;
  }
}
