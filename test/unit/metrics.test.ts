// Prometheus metrics of a mount: what the hooks count, how the store decorator labels calls,
// and the exposition text they produce.
import test from 'ava';
import { createMemoryCaches } from '../../src/cache/caches.js';
import type { EventConsumerStats } from '../../src/events/event-consumer.js';
import { silentLogger } from '../../src/log.js';
import { isLoopbackHost } from '../../src/metrics/address.js';
import { registerEventMetrics } from '../../src/metrics/event-metrics.js';
import { meterStore } from '../../src/metrics/metered-store.js';
import { MountMetrics } from '../../src/metrics/mount-metrics.js';
import { MemoryStore } from '../../src/s3/memory-store.js';
import { FaultyStore } from '../support/faulty-store.js';
import { parsePrometheusText, sample } from '../support/prometheus.js';

function setup() {
  const cache = createMemoryCaches({ ttlMs: 60_000, opTtlMs: {}, maxMetadataEntries: 100, maxContentBytes: 1 << 20 }, silentLogger());
  const metrics = new MountMetrics(() => cache.stats());
  const memory = new MemoryStore('bucket');
  const faults = new FaultyStore(memory);
  return { cache, metrics, memory, faults, store: meterStore(faults, metrics) };
}

async function scrape(metrics: MountMetrics) {
  const { contentType, body } = await metrics.render();
  return { contentType, samples: parsePrometheusText(body) };
}

test('FUSE operations are counted by operation and outcome, with latency and bytes', async (t) => {
  const { metrics } = setup();
  metrics.fuseOperation('read', 2, 0, 131072);
  metrics.fuseOperation('read', 3, 0, 4096);
  metrics.fuseOperation('write', 1, 0, 100);
  metrics.fuseOperation('getattr', 0.05, -2, 0);
  const { contentType, samples } = await scrape(metrics);
  t.regex(contentType, /^text\/plain/);
  t.is(sample(samples, 's3mount_fuse_operations_total', { operation: 'read', outcome: 'ok' }), 2);
  t.is(sample(samples, 's3mount_fuse_operations_total', { operation: 'getattr', outcome: 'ENOENT' }), 1);
  t.is(sample(samples, 's3mount_read_bytes_total'), 135168);
  t.is(sample(samples, 's3mount_written_bytes_total'), 100);
  t.is(sample(samples, 's3mount_fuse_operation_duration_seconds_count', { operation: 'read' }), 2);
  t.is(sample(samples, 's3mount_fuse_operation_duration_seconds_sum', { operation: 'read' }), 0.005);
  t.is(sample(samples, 's3mount_fuse_operation_duration_seconds_bucket', { operation: 'getattr', le: '0.0001' }), 1);
});

test('S3 calls are counted by operation and outcome, uploads while they run', async (t) => {
  const { metrics, memory, faults, store } = setup();
  memory.putObject('a', 'hello');
  await store.head('a');
  await t.throwsAsync(store.head('missing'));
  await store.getRange('a', 0, 5);
  let pendingDuringPut: number | undefined;
  faults.beforeCall = async (operation) => {
    if (operation === 'put') pendingDuringPut = sample((await scrape(metrics)).samples, 's3mount_uploads_pending');
  };
  await store.put('b', Buffer.from('x'));
  const { samples } = await scrape(metrics);
  t.is(sample(samples, 's3mount_s3_requests_total', { operation: 'head', outcome: 'ok' }), 1);
  t.is(sample(samples, 's3mount_s3_requests_total', { operation: 'head', outcome: 'not_found' }), 1);
  t.is(sample(samples, 's3mount_s3_requests_total', { operation: 'getRange', outcome: 'ok' }), 1);
  t.is(sample(samples, 's3mount_s3_request_duration_seconds_count', { operation: 'head' }), 2);
  t.is(pendingDuringPut, 1);
  t.is(sample(samples, 's3mount_uploads_pending'), 0);
});

test('cache numbers are read from the cache at each scrape', async (t) => {
  const { cache, metrics } = setup();
  const head = { op: 'head' as const, bucket: 'bucket', key: 'k' };
  await cache.metadata.fetch(head, async () => ({ size: 1 }));
  await cache.metadata.fetch(head, async () => ({ size: 1 }));
  await cache.blocks.fetch({ bucket: 'bucket', key: 'k', etag: 'e', unitSize: 1000, index: 0 }, async () => Buffer.alloc(1000));
  let samples = (await scrape(metrics)).samples;
  t.is(sample(samples, 's3mount_cache_hits_total', { cache: 'head' }), 1);
  t.is(sample(samples, 's3mount_cache_misses_total', { cache: 'head' }), 1);
  t.is(sample(samples, 's3mount_cache_misses_total', { cache: 'block' }), 1);
  t.is(sample(samples, 's3mount_cache_entries', { cache: 'metadata' }), 1);
  t.is(sample(samples, 's3mount_cache_bytes'), 1000);
  t.is(sample(samples, 's3mount_cache_tier_entries', { tier: 'blocks/memory' }), 1, 'per tier too');
  t.is(sample(samples, 's3mount_cache_tier_bytes', { tier: 'blocks/memory' }), 1000);
  cache.clear();
  samples = (await scrape(metrics)).samples;
  t.is(sample(samples, 's3mount_cache_entries', { cache: 'content' }), 0);
  t.is(sample(samples, 's3mount_cache_hits_total', { cache: 'head' }), 1, 'counters never go down');
  t.true(
    samples.some((s) => s.name === 'process_resident_memory_bytes'),
    'process metrics are there too',
  );
});

test('only loopback hosts count as local', (t) => {
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', '::ffff:127.0.0.1']) t.true(isLoopbackHost(host), host);
  for (const host of ['0.0.0.0', '::', '192.168.1.1', 'example.com', 'localhost.example.com']) t.false(isLoopbackHost(host), host);
});

test('the S3 events consumer is mirrored at each scrape: messages by outcome, errors, connection', async (t) => {
  const { metrics } = setup();
  const events: EventConsumerStats = { queue: 'q', connected: true, received: 0, applied: 0, foreign: 0, malformed: 0, keys: 0, errors: 0, outages: 0 };
  registerEventMetrics(metrics.registry, () => events);
  let samples = (await scrape(metrics)).samples;
  t.is(sample(samples, 's3mount_s3_events_received_total'), 0);
  t.is(sample(samples, 's3mount_s3_events_connected'), 1);
  t.is(sample(samples, 's3mount_s3_events_last_receive_timestamp_seconds'), 0);
  Object.assign(events, {
    connected: false,
    received: 7,
    applied: 3,
    foreign: 2,
    malformed: 2,
    keys: 4,
    errors: 5,
    outages: 1,
    lastReceiveAt: '2026-12-01T10:00:00.500Z',
  });
  samples = (await scrape(metrics)).samples;
  t.is(sample(samples, 's3mount_s3_events_received_total'), 7);
  t.is(sample(samples, 's3mount_s3_events_messages_total', { outcome: 'applied' }), 3);
  t.is(sample(samples, 's3mount_s3_events_messages_total', { outcome: 'foreign' }), 2);
  t.is(sample(samples, 's3mount_s3_events_messages_total', { outcome: 'malformed' }), 2);
  t.is(sample(samples, 's3mount_s3_events_keys_forgotten_total'), 4);
  t.is(sample(samples, 's3mount_s3_events_errors_total'), 5);
  t.is(sample(samples, 's3mount_s3_events_outages_total'), 1);
  t.is(sample(samples, 's3mount_s3_events_connected'), 0);
  t.is(sample(samples, 's3mount_s3_events_last_receive_timestamp_seconds'), Date.parse('2026-12-01T10:00:00.500Z') / 1000);
});
