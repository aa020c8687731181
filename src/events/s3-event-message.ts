// Reads one SQS message body as an S3 event notification, in the three shapes it reaches a
// queue in: S3's own JSON (`Records[]`), that JSON inside an SNS envelope, and EventBridge's
// event. Pure: no I/O, nothing trusted beyond the bucket and key names it yields, which can
// only make a mount forget.

/** What happened to an object, as far as a mount's caches care. */
export type ObjectChange = 'created' | 'removed';

export interface ObjectEvent {
  bucket: string;
  /** The object's key, decoded. */
  key: string;
  /** undefined: an event that changes nothing a mount shows (tags, ACLs, restores, replication...). */
  change: ObjectChange | undefined;
  /** The event's name as sent (`ObjectCreated:Put`, `Object Deleted`...), for logs. */
  name: string;
}

export type EventMessage =
  /** S3 events; `unreadable` counts records in the message that could not be read. */
  | { kind: 'events'; events: ObjectEvent[]; unreadable: number }
  /** S3's `s3:TestEvent`, sent once when a notification is configured. */
  | { kind: 'test' }
  /** A well-formed message about something else (another EventBridge source, an SNS confirmation). */
  | { kind: 'other'; what: string }
  | { kind: 'malformed'; reason: string };

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function field(value: unknown, ...path: string[]): unknown {
  let at = value;
  for (const name of path) {
    if (!isObject(at)) return undefined;
    at = at[name];
  }
  return at;
}

function text(value: unknown, ...path: string[]): string | undefined {
  const found = field(value, ...path);
  return typeof found === 'string' ? found : undefined;
}

/** Reads one message body. Never throws. */
export function parseEventMessage(body: string): EventMessage {
  const parsed = parseJson(body);
  if (parsed === undefined) return { kind: 'malformed', reason: 'not JSON' };
  return readEnvelope(parsed, true);
}

function parseJson(body: string): Json | undefined {
  try {
    const value: unknown = JSON.parse(body);
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function readEnvelope(message: Json, outermost: boolean): EventMessage {
  // SNS: the S3 message is a JSON string in `Message` (unless the subscription delivers raw
  // messages, which then look like S3's own). Only one level of wrapping exists.
  if (outermost && typeof message.Type === 'string' && ('TopicArn' in message || 'Message' in message)) {
    if (message.Type !== 'Notification') return { kind: 'other', what: `SNS ${message.Type}` };
    if (typeof message.Message !== 'string') return { kind: 'malformed', reason: 'SNS notification without a Message string' };
    const inner = parseJson(message.Message);
    if (inner === undefined) return { kind: 'malformed', reason: 'SNS Message is not a JSON object' };
    return readEnvelope(inner, false);
  }
  if (message.Event === 's3:TestEvent') return { kind: 'test' };
  if ('Records' in message) return readRecords(message.Records);
  if ('detail-type' in message || 'detail' in message) return readEventBridge(message);
  return { kind: 'malformed', reason: 'neither S3 Records, an SNS notification nor an EventBridge event' };
}

function readRecords(records: unknown): EventMessage {
  if (!Array.isArray(records) || records.length === 0) return { kind: 'malformed', reason: 'Records is not a non-empty array' };
  const events: ObjectEvent[] = [];
  let unreadable = 0;
  for (const record of records) {
    const event = readRecord(record);
    if (event) events.push(event);
    else unreadable++;
  }
  if (events.length === 0) return { kind: 'malformed', reason: `none of ${records.length} records is an S3 event` };
  return { kind: 'events', events, unreadable };
}

function readRecord(record: unknown): ObjectEvent | undefined {
  const name = text(record, 'eventName');
  const bucket = text(record, 's3', 'bucket', 'name');
  const encodedKey = text(record, 's3', 'object', 'key');
  if (name === undefined || !bucket || encodedKey === undefined) return undefined;
  const key = decodeEventKey(encodedKey);
  if (!key) return undefined;
  return { bucket, key, change: changeOfRecord(name), name };
}

/**
 * S3's event names (`ObjectCreated:Put`, `ObjectRemoved:DeleteMarkerCreated`...), with or
 * without the `s3:` of notification configurations. A lifecycle expiration removes the
 * object as a DELETE does.
 */
function changeOfRecord(name: string): ObjectChange | undefined {
  const bare = name.startsWith('s3:') ? name.slice(3) : name;
  if (bare.startsWith('ObjectCreated:')) return 'created';
  if (bare.startsWith('ObjectRemoved:') || bare.startsWith('LifecycleExpiration:Delete')) return 'removed';
  return undefined;
}

function readEventBridge(message: Json): EventMessage {
  const type = text(message, 'detail-type');
  const source = text(message, 'source');
  if (type === undefined) return { kind: 'malformed', reason: 'EventBridge event without a detail-type' };
  if (source !== undefined && source !== 'aws.s3') return { kind: 'other', what: `EventBridge ${source}` };
  const bucket = text(message, 'detail', 'bucket', 'name');
  // EventBridge gives the key as it is, not URL-encoded.
  const key = text(message, 'detail', 'object', 'key');
  if (!bucket || !key) return { kind: 'malformed', reason: 'EventBridge event without detail.bucket.name and detail.object.key' };
  const change = type === 'Object Created' ? 'created' : type === 'Object Deleted' ? 'removed' : undefined;
  return { kind: 'events', events: [{ bucket, key, change, name: type }], unreadable: 0 };
}

/**
 * A key as S3 event records carry it: URL-encoded the way HTML forms are, '+' for a space
 * and %XX for UTF-8 bytes (a literal '+' is %2B). undefined when the escapes are broken.
 */
export function decodeEventKey(encoded: string): string | undefined {
  try {
    return decodeURIComponent(encoded.replaceAll('+', ' '));
  } catch {
    return undefined;
  }
}
