// Prometheus metrics of one mount. Created only when --metrics-address is given, so a mount
// without the endpoint pays nothing. Event counters are updated where things happen (FUSE
// adapter hook, metered store); cache numbers are read from the cache's own counters at scrape.
import { constants } from 'node:os';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { CacheStats, TierStats } from '../cache/types.js';
import { CACHE_OPS } from '../cache/types.js';
import type { NativeAttrCacheStats } from '../fuse/native-attr-cache.js';
import type { SharedCacheStats } from '../shared-cache/types.js';

// FUSE answers from the cache in tens of microseconds, from S3 in milliseconds to seconds.
const FUSE_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const S3_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
// A remote change is applied within milliseconds while the bus is up; seconds mean a catch-up.
const LAG_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60];

const ERRNO_NAMES = new Map(Object.entries(constants.errno).map(([name, value]) => [value, name]));

/** Label value of a FUSE reply: "ok" or the errno's name (ENOENT, EIO, ...). */
function fuseOutcome(errno: number): string {
  return errno === 0 ? 'ok' : (ERRNO_NAMES.get(-errno) ?? `errno_${-errno}`);
}

type CacheCounterField = 'hits' | 'misses' | 'coalesced' | 'expired' | 'evictions' | 'loadErrors';

/** prom-client hashes labels on every call; a child looked up once per label set is cheaper. */
function perLabels<T>(make: (...labels: string[]) => T): (...labels: string[]) => T {
  const children = new Map<string, T>();
  return (...labels) => {
    const id = labels.join('\u0000');
    let child = children.get(id);
    if (child === undefined) children.set(id, (child = make(...labels)));
    return child;
  };
}

export class MountMetrics {
  readonly registry = new Registry();
  private readonly fuseOperations: (operation: string, outcome: string) => { inc(): void };
  private readonly fuseDuration: (operation: string) => { observe(seconds: number): void };
  private readonly s3Requests: (operation: string, outcome: string) => { inc(): void };
  private readonly s3Duration: (operation: string) => { observe(seconds: number): void };
  private readonly readBytes: Counter;
  private readonly writtenBytes: Counter;
  private readonly uploadsPending: Gauge;
  private remoteLag?: Histogram;

  constructor(cacheStats: () => CacheStats) {
    const registers = [this.registry];
    const fuseOperations = new Counter({
      name: 's3mount_fuse_operations_total',
      help: 'FUSE operations answered, by operation and outcome (ok or errno name)',
      labelNames: ['operation', 'outcome'],
      registers,
    });
    const fuseDuration = new Histogram({
      name: 's3mount_fuse_operation_duration_seconds',
      help: 'Time to answer a FUSE operation',
      labelNames: ['operation'],
      buckets: FUSE_BUCKETS,
      registers,
    });
    const s3Requests = new Counter({
      name: 's3mount_s3_requests_total',
      help: 'S3 calls (the SDK retries inside one call), by operation and outcome',
      labelNames: ['operation', 'outcome'],
      registers,
    });
    const s3Duration = new Histogram({
      name: 's3mount_s3_request_duration_seconds',
      help: 'Time of an S3 call, retries included',
      labelNames: ['operation'],
      buckets: S3_BUCKETS,
      registers,
    });
    this.fuseOperations = perLabels((operation, outcome) => fuseOperations.labels(operation, outcome));
    this.fuseDuration = perLabels((operation) => fuseDuration.labels(operation));
    this.s3Requests = perLabels((operation, outcome) => s3Requests.labels(operation, outcome));
    this.s3Duration = perLabels((operation) => s3Duration.labels(operation));
    this.readBytes = new Counter({ name: 's3mount_read_bytes_total', help: 'Bytes returned to FUSE reads', registers });
    this.writtenBytes = new Counter({ name: 's3mount_written_bytes_total', help: 'Bytes accepted from FUSE writes', registers });
    this.uploadsPending = new Gauge({ name: 's3mount_uploads_pending', help: 'Uploads (PUT or multipart) started and not finished', registers });
    this.registerCacheMetrics(cacheStats);
    collectDefaultMetrics({ register: this.registry });
  }

  /** The FUSE adapter's hook: one call per answered operation. */
  fuseOperation(operation: string, ms: number, errno: number, bytes: number): void {
    this.fuseOperations(operation, fuseOutcome(errno)).inc();
    this.fuseDuration(operation).observe(ms / 1000);
    if (bytes > 0) {
      if (operation === 'read') this.readBytes.inc(bytes);
      else if (operation === 'write') this.writtenBytes.inc(bytes);
    }
  }

  s3Request(operation: string, outcome: string, ms: number): void {
    this.s3Requests(operation, outcome).inc();
    this.s3Duration(operation).observe(ms / 1000);
  }

  uploadStarted(): void {
    this.uploadsPending.inc();
  }

  uploadFinished(): void {
    this.uploadsPending.dec();
  }

  /** A change another mount published was applied here, `lagMs` after it was published. */
  remoteChangeApplied(lagMs: number): void {
    this.remoteLag?.observe(lagMs / 1000);
  }

  /** The shared cache's state and counters, read from its own at scrape time. */
  registerSharedCache(sharedStats: () => SharedCacheStats): void {
    const registers = [this.registry];
    this.remoteLag = new Histogram({
      name: 's3mount_shared_cache_remote_change_lag_seconds',
      help: "Time from another mount's publication of a change to its application here (Redis server clock)",
      buckets: LAG_BUCKETS,
      registers,
    });
    new Gauge({
      name: 's3mount_shared_cache_connected',
      help: 'Whether the shared cache connection is up (1) and its invalidation stream read in step (bus label)',
      labelNames: ['part'],
      registers,
      collect() {
        const stats = sharedStats();
        this.set({ part: 'connection' }, stats.state === 'connected' ? 1 : 0);
        this.set({ part: 'bus' }, stats.bus.state === 'in sync' ? 1 : 0);
      },
    });
    new Gauge({
      name: 's3mount_shared_cache_pending',
      help: 'Changes waiting to be published, and drops of shared entries waiting to be sent',
      labelNames: ['kind'],
      registers,
      collect() {
        const stats = sharedStats();
        this.set({ kind: 'changes' }, stats.bus.pending);
        this.set({ kind: 'drops' }, stats.tier?.pendingDrops ?? 0);
      },
    });
    const counters: Array<[string, string, (stats: SharedCacheStats) => number]> = [
      ['s3mount_shared_cache_reconnects_total', 'Times a shared cache connection was made again after being lost', (s) => s.reconnects + s.bus.reconnects],
      ['s3mount_shared_cache_published_total', "Changes of this mount added to the bucket's invalidation stream", (s) => s.bus.published],
      ['s3mount_shared_cache_applied_total', "Other mounts' changes applied here", (s) => s.bus.applied],
      ['s3mount_shared_cache_malformed_total', 'Invalidation stream entries not understood', (s) => s.bus.malformed],
      ['s3mount_shared_cache_drops_total', 'Times cached metadata was dropped because changes may have been missed', (s) => s.bus.drops],
      ['s3mount_shared_cache_catch_ups_total', 'Reconnects that read on from the last entry seen', (s) => s.bus.catchUps],
      ['s3mount_shared_cache_rejected_total', 'Shared metadata entries refused as malformed or foreign', (s) => s.tier?.rejected ?? 0],
    ];
    for (const [name, help, read] of counters) {
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read(sharedStats()));
        },
      });
    }
  }

  /** The exposition text and its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /**
   * The attribute cache in the FUSE binding, when the mount has it. getattrs the binding
   * answers itself never reach the adapter's hook (nor s3mount_fuse_operations_total): its own
   * counters say how many it answered.
   */
  registerNativeAttrCache(nativeAttrStats: () => NativeAttrCacheStats): void {
    const registers = [this.registry];
    new Gauge({
      name: 's3mount_native_attr_cache_entries',
      help: 'getattr answers held by the attribute cache in the FUSE binding',
      registers,
      collect() {
        this.set(nativeAttrStats().entries);
      },
    });
    const counters: Array<[string, keyof NativeAttrCacheStats, string]> = [
      ['s3mount_native_attr_cache_hits_total', 'hits', 'getattrs the FUSE binding answered from its attribute cache, without JavaScript'],
      ['s3mount_native_attr_cache_misses_total', 'misses', 'getattrs the FUSE binding passed on to JavaScript'],
      ['s3mount_native_attr_cache_stored_total', 'stored', 'getattr answers the FUSE binding kept'],
      ['s3mount_native_attr_cache_refused_total', 'refused', 'getattr answers not kept: their path changed while they were computed'],
      ['s3mount_native_attr_cache_dropped_total', 'dropped', 'Kept answers dropped by operations and invalidations'],
      ['s3mount_native_attr_cache_evictions_total', 'evicted', 'Kept answers pushed out by the bound'],
      ['s3mount_native_attr_cache_expirations_total', 'expired', 'Kept answers found expired'],
    ];
    for (const [name, field, help] of counters) {
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(nativeAttrStats()[field]);
        },
      });
    }
  }

  private registerCacheMetrics(cacheStats: () => CacheStats): void {
    const registers = [this.registry];
    const counters: Array<[string, CacheCounterField, string]> = [
      ['s3mount_cache_hits_total', 'hits', 'Requests answered from the cache'],
      ['s3mount_cache_misses_total', 'misses', 'Requests the cache had to load'],
      ['s3mount_cache_coalesced_total', 'coalesced', 'Requests that joined a load already in flight'],
      ['s3mount_cache_expirations_total', 'expired', 'Entries found expired'],
      ['s3mount_cache_evictions_total', 'evictions', 'Entries pushed out by the bounds'],
      ['s3mount_cache_load_errors_total', 'loadErrors', 'Loads that failed (never cached)'],
    ];
    for (const [name, field, help] of counters) {
      new Counter({
        name,
        help: `${help}, by cache (head, list, dir, block)`,
        labelNames: ['cache'],
        registers,
        // The cache keeps its own totals; mirror them (a counter cannot be set, only reset and raised).
        collect() {
          const stats = cacheStats();
          this.reset();
          for (const op of CACHE_OPS) this.inc({ cache: op }, stats.byOp[op][field]);
        },
      });
    }
    new Gauge({
      name: 's3mount_cache_entries',
      help: 'Entries held, by cache (metadata: HEAD answers and listings; content: blocks)',
      labelNames: ['cache'],
      registers,
      collect() {
        const stats = cacheStats();
        this.set({ cache: 'metadata' }, stats.metadata.entries);
        this.set({ cache: 'content' }, stats.content.entries);
      },
    });
    new Gauge({
      name: 's3mount_cache_bytes',
      help: 'Bytes of object content held',
      registers,
      collect() {
        this.set(cacheStats().content.bytes);
      },
    });
    // Per tier (metadata/memory, blocks/memory, blocks/disk): what each holds and, for tiers
    // below memory, their own lookups. The tiers keep their own totals: mirror them.
    const perTier: Array<['gauge' | 'counter', string, string, (tier: TierStats) => number | undefined]> = [
      ['gauge', 's3mount_cache_tier_entries', 'Entries held, by tier', (tier) => tier.entries],
      ['gauge', 's3mount_cache_tier_bytes', 'Bytes held as the objects have them, by tier', (tier) => tier.bytes],
      ['gauge', 's3mount_cache_tier_stored_bytes', 'Bytes a tier takes up where it stores entries compressed, by tier', (tier) => tier.storedBytes],
      ['gauge', 's3mount_cache_tier_compressed_entries', 'Cold entries a memory tier keeps compressed, by tier', (tier) => tier.compressedEntries],
      ['gauge', 's3mount_cache_tier_compressed_bytes', 'Bytes the cold entries of a memory tier take up compressed, by tier', (tier) => tier.compressedBytes],
      ['gauge', 's3mount_cache_tier_saved_bytes', 'Memory saved by keeping cold entries compressed (estimated), by tier', (tier) => tier.savedBytes],
      ['counter', 's3mount_cache_tier_decompressions_total', 'Cold entries decompressed again on use, by tier', (tier) => tier.decompressions],
      ['counter', 's3mount_cache_tier_hits_total', 'Lookups a tier below memory answered', (tier) => tier.hits],
      ['counter', 's3mount_cache_tier_misses_total', 'Lookups a tier below memory did not hold', (tier) => tier.misses],
      ['counter', 's3mount_cache_tier_evictions_total', 'Entries pushed out of a tier by its bound', (tier) => tier.evictions],
      ['counter', 's3mount_cache_tier_errors_total', 'Torn or corrupt entries dropped, and failed reads and writes, by tier', (tier) => tier.errors],
    ];
    const eachTier = (read: (tier: TierStats) => number | undefined, apply: (labels: { tier: string }, value: number) => void) => {
      for (const tier of cacheStats().tiers) {
        const value = read(tier);
        if (value !== undefined) apply({ tier: tier.tier }, value);
      }
    };
    for (const [kind, name, help, read] of perTier) {
      const options = { name, help, labelNames: ['tier'], registers };
      if (kind === 'gauge') {
        new Gauge({
          ...options,
          collect() {
            this.reset();
            eachTier(read, (labels, value) => this.set(labels, value));
          },
        });
      } else {
        new Counter({
          ...options,
          collect() {
            this.reset();
            eachTier(read, (labels, value) => this.inc(labels, value));
          },
        });
      }
    }
  }
}
