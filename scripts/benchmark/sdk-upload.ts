// The raw SDK's multipart upload the big write is compared with: WRITE_BIG_SIZE (or `size`)
// zero bytes (as dd writes from /dev/zero), in parts of 8 MiB with 4 in flight as s3mount
// uploads, from a process of its own as a program would (Node's start included): not from
// the benchmark's process, which serves fauxqs.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { S3Endpoint } from '../local-s3.js';

const run = promisify(execFile);

/** The key the upload writes. */
export const SDK_UPLOAD_KEY = 'sdk-upload.bin';

const SDK_UPLOAD_SCRIPT = `
const { S3Client } = require('@aws-sdk/client-s3'); const { Upload } = require('@aws-sdk/lib-storage');
const [endpoint, bucket, size] = process.argv.slice(1);
const client = new S3Client({ endpoint, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
new Upload({ client, params: { Bucket: bucket, Key: '${SDK_UPLOAD_KEY}', Body: Buffer.alloc(Number(size)) }, partSize: 8 * 1024 * 1024, queueSize: 4 })
  .done().then(() => client.destroy(), (error) => { console.error(error); process.exit(1); });`;

/** Uploads `size` bytes to SDK_UPLOAD_KEY from a child process; resolves when it has ended. */
export async function sdkUpload(endpoint: S3Endpoint, size: number): Promise<void> {
  await run(process.execPath, ['-e', SDK_UPLOAD_SCRIPT, endpoint.endpoint, endpoint.bucket, String(size)], {
    env: { ...process.env, AWS_ACCESS_KEY_ID: endpoint.accessKeyId, AWS_SECRET_ACCESS_KEY: endpoint.secretAccessKey, AWS_REGION: endpoint.region },
    timeout: 600_000,
  });
}
