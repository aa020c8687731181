// The S3 endpoint tests and the demo run against.
//
// By default: fauxqs (an in-memory S3 emulator) started in this process on 127.0.0.1 with a
// random port, a fresh bucket named s3mount-test-<random> (or the name asked for), dummy
// credentials test/test and path-style addressing. Nothing reaches the network.
//
// To run the same tests against a real S3 (or any S3-compatible server) instead, set:
//   S3MOUNT_TEST_ENDPOINT   endpoint URL, e.g. https://s3.eu-west-1.amazonaws.com (turns the mode on)
//   S3MOUNT_TEST_BUCKET     an existing bucket to use (required then; it is not created)
//   S3MOUNT_TEST_REGION     region (default us-east-1)
//   S3MOUNT_TEST_PATH_STYLE "true" (default) or "false" for virtual-hosted addressing
//   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY  credentials (AWS_SESSION_TOKEN is not forwarded)
// Tests then write only under testPrefix(endpoint), a unique s3mount-test-<random>/ prefix,
// and stop() leaves the bucket alone.

import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { buildApp } from 'fauxqs';
// fauxqs exports its stores' types (buildApp takes them) but not the classes: these paths are
// those of the pinned fauxqs 1.9.2. Holding the S3 store lets tests seed 100,000 keys in
// memory in a fraction of a second instead of a minute of PUTs.
import { S3Store } from '../node_modules/fauxqs/dist/s3/s3Store.js';
import { SnsStore } from '../node_modules/fauxqs/dist/sns/snsStore.js';
import { SqsStore } from '../node_modules/fauxqs/dist/sqs/sqsStore.js';

export interface S3Endpoint {
  endpoint: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  forcePathStyle: boolean;
  /** True when the endpoint comes from S3MOUNT_TEST_ENDPOINT (not started here). */
  external: boolean;
  /** Stops the emulator; does nothing for an external endpoint. Safe to call twice. */
  stop(): Promise<void>;
  /**
   * The emulator only: puts an object straight into its in-memory store, as a PUT would
   * (ETag, LastModified), without HTTP. Absent for an external endpoint.
   */
  putDirect?(key: string, body: Buffer, options?: { lastModified?: Date; metadata?: Record<string, string> }): void;
}

function randomSuffix(): string {
  return randomBytes(6).toString('hex');
}

// One prefix per endpoint object, so that every caller of testPrefix(ep) agrees.
const prefixes = new WeakMap<S3Endpoint, string>();

export async function startS3Endpoint(options: { bucket?: string } = {}): Promise<S3Endpoint> {
  const external = process.env.S3MOUNT_TEST_ENDPOINT;
  if (external) {
    const bucket = process.env.S3MOUNT_TEST_BUCKET;
    if (!bucket) throw new Error('S3MOUNT_TEST_ENDPOINT is set but S3MOUNT_TEST_BUCKET is not: name an existing bucket to test in');
    const accessKeyId = process.env.AWS_ACCESS_KEY_ID;
    const secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY;
    if (!accessKeyId || !secretAccessKey) throw new Error('S3MOUNT_TEST_ENDPOINT is set: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set too');
    const pathStyle = (process.env.S3MOUNT_TEST_PATH_STYLE ?? 'true').toLowerCase();
    return {
      endpoint: external,
      region: process.env.S3MOUNT_TEST_REGION || 'us-east-1',
      bucket,
      accessKeyId,
      secretAccessKey,
      forcePathStyle: !['false', '0', 'no'].includes(pathStyle),
      external: true,
      stop: async () => {},
    };
  }

  // startFauxqs() listens on 0.0.0.0 whatever it is told; building the app and listening
  // ourselves keeps the emulator on loopback.
  const s3Store = new S3Store();
  const app = buildApp({ logger: false, stores: { s3Store, sqsStore: new SqsStore(), snsStore: new SnsStore() } });
  const endpoint = await app.listen({ port: 0, host: '127.0.0.1' });
  let stopped: Promise<void> | undefined;
  const ep: S3Endpoint = {
    endpoint,
    region: 'us-east-1',
    bucket: options.bucket ?? `s3mount-test-${randomSuffix()}`,
    accessKeyId: 'test',
    secretAccessKey: 'test',
    forcePathStyle: true,
    external: false,
    stop: () => (stopped ??= app.close().then(() => undefined)),
    putDirect: (key, body, options = {}) => {
      const stored = s3Store.putObject(ep.bucket, key, body, undefined, options.metadata);
      if (options.lastModified) stored.lastModified = options.lastModified;
    },
  };
  const client = seedClient(ep);
  try {
    await client.send(new CreateBucketCommand({ Bucket: ep.bucket }));
  } catch (error) {
    await ep.stop();
    throw error;
  } finally {
    client.destroy();
  }
  return ep;
}

/** An S3 client for seeding and checking objects directly, bypassing s3mount. */
export function seedClient(ep: S3Endpoint): S3Client {
  return new S3Client({
    endpoint: ep.endpoint,
    region: ep.region,
    forcePathStyle: ep.forcePathStyle,
    credentials: { accessKeyId: ep.accessKeyId, secretAccessKey: ep.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** Key prefix tests write under: "" on the private emulator, a unique s3mount-test-<random>/ on an external endpoint. */
export function testPrefix(ep: S3Endpoint): string {
  if (!ep.external) return '';
  let prefix = prefixes.get(ep);
  if (prefix === undefined) {
    prefix = `s3mount-test-${randomSuffix()}/`;
    prefixes.set(ep, prefix);
  }
  return prefix;
}
