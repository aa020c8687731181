// A mount that reaches S3 only through the fault proxy, over an endpoint seeded first: what
// every fault test starts from. Keys are put under the endpoint's test prefix.
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { type S3Endpoint, seedClient, startS3Endpoint, testPrefix } from '../../scripts/local-s3.js';
import { type FaultProxy, startFaultProxy } from './fault-proxy.js';
import { type Mount, mountBucket } from './mount.js';

export interface ProxiedMount {
  endpoint: S3Endpoint;
  proxy: FaultProxy;
  mount: Mount;
  /** Unmounts, then stops the proxy and the endpoint; safe when setup failed half way. */
  stop(): Promise<void>;
}

export type PutObject = (key: string, body: Buffer | string) => Promise<void>;

export async function mountThroughProxy(seed: (put: PutObject) => Promise<void>, args: string[] = ['--max-attempts', '3']): Promise<ProxiedMount> {
  const endpoint = await startS3Endpoint();
  const prefix = testPrefix(endpoint);
  const client = seedClient(endpoint);
  await seed(async (key, body) => {
    await client.send(new PutObjectCommand({ Bucket: endpoint.bucket, Key: prefix + key, Body: body, ContentLength: Buffer.byteLength(body) }));
  });
  const proxy = await startFaultProxy(endpoint.endpoint);
  let mount: Mount | undefined;
  const stop = async () => {
    await mount?.stop();
    await proxy.stop();
    await endpoint.stop();
  };
  try {
    mount = await mountBucket({ ...endpoint, endpoint: proxy.url }, { target: prefix ? `${endpoint.bucket}:${prefix}` : endpoint.bucket, args });
  } catch (error) {
    await stop();
    throw error;
  }
  return { endpoint, proxy, mount, stop };
}
