// SQS for tests of --s3-events-queue: fauxqs serves it on the S3 emulator's port. Against an
// external endpoint (S3MOUNT_TEST_ENDPOINT), queues are made on S3MOUNT_TEST_SQS_ENDPOINT, else
// on AWS SQS in the test region, with the same credentials.
import { randomBytes } from 'node:crypto';
import { CreateQueueCommand, DeleteQueueCommand, GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { S3Endpoint } from '../../scripts/local-s3.js';

export function sqsClient(ep: S3Endpoint): SQSClient {
  return new SQSClient({
    endpoint: ep.external ? process.env.S3MOUNT_TEST_SQS_ENDPOINT || undefined : ep.endpoint,
    region: ep.region,
    credentials: { accessKeyId: ep.accessKeyId, secretAccessKey: ep.secretAccessKey },
  });
}

/** A new queue; its URL. */
export async function createQueue(client: SQSClient, name = `s3mount-events-${randomBytes(5).toString('hex')}`): Promise<string> {
  const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: name }));
  if (!QueueUrl) throw new Error(`no URL for queue ${name}`);
  return QueueUrl;
}

export async function deleteQueue(client: SQSClient, url: string): Promise<void> {
  await client.send(new DeleteQueueCommand({ QueueUrl: url }));
}

export async function sendMessage(client: SQSClient, url: string, body: string): Promise<void> {
  await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: body }));
}

/** Messages in the queue, received by someone and not deleted included. */
export async function queueDepth(client: SQSClient, url: string): Promise<number> {
  const { Attributes } = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return Number(Attributes?.ApproximateNumberOfMessages ?? 0) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
}
