// How one block is stored in a file: a header that says what it holds and how, a checksum
// over the identity and the payload, the identity itself (so that a hash collision or a file
// moved by hand is never served as another block), then the payload, raw or compressed. A
// metadata entry, kept in a database row, has the same header without the identity bytes.
import { crc32 } from 'node:zlib';

const MAGIC = 0x53334d42; // "S3MB"
const VERSION = 1;
const HEADER_BYTES = 20;

export type Codec = 'raw' | 'zstd';
const CODEC_IDS: Record<Codec, number> = { raw: 0, zstd: 1 };

export interface StoredEntry {
  codec: Codec;
  /** Bytes the block holds once decompressed. */
  logicalLength: number;
  payload: Buffer;
}

/**
 * The head of the file (header and identity); the payload follows it as is, so a payload is
 * written without being copied.
 */
export function encodeHead(identity: string, entry: StoredEntry): Buffer {
  const id = Buffer.from(identity);
  const head = Buffer.allocUnsafe(HEADER_BYTES + id.length);
  head.writeUInt32BE(MAGIC, 0);
  head.writeUInt8(VERSION, 4);
  head.writeUInt8(CODEC_IDS[entry.codec], 5);
  head.writeUInt16BE(id.length, 6);
  head.writeUInt32BE(entry.logicalLength, 8);
  head.writeUInt32BE(entry.payload.length, 12);
  id.copy(head, HEADER_BYTES);
  head.writeUInt32BE(crc32(entry.payload, crc32(id)), 16);
  return head;
}

/** Bytes of the head of a file for `identity` (what precedes its payload). */
export function headLength(identity: string): number {
  return HEADER_BYTES + Buffer.byteLength(identity);
}

/**
 * Checks a head read on its own against `identity` and the payload that followed it (read
 * into the caller's buffer). Returns the entry or the reason it cannot be trusted.
 */
export function checkEntry(identity: string, head: Buffer, payload: Buffer, fileLength: number): StoredEntry | string {
  if (head.length < HEADER_BYTES) return 'shorter than a header';
  if (head.readUInt32BE(0) !== MAGIC) return 'not a block file';
  if (head.readUInt8(4) !== VERSION) return `format version ${head.readUInt8(4)}`;
  const codecId = head.readUInt8(5);
  const codec = (Object.keys(CODEC_IDS) as Codec[]).find((name) => CODEC_IDS[name] === codecId);
  if (!codec) return `unknown codec ${codecId}`;
  const idLength = head.readUInt16BE(6);
  const logicalLength = head.readUInt32BE(8);
  const payloadLength = head.readUInt32BE(12);
  if (fileLength !== HEADER_BYTES + idLength + payloadLength || payload.length !== payloadLength)
    return `length ${fileLength}, header says ${HEADER_BYTES + idLength + payloadLength}`;
  const id = head.subarray(HEADER_BYTES, HEADER_BYTES + idLength);
  if (crc32(payload, crc32(id)) !== head.readUInt32BE(16)) return 'checksum mismatch';
  if (id.toString('utf8') !== identity) return 'another block';
  if (codec === 'raw' && payloadLength !== logicalLength) return 'raw length differs from the logical length';
  return { codec, logicalLength, payload };
}

/** The entry a whole file holds, or the reason it cannot be trusted. */
export function decodeEntry(identity: string, file: Buffer): StoredEntry | string {
  if (file.length < HEADER_BYTES) return 'shorter than a header';
  const idLength = file.readUInt16BE(6);
  return checkEntry(identity, file.subarray(0, HEADER_BYTES + idLength), file.subarray(HEADER_BYTES + idLength), file.length);
}

// An entry whose identity is kept beside it (a database row's key) rather than in it: the same
// header with no identity bytes, and the checksum still over identity and payload, so a row
// read under another identity (a hash collision, a row moved by hand) fails the check.
const DETACHED_MAGIC = 0x53334d44; // "S3MD"

/** Header and payload of an entry stored apart from its identity. */
export function encodeDetached(identity: string, entry: StoredEntry): Buffer {
  // One buffer, header then payload; the identity's CRC taken from its text (UTF-8, as a Buffer of it would be).
  const data = Buffer.allocUnsafe(HEADER_BYTES + entry.payload.length);
  data.writeUInt32BE(DETACHED_MAGIC, 0);
  data.writeUInt8(VERSION, 4);
  data.writeUInt8(CODEC_IDS[entry.codec], 5);
  data.writeUInt16BE(0, 6);
  data.writeUInt32BE(entry.logicalLength, 8);
  data.writeUInt32BE(entry.payload.length, 12);
  data.writeUInt32BE(crc32(entry.payload, crc32(identity)), 16);
  entry.payload.copy(data, HEADER_BYTES);
  return data;
}

/** The entry `data` holds for `identity`, or the reason it cannot be trusted. */
export function decodeDetached(identity: string, data: Buffer): StoredEntry | string {
  if (data.length < HEADER_BYTES) return 'shorter than a header';
  if (data.readUInt32BE(0) !== DETACHED_MAGIC) return 'not an entry';
  if (data.readUInt8(4) !== VERSION) return `format version ${data.readUInt8(4)}`;
  const codecId = data.readUInt8(5);
  const codec = (Object.keys(CODEC_IDS) as Codec[]).find((name) => CODEC_IDS[name] === codecId);
  if (!codec) return `unknown codec ${codecId}`;
  const logicalLength = data.readUInt32BE(8);
  const payloadLength = data.readUInt32BE(12);
  if (data.length !== HEADER_BYTES + payloadLength) return `length ${data.length}, header says ${HEADER_BYTES + payloadLength}`;
  const payload = data.subarray(HEADER_BYTES);
  if (crc32(payload, crc32(identity)) !== data.readUInt32BE(16)) return 'checksum mismatch';
  if (codec === 'raw' && payloadLength !== logicalLength) return 'raw length differs from the logical length';
  return { codec, logicalLength, payload };
}
