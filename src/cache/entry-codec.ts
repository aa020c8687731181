// Metadata values as text for tiers below memory: JSON with Dates, Maps and Buffers tagged, so
// that a HEAD answer, a listing page or an assembled listing comes back as the same shape.
// Decoding never throws and never builds anything but plain data: what a shared tier hands
// back is checked again by whoever uses it.

const DATE = '$date';
const MAP = '$map';
const BYTES = '$b64';

export function encodeEntry(value: object): string {
  // Tagged first, then stringified without a replacer: a replacer is a call from JSON.stringify
  // into JavaScript per property, several times the cost of the walk (one per HEAD answer kept
  // on disk during a cold `ls -l`).
  return JSON.stringify(tagged(value));
}

/** `value` with Dates, Maps and Buffers replaced by their tagged forms (other values as JSON.stringify sees them). */
function tagged(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof Date) return { [DATE]: value.getTime() };
  if (value instanceof Map) return { [MAP]: Array.from(value, ([name, item]) => [tagged(name), tagged(item)]) };
  if (Buffer.isBuffer(value)) return { [BYTES]: value.toString('base64') };
  if (Array.isArray(value)) return value.map(tagged);
  const withJson = value as { toJSON?: () => unknown };
  if (typeof withJson.toJSON === 'function') return tagged(withJson.toJSON());
  const plain: Record<string, unknown> = {};
  for (const name of Object.keys(value)) plain[name] = tagged((value as Record<string, unknown>)[name]);
  return plain;
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
