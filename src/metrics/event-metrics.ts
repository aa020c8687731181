// Prometheus metrics of the --s3-events-queue consumer, mirrored from its own counters at
// scrape time (as the cache's are): nothing on the consumer's path feeds them.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { EventConsumerStats } from '../events/event-consumer.js';

const OUTCOMES = ['applied', 'foreign', 'malformed'] as const;

export function registerEventMetrics(registry: Registry, stats: () => EventConsumerStats): void {
  const registers = [registry];
  new Counter({
    name: 's3mount_s3_events_received_total',
    help: 'Messages received from the S3 events queue',
    registers,
    collect() {
      this.reset();
      this.inc(stats().received);
    },
  });
  new Counter({
    name: 's3mount_s3_events_messages_total',
    help: 'Messages from the S3 events queue by outcome: applied (keys forgotten), foreign (nothing of this mount), malformed (dropped)',
    labelNames: ['outcome'],
    registers,
    collect() {
      const now = stats();
      this.reset();
      for (const outcome of OUTCOMES) this.inc({ outcome }, now[outcome]);
    },
  });
  const mirrored: Array<[string, string, (now: EventConsumerStats) => number]> = [
    ['s3mount_s3_events_keys_forgotten_total', 'Keys forgotten because of S3 events', (now) => now.keys],
    ['s3mount_s3_events_errors_total', 'Failed receives and deletes on the S3 events queue', (now) => now.errors],
    ['s3mount_s3_events_outages_total', 'Times the S3 events queue stopped answering', (now) => now.outages],
  ];
  for (const [name, help, read] of mirrored) {
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(read(stats()));
      },
    });
  }
  new Gauge({
    name: 's3mount_s3_events_connected',
    help: '1 while the S3 events queue answers, 0 while it is retried',
    registers,
    collect() {
      this.set(stats().connected ? 1 : 0);
    },
  });
  new Gauge({
    name: 's3mount_s3_events_last_receive_timestamp_seconds',
    help: 'When a receive on the S3 events queue last answered (Unix time; 0 before the first)',
    registers,
    collect() {
      const at = stats().lastReceiveAt;
      this.set(at === undefined ? 0 : Date.parse(at) / 1000);
    },
  });
}
