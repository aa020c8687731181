// A mount's shared cache on Redis (--shared-cache): the connections, the invalidation bus and,
// unless turned off, the shared metadata tier, with their statistics.
import { randomUUID } from 'node:crypto';
import type { CacheKey } from '../cache/types.js';
import type { Logger } from '../log.js';
import { BUS_BLOCK_MS, SHARED_CACHE_SOCKET_TIMEOUT_MS } from '../tuning.js';
import { RedisConnection } from './connection.js';
import { InvalidationBus, type InvalidationTarget } from './invalidation-bus.js';
import { RedisMetadataTier } from './redis-metadata-tier.js';
import { describeRedis, type RedisTarget } from './redis-url.js';
import type { SharedCacheStats } from './types.js';

export interface SharedCacheOptions {
  target: RedisTarget;
  bucket: string;
  /** The mount's root prefix: "" or ending in "/". */
  root: string;
  /** Keep listings and HEAD answers in Redis too (else the bus alone). */
  sharedMetadata: boolean;
  /** Whether a metadata value read from Redis is well formed for its key. */
  validate(key: CacheKey, value: unknown): boolean;
  onApplied?: (lagMs: number) => void;
}

// How often the server's key count and memory are read for stats.
const SERVER_FACTS_EVERY_MS = 2_000;

type ServerFacts = NonNullable<SharedCacheStats['server']>;

export class SharedCache {
  readonly bus: InvalidationBus;
  /** The metadata tier, unless only the bus is wanted. */
  readonly tier?: RedisMetadataTier;
  private readonly commands: RedisConnection;
  private readonly stream: RedisConnection;
  private serverFacts?: ServerFacts;
  private readonly factsTimer: NodeJS.Timeout;
  private unavailableReason?: string;

  constructor(
    private readonly options: SharedCacheOptions,
    private readonly log: Logger,
  ) {
    const instanceId = randomUUID();
    this.commands = new RedisConnection(options.target, 'commands', log, instanceId);
    // A blocking read sends nothing back for up to BUS_BLOCK_MS.
    this.stream = new RedisConnection(options.target, 'stream', log, instanceId, BUS_BLOCK_MS + SHARED_CACHE_SOCKET_TIMEOUT_MS);
    this.bus = new InvalidationBus(this.commands, this.stream, log, {
      instanceId,
      bucket: options.bucket,
      root: options.root,
      onApplied: options.onApplied,
      onUnavailable: (reason) => (this.unavailableReason = reason),
    });
    if (options.sharedMetadata) {
      this.tier = new RedisMetadataTier(this.commands, log, {
        bucket: options.bucket,
        root: options.root,
        validate: options.validate,
        canStore: () => this.bus.inSync,
        server: () => this.serverFacts,
      });
    }
    this.commands.client.on('ready', () => void this.readServerFacts());
    this.factsTimer = setInterval(() => void this.readServerFacts(), SERVER_FACTS_EVERY_MS).unref();
    void this.commands.connect();
    void this.stream.connect();
  }

  /** The server, without its password. */
  get description(): string {
    return describeRedis(this.options.target);
  }

  /**
   * Starts the bus on the mount's invalidation and waits (at most `timeoutMs`) until it reads
   * the stream. Answers the reason when it could not: the mount then keeps its caches coherent
   * by their TTLs alone until Redis answers.
   */
  async start(target: InvalidationTarget, timeoutMs: number): Promise<string | undefined> {
    this.bus.attach(target);
    if (await this.bus.started(timeoutMs)) return undefined;
    return this.unavailableReason ?? 'no answer';
  }

  stats(): SharedCacheStats {
    const stats: SharedCacheStats = {
      redis: this.description,
      state: this.commands.state,
      reconnects: this.commands.reconnects,
      bus: this.bus.stats(),
    };
    const lastError = this.commands.lastError ?? this.stream.lastError;
    if (lastError !== undefined) stats.lastError = lastError;
    if (this.tier) stats.tier = this.tier.sharedStats();
    if (this.serverFacts) stats.server = this.serverFacts;
    return stats;
  }

  async close(): Promise<void> {
    clearInterval(this.factsTimer);
    await this.bus.close();
    await Promise.all([this.commands.close(), this.stream.close()]);
    await this.bus.finished();
  }

  private async readServerFacts(): Promise<void> {
    if (!this.commands.ready) return;
    try {
      const [info, keys] = await Promise.all([this.commands.client.info(), this.commands.client.dbsize()]);
      const number = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
      this.serverFacts = {
        keys,
        usedMemoryBytes: number('used_memory'),
        maxMemoryBytes: number('maxmemory'),
        evictedKeys: number('evicted_keys'),
        version: /^redis_version:(\S+)/m.exec(info)?.[1] ?? 'unknown',
      };
    } catch (error) {
      this.log.debug({ err: (error as Error).message }, 'shared cache: server facts not read');
    }
  }
}
