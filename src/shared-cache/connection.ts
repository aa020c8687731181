// The two Redis connections of a mount's shared cache: one for commands (publishing changes,
// the metadata tier) and one that blocks on the invalidation stream. Commands never wait for a
// connection: while it is down they fail at once (the tier misses, changes wait in the bus),
// and reconnects back off.
import { Redis } from 'ioredis';
import type { Logger } from '../log.js';
import { SHARED_CACHE_MAX_BACKOFF_MS, SHARED_CACHE_MIN_BACKOFF_MS, SHARED_CACHE_SOCKET_TIMEOUT_MS } from '../tuning.js';
import { describeRedis, type RedisTarget } from './redis-url.js';

export type ConnectionState = 'connected' | 'connecting' | 'down';

/** Delay before reconnect attempt `attempt` (1, 2, …): doubling, capped, with jitter so mounts do not reconnect in step. */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(SHARED_CACHE_MAX_BACKOFF_MS, SHARED_CACHE_MIN_BACKOFF_MS * 2 ** Math.min(attempt - 1, 16));
  return Math.round(base * (0.75 + 0.5 * random()));
}

/** One ioredis client with its state, reconnect count and last error. */
export class RedisConnection {
  readonly client: Redis;
  private everReady = false;
  private reconnectCount = 0;
  private lastErrorText?: string;
  private lostLogged = false;
  private closing = false;
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly target: RedisTarget,
    readonly role: 'commands' | 'stream',
    log: Logger,
    /** Names the connection in CLIENT LIST: the mount's instance id. */
    instanceId: string,
    /** No data for this long while a command waits drops the connection (a blocking read waits longer). */
    socketTimeoutMs = SHARED_CACHE_SOCKET_TIMEOUT_MS,
  ) {
    this.client = new Redis({
      host: target.host,
      port: target.port,
      username: target.username,
      password: target.password,
      db: target.db,
      tls: target.tls ? { servername: target.host } : undefined,
      connectionName: `s3mount-${role}-${instanceId}`,
      lazyConnect: true,
      connectTimeout: SHARED_CACHE_SOCKET_TIMEOUT_MS,
      socketTimeout: socketTimeoutMs,
      // Fail fast while disconnected: nothing waits on Redis, nothing is resent blindly.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      enableAutoPipelining: role === 'commands',
      retryStrategy: (attempt) => (this.closing ? null : backoffMs(attempt)),
      // A server that refuses our credentials or database is told once, then retried like a lost one.
      reconnectOnError: () => false,
    });
    this.client.on('error', (error: Error) => {
      this.lastErrorText = error.message;
      log.debug({ redis: describeRedis(target), role, err: error.message }, 'shared cache connection error');
    });
    this.client.on('ready', () => {
      if (this.everReady) this.reconnectCount++;
      if (this.lostLogged) log.warn({ redis: describeRedis(target), role }, 'shared cache connection back');
      this.everReady = true;
      this.lostLogged = false;
    });
    this.client.on('close', () => {
      if (this.closing || !this.everReady || this.lostLogged) return;
      this.lostLogged = true;
      log.warn({ redis: describeRedis(target), role, err: this.lastErrorText }, 'shared cache connection lost; reconnecting with back-off');
    });
  }

  /** Starts connecting; resolves once ready or once the first attempt failed (retries go on). */
  async connect(): Promise<boolean> {
    try {
      await this.client.connect();
      return true;
    } catch {
      return false;
    }
  }

  get ready(): boolean {
    return this.client.status === 'ready';
  }

  get state(): ConnectionState {
    const { status } = this.client;
    if (status === 'ready') return 'connected';
    return status === 'connecting' || status === 'connect' ? 'connecting' : 'down';
  }

  get reconnects(): number {
    return this.reconnectCount;
  }

  get lastError(): string | undefined {
    return this.lastErrorText;
  }

  /** Resolves at the next 'ready' (at once when ready), or when closed. */
  whenReady(): Promise<void> {
    if (this.ready || this.closing) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.client.off('ready', done);
        this.waiters.delete(done);
        resolve();
      };
      this.client.on('ready', done);
      this.waiters.add(done);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const waiter of [...this.waiters]) waiter();
    // QUIT would wait behind a blocking read; commands sent before it are answered first.
    if (this.client.status === 'ready' && this.role === 'commands') await this.client.quit().catch(() => this.client.disconnect());
    else this.client.disconnect();
  }
}
