// Metadata values as text for tiers below memory: JSON with Dates, Maps and Buffers tagged, so
// that a HEAD answer, a listing page or an assembled listing comes back as the same shape.
// Decoding never throws and never builds anything but plain data: what a shared tier hands
// back is checked again by whoever uses it.

const DATE = '$date';
const MAP = '$map';
const BYTES = '$b64';

export function encodeEntry(value: object): string {
  return JSON.stringify(value, function replacer(this: Record<string, unknown>, name: string, plain: unknown) {
    // JSON.stringify has already called Date's toJSON: the holder still has the Date itself.
    const original = this[name];
    if (original instanceof Date) return { [DATE]: original.getTime() };
    if (original instanceof Map) return { [MAP]: [...original.entries()] };
    if (Buffer.isBuffer(original)) return { [BYTES]: original.toString('base64') };
    return plain;
  });
}

/** The value `text` encodes, or undefined when it is not a well-formed encoding of an object. */
export function decodeEntry(text: string): object | undefined {
  try {
    const value: unknown = JSON.parse(text, (_name, raw: unknown) => revive(raw));
    return typeof value === 'object' && value !== null ? value : undefined;
  } catch {
    return undefined;
  }
}

class MalformedEntry extends Error {}

function revive(raw: unknown): unknown {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
  const keys = Object.keys(raw);
  if (keys.length !== 1) return raw;
  const tagged = (raw as Record<string, unknown>)[keys[0]];
  switch (keys[0]) {
    case DATE:
      if (typeof tagged !== 'number' || !Number.isFinite(tagged)) throw new MalformedEntry('bad date');
      return new Date(tagged);
    case MAP:
      if (!Array.isArray(tagged) || !tagged.every((pair) => Array.isArray(pair) && pair.length === 2)) throw new MalformedEntry('bad map');
      return new Map(tagged as [unknown, unknown][]);
    case BYTES:
      if (typeof tagged !== 'string') throw new MalformedEntry('bad bytes');
      return Buffer.from(tagged, 'base64');
    default:
      return raw;
  }
}
