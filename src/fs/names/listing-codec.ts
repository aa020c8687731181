// Cached directory listings as bytes, for the memory tier to keep compressed while they are
// cold (src/cache/cold-codec.ts). Most entries of a large listing are files as a LIST page
// shows them (key = the directory's prefix + name, size, ETag, LastModified): those go into
// columns (names and ETags as one text, sizes and times as numbers), which decode about three
// times faster than v8.serialize of the Map. Any other entry (a directory, a file with its
// metadata) is v8-serialized as it is. Decoding gives back an equal listing, in the same order.
import { deserialize, serialize } from 'node:v8';
import type { ColdCodec } from '../../cache/cold-codec.js';
import type { CacheOp } from '../../cache/types.js';
import type { DirListing, FileNode, FsNode } from '../nodes.js';

// Heap a listing entry takes as the cache holds it (a Map entry, the node, its flat strings and
// Date): 369 bytes for a listing decoded by this codec, measured by
// scripts/benchmark/listing-memory.ts; entries with metadata take more, so this underestimates.
const BYTES_PER_ENTRY = 370;

const COLUMNS = 0;
const WHOLE = 1;
/** What a column row is: a plain file node without a metadata property, one with it undefined, or another node. */
const PLAIN = 0;
const PLAIN_UNDEFINED_METADATA = 1;
const OTHER = 2;
const SEPARATOR = '\u0000';
const HEAD_BYTES = 13;

export const listingCodec: ColdCodec = {
  weigh(op: CacheOp, value: object): number | undefined {
    if (op !== 'dir' || !isListing(value)) return undefined;
    return value.entries.size * BYTES_PER_ENTRY;
  },
  encode(op: CacheOp, value: object): Buffer | undefined {
    if (op !== 'dir' || !isListing(value)) return undefined;
    return encodeColumns(value) ?? Buffer.concat([Buffer.from([WHOLE]), serialize(value)]);
  },
  decode(op: CacheOp, bytes: Buffer): object | undefined {
    if (op !== 'dir' || bytes.length < 1) return undefined;
    try {
      const listing = bytes[0] === COLUMNS ? decodeColumns(bytes) : bytes[0] === WHOLE ? deserialize(bytes.subarray(1)) : undefined;
      return isListing(listing) ? listing : undefined;
    } catch {
      return undefined;
    }
  },
};

function isListing(value: unknown): value is DirListing {
  return typeof value === 'object' && value !== null && (value as DirListing).entries instanceof Map;
}

/** Undefined when some name, ETag or the key prefix holds the separator (then the whole Map is serialized). */
function encodeColumns(listing: DirListing): Buffer | undefined {
  const count = listing.entries.size;
  const base = keyBase(listing);
  if (base === undefined || base.includes(SEPARATOR)) return undefined;
  const names: string[] = [];
  const etags: string[] = [];
  const others: FsNode[] = [];
  const numbers = Buffer.allocUnsafe(count * 16);
  const kinds = Buffer.allocUnsafe(count);
  let i = 0;
  for (const [name, node] of listing.entries) {
    if (name.includes(SEPARATOR)) return undefined;
    names.push(name);
    const kind = plainKind(node, base, name);
    kinds[i] = kind;
    if (kind === OTHER) {
      etags.push('');
      others.push(node);
      numbers.writeDoubleLE(0, i * 16);
      numbers.writeDoubleLE(0, i * 16 + 8);
    } else {
      const file = node as FileNode;
      if (file.etag.includes(SEPARATOR)) return undefined;
      etags.push(file.etag);
      numbers.writeDoubleLE(file.size, i * 16);
      numbers.writeDoubleLE(file.mtime.getTime(), i * 16 + 8);
    }
    i++;
  }
  const joined = [base, ...names, ...etags].join(SEPARATOR);
  // UTF-8 cannot carry a lone surrogate: such a string would not come back equal.
  if (!(joined as string & { isWellFormed(): boolean }).isWellFormed()) return undefined;
  const text = Buffer.from(joined);
  const rest = serialize(others);
  const head = Buffer.allocUnsafe(HEAD_BYTES);
  head.writeUInt8(COLUMNS, 0);
  head.writeUInt32LE(count, 1);
  head.writeUInt32LE(text.length, 5);
  head.writeUInt32LE(rest.length, 9);
  return Buffer.concat([head, numbers, kinds, text, rest]);
}

function decodeColumns(bytes: Buffer): DirListing | undefined {
  if (bytes.length < HEAD_BYTES) return undefined;
  const count = bytes.readUInt32LE(1);
  const textBytes = bytes.readUInt32LE(5);
  const restBytes = bytes.readUInt32LE(9);
  const kindsAt = HEAD_BYTES + count * 16;
  const textAt = kindsAt + count;
  if (textAt + textBytes + restBytes !== bytes.length) return undefined;
  const parts = bytes.toString('utf8', textAt, textAt + textBytes).split(SEPARATOR);
  const others: unknown = deserialize(bytes.subarray(textAt + textBytes));
  if (parts.length !== 1 + 2 * count || !Array.isArray(others)) return undefined;
  const base = parts[0];
  const entries = new Map<string, FsNode>();
  let other = 0;
  for (let i = 0; i < count; i++) {
    const name = parts[1 + i];
    const kind = bytes[kindsAt + i];
    if (kind === OTHER) {
      const node: unknown = others[other++];
      if (typeof node !== 'object' || node === null) return undefined;
      entries.set(name, node as FsNode);
      continue;
    }
    const size = bytes.readDoubleLE(HEAD_BYTES + i * 16);
    const mtime = new Date(bytes.readDoubleLE(HEAD_BYTES + i * 16 + 8));
    const etag = parts[1 + count + i];
    if (kind === PLAIN) entries.set(name, { type: 'file', key: base + name, size, etag, mtime });
    else if (kind === PLAIN_UNDEFINED_METADATA) entries.set(name, { type: 'file', key: base + name, size, etag, mtime, metadata: undefined });
    else return undefined;
  }
  if (other !== others.length || entries.size !== count) return undefined;
  return { entries };
}

/** The prefix the plain files' keys share with their names (the directory's prefix), from the first file. */
function keyBase(listing: DirListing): string | undefined {
  for (const [name, node] of listing.entries) {
    if (node.type === 'file' && typeof node.key === 'string' && node.key.endsWith(name)) return node.key.slice(0, node.key.length - name.length);
  }
  return '';
}

const PLAIN_KEYS = ['type', 'key', 'size', 'etag', 'mtime'];

/** Whether `node` is a file exactly as a LIST page describes it (so its columns give it back equal). */
function plainKind(node: FsNode, base: string, name: string): number {
  if (node.type !== 'file' || node.key !== base + name || typeof node.size !== 'number' || typeof node.etag !== 'string') return OTHER;
  if (!(node.mtime instanceof Date) || Object.getPrototypeOf(node) !== Object.prototype) return OTHER;
  if (!Number.isFinite(node.mtime.getTime())) return OTHER;
  const keys = Object.keys(node);
  const withMetadata = keys.length === 6 && keys[5] === 'metadata' && node.metadata === undefined;
  if (keys.length !== 5 && !withMetadata) return OTHER;
  for (let k = 0; k < 5; k++) if (keys[k] !== PLAIN_KEYS[k]) return OTHER;
  return withMetadata ? PLAIN_UNDEFINED_METADATA : PLAIN;
}
