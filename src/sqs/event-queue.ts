// The SQS queue S3 event notifications arrive in, through AWS SDK v3: the only module that
// talks to SQS. Every SDK error leaves it as a QueueError. Same credentials (chain, profile)
// and region as the S3 client; where requests go is queue-endpoint.ts's rule.
import { DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient, type SQSClientConfig } from '@aws-sdk/client-sqs';
import type { Logger } from '../log.js';
import { queueEndpoint } from './queue-endpoint.js';

/** SQS's longest long poll, and the most messages one receive returns. */
export const WAIT_TIME_SECONDS = 20;
export const MAX_MESSAGES = 10;
/** A receive answers within its wait; this much more is the network's. */
const RECEIVE_MARGIN_MS = 10_000;
const CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_REGION = 'us-east-1';

export interface QueueMessage {
  id: string;
  body: string;
  receiptHandle: string;
}

export interface QueueAttributes {
  arn?: string;
  /** How long SQS keeps a message nobody deleted (seconds). */
  retentionSeconds?: number;
}

export type QueueErrorKind = 'missing' | 'denied' | 'network' | 'throttled' | 'aborted' | 'other';

export class QueueError extends Error {
  override name = 'QueueError';
  constructor(
    readonly kind: QueueErrorKind,
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

export interface EventQueue {
  readonly url: string;
  /** Where requests go (for messages). */
  readonly endpoint: string;
  /** GetQueueAttributes: that the queue exists and may be read, and how long it keeps messages. */
  attributes(): Promise<QueueAttributes>;
  /** One long poll (up to WAIT_TIME_SECONDS, MAX_MESSAGES); `signal` ends it at once. */
  receive(signal: AbortSignal): Promise<QueueMessage[]>;
  /** DeleteMessageBatch of up to MAX_MESSAGES receipt handles; resolves to how many SQS refused. */
  delete(receiptHandles: string[], signal: AbortSignal): Promise<number>;
  close(): void;
}

export interface EventQueueOptions {
  url: string;
  /** The S3 client's custom endpoint, when it has one. */
  s3Endpoint?: string;
  /** The mount's region (--region); default the SDK's chain, else us-east-1. */
  region?: string;
  profile?: string;
  /** Attempts per request, the first one included (SDK standard retry). */
  maxAttempts: number;
}

export function createEventQueue(options: EventQueueOptions, log: Logger, env: NodeJS.ProcessEnv = process.env): EventQueue {
  const { url } = options;
  const target = queueEndpoint(url, options.s3Endpoint, env);
  const config: SQSClientConfig = {
    endpoint: target.endpoint,
    region: target.region ?? options.region ?? regionChain(options.profile),
    profile: options.profile,
    maxAttempts: options.maxAttempts,
    requestHandler: {
      connectionTimeout: CONNECT_TIMEOUT_MS,
      requestTimeout: WAIT_TIME_SECONDS * 1000 + RECEIVE_MARGIN_MS,
      throwOnRequestTimeout: true,
    },
  };
  const client = new SQSClient(config);
  log.debug({ queue: url, endpoint: target.endpoint, profile: options.profile }, 'sqs client created');

  async function call<T>(operation: string, run: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const started = performance.now();
    try {
      const result = await run();
      if (log.isLevelEnabled('debug')) log.debug({ sqs: operation, ms: round(performance.now() - started), outcome: 'ok' }, 'sqs call');
      return result;
    } catch (error) {
      const mapped = toQueueError(error, url, target.endpoint, signal?.aborted === true);
      if (log.isLevelEnabled('debug'))
        log.debug({ sqs: operation, ms: round(performance.now() - started), outcome: mapped.kind, code: mapped.code }, 'sqs call');
      throw mapped;
    }
  }

  return {
    url,
    endpoint: target.endpoint,
    async attributes() {
      const answer = await call('getQueueAttributes', () =>
        client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn', 'MessageRetentionPeriod'] })),
      );
      const retention = Number(answer.Attributes?.MessageRetentionPeriod);
      return { arn: answer.Attributes?.QueueArn, retentionSeconds: Number.isFinite(retention) && retention > 0 ? retention : undefined };
    },
    async receive(signal) {
      const answer = await call(
        'receiveMessage',
        () =>
          client.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: WAIT_TIME_SECONDS, MaxNumberOfMessages: MAX_MESSAGES }), {
            abortSignal: signal,
          }),
        signal,
      );
      const messages: QueueMessage[] = [];
      for (const message of answer.Messages ?? []) {
        if (message.ReceiptHandle === undefined) continue;
        messages.push({ id: message.MessageId ?? '', body: message.Body ?? '', receiptHandle: message.ReceiptHandle });
      }
      return messages;
    },
    async delete(receiptHandles, signal) {
      if (receiptHandles.length === 0) return 0;
      const entries = receiptHandles.map((handle, index) => ({ Id: String(index), ReceiptHandle: handle }));
      const answer = await call(
        'deleteMessageBatch',
        () => client.send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: entries }), { abortSignal: signal }),
        signal,
      );
      return answer.Failed?.length ?? 0;
    },
    close() {
      client.destroy();
    },
  };
}

/** The SDK's region chain (environment, then the profile), else us-east-1 instead of "Region is missing". */
function regionChain(profile: string | undefined): () => Promise<string> {
  let resolved: Promise<string> | undefined;
  return () =>
    (resolved ??= (async () => {
      const probe = new SQSClient({ profile });
      try {
        return (await probe.config.region()) || DEFAULT_REGION;
      } catch {
        return DEFAULT_REGION;
      } finally {
        probe.destroy();
      }
    })());
}

interface SdkErrorShape {
  name?: string;
  message?: string;
  code?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

const MISSING_CODES = new Set(['QueueDoesNotExist', 'AWS.SimpleQueueService.NonExistentQueue', 'NonExistentQueue']);
const DENIED_CODES = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidSecurity',
  'CredentialsProviderError',
]);
const THROTTLE_CODES = new Set(['RequestThrottled', 'Throttling', 'ThrottlingException', 'OverLimit', 'ServiceUnavailable', 'KmsThrottled']);

/** One line saying what went wrong, for the log and for the mount's startup error. */
export function toQueueError(error: unknown, url: string, endpoint: string, aborted = false): QueueError {
  if (error instanceof QueueError) return error;
  const e = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as SdkErrorShape;
  const status = e.$metadata?.httpStatusCode;
  const code = (e.name && e.name !== 'Error' ? e.name : undefined) ?? e.Code ?? e.code ?? 'Unknown';
  const detail = `${code}${status ? `, HTTP ${status}` : ''}`;
  if (aborted) return new QueueError('aborted', `queue ${url}: aborted`, 'AbortError');
  if (MISSING_CODES.has(code) || (e.Code !== undefined && MISSING_CODES.has(e.Code)))
    return new QueueError('missing', `queue ${url} does not exist (${detail})`, code);
  if (DENIED_CODES.has(code) || status === 403)
    return new QueueError(
      'denied',
      `access denied to queue ${url} (${detail}): check credentials and sqs:GetQueueAttributes, sqs:ReceiveMessage, sqs:DeleteMessage`,
      code,
    );
  if (THROTTLE_CODES.has(code) || status === 429 || status === 503) return new QueueError('throttled', `queue ${url}: throttled (${detail})`, code);
  if (status === undefined) return new QueueError('network', `cannot reach SQS at ${endpoint} for queue ${url}: ${e.message || code}`, code);
  return new QueueError('other', `queue ${url}: ${detail}${e.message && e.message !== code ? `: ${e.message}` : ''}`, code);
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
