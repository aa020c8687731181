// S3 event notification messages as AWS documents them, for tests: S3's own JSON, the same
// inside an SNS envelope, EventBridge's event, and the test event S3 sends when a notification
// is configured. fauxqs does not send S3 events itself; tests send these to its SQS.
import { randomUUID } from 'node:crypto';

/** A key as S3 writes it in event records: form-encoded, '+' for a space, '/' kept. */
export function encodeEventKey(key: string): string {
  return encodeURIComponent(key).replaceAll('%2F', '/').replaceAll('%20', '+');
}

/** One record of S3's event JSON (event version 2.1), the key encoded as S3 encodes it. */
export function s3EventRecord(eventName: string, bucket: string, key: string, size = 0): Record<string, unknown> {
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: 'us-east-1',
    eventTime: new Date().toISOString(),
    eventName,
    userIdentity: { principalId: 'AWS:AIDAEXAMPLE' },
    requestParameters: { sourceIPAddress: '127.0.0.1' },
    responseElements: { 'x-amz-request-id': 'C3D13FE58DE4C810', 'x-amz-id-2': 'FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD' },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: 's3mount-test',
      bucket: { name: bucket, ownerIdentity: { principalId: 'A3NL1KOZZKEXAMPLE' }, arn: `arn:aws:s3:::${bucket}` },
      object: { key: encodeEventKey(key), size, eTag: 'd41d8cd98f00b204e9800998ecf8427e', sequencer: '0055AED6DCD90281E5' },
    },
  };
}

/** S3's message body: `{"Records": [...]}`. */
export function rawEvent(...records: Array<Record<string, unknown>>): string {
  return JSON.stringify({ Records: records });
}

/** A message as an SNS topic delivers it to an SQS queue (raw message delivery off). */
export function snsWrapped(message: string): string {
  return JSON.stringify({
    Type: 'Notification',
    MessageId: randomUUID(),
    TopicArn: 'arn:aws:sns:us-east-1:123456789012:s3-events',
    Subject: 'Amazon S3 Notification',
    Message: message,
    Timestamp: new Date().toISOString(),
    SignatureVersion: '1',
    Signature: 'EXAMPLE',
    SigningCertURL: 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem',
    UnsubscribeURL: 'https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe',
  });
}

/** An EventBridge event from S3 (detail-type "Object Created" or "Object Deleted"); its key is not encoded. */
export function eventBridgeEvent(detailType: string, bucket: string, key: string, size = 0): string {
  return JSON.stringify({
    version: '0',
    id: randomUUID(),
    'detail-type': detailType,
    source: 'aws.s3',
    account: '123456789012',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [`arn:aws:s3:::${bucket}`],
    detail: {
      version: '0',
      bucket: { name: bucket },
      object: { key, size, etag: 'd41d8cd98f00b204e9800998ecf8427e', sequencer: '0055AED6DCD90281E5' },
      'request-id': 'N4N7GDK58NMKJ12R',
      requester: '123456789012',
      'source-ip-address': '127.0.0.1',
      reason: detailType === 'Object Deleted' ? 'DeleteObject' : 'PutObject',
    },
  });
}

/** What S3 sends to a queue when a notification configuration is saved. */
export function testEvent(bucket: string): string {
  return JSON.stringify({
    Service: 'Amazon S3',
    Event: 's3:TestEvent',
    Time: new Date().toISOString(),
    Bucket: bucket,
    RequestId: 'EXAMPLE',
    HostId: 'EXAMPLE',
  });
}
