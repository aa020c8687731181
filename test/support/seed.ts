// Seeding many objects fast: straight into the emulator's in-memory store when the endpoint
// is ours, else PUTs through the SDK with many in flight (an external endpoint).
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { type S3Endpoint, seedClient } from '../../scripts/local-s3.js';

// As many PUTs in flight as the SDK's default pool has sockets (50): more would only queue.
const PUTS_IN_FLIGHT = 50;

export interface SeedResult {
  how: 'in-memory store' | 'PUTs';
  seconds: number;
}

/** Puts every key with the body `bodyOf(key)` (keys are full keys, prefix included). */
export async function seedObjects(endpoint: S3Endpoint, keys: readonly string[], bodyOf: (key: string) => Buffer): Promise<SeedResult> {
  const started = performance.now();
  const putDirect = endpoint.putDirect;
  if (putDirect) {
    for (const key of keys) putDirect(key, bodyOf(key));
    return { how: 'in-memory store', seconds: (performance.now() - started) / 1000 };
  }
  const client = seedClient(endpoint);
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: PUTS_IN_FLIGHT }, async () => {
        while (next < keys.length) {
          const key = keys[next++];
          const body = bodyOf(key);
          await client.send(new PutObjectCommand({ Bucket: endpoint.bucket, Key: key, Body: body, ContentLength: body.length }));
        }
      }),
    );
  } finally {
    client.destroy();
  }
  return { how: 'PUTs', seconds: (performance.now() - started) / 1000 };
}
