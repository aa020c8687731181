// Puts the benchmark's data set into a bucket (the emulator's, for make bench and profiles).
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { BIG_KEY, bigBytes, smallObjects } from './dataset.js';

export async function seedDataset(client: S3Client, bucket: string): Promise<void> {
  await new Upload({ client, params: { Bucket: bucket, Key: BIG_KEY, Body: bigBytes() }, partSize: 8 * 1024 * 1024, queueSize: 4 }).done();
  const objects = smallObjects();
  for (let i = 0; i < objects.length; i += 200) {
    await Promise.all(
      objects.slice(i, i + 200).map(([key, body]) => client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: body.length }))),
    );
  }
}
