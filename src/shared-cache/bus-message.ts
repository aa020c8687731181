// One change on the invalidation bus, as a Redis stream entry: a flat list of field names and
// values. Decoding checks every field and answers undefined for anything else, so that a
// foreign, truncated or future entry is counted and dropped, never applied half-read.

/** What changed, as the publishing mount's Invalidation said it. */
export type BusChange =
  /** A file or directory at `key` (or, ending in "/" or "", the listing of that directory). */
  | { kind: 'key'; key: string }
  /** Everything under `prefix` ("" or ending in "/"). */
  | { kind: 'prefix'; prefix: string }
  /** The publisher dropped everything it had cached: its mount's root is `prefix`. */
  | { kind: 'clear'; prefix: string };

export interface BusMessage {
  /** The publishing mount's instance id: a mount skips its own messages. */
  source: string;
  bucket: string;
  change: BusChange;
}

/** Bumped when the format changes: a mount ignores (and counts) entries of another version. */
export const BUS_FORMAT = '1';

// S3 keys are at most 1,024 bytes; ids are UUIDs, with room to spare.
const MAX_KEY_BYTES = 1024;
const MAX_SOURCE_LENGTH = 64;
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Field names and values for XADD. */
export function encodeBusMessage(message: BusMessage): string[] {
  const { change } = message;
  const path = change.kind === 'key' ? change.key : change.prefix;
  return ['v', BUS_FORMAT, 'src', message.source, 'bucket', message.bucket, 'kind', change.kind, 'path', path];
}

/** The message a stream entry's fields hold, or undefined when they are not one this version wrote. */
export function decodeBusMessage(fields: readonly unknown[]): BusMessage | undefined {
  if (fields.length % 2 !== 0 || fields.length > 32) return undefined;
  const values = new Map<string, string>();
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i];
    const value = fields[i + 1];
    if (typeof name !== 'string' || typeof value !== 'string' || values.has(name)) return undefined;
    values.set(name, value);
  }
  const [version, source, bucket, kind, path] = ['v', 'src', 'bucket', 'kind', 'path'].map((name) => values.get(name));
  if (version !== BUS_FORMAT || values.size !== 5) return undefined;
  if (source === undefined || source.length === 0 || source.length > MAX_SOURCE_LENGTH) return undefined;
  if (bucket === undefined || !BUCKET.test(bucket)) return undefined;
  if (path === undefined || Buffer.byteLength(path) > MAX_KEY_BYTES || path.includes('\u0000')) return undefined;
  switch (kind) {
    case 'key':
      return { source, bucket, change: { kind, key: path } };
    case 'prefix':
    case 'clear':
      if (path !== '' && !path.endsWith('/')) return undefined;
      return { source, bucket, change: { kind, prefix: path } };
    default:
      return undefined;
  }
}
