// How one block is stored in a file: a header that says what it holds and how, a checksum
// over the identity and the payload, the identity itself (so that a hash collision or a file
// moved by hand is never served as another block), then the payload, raw or compressed.
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

/** The file's bytes: header, identity, payload. */
export function encodeEntry(identity: string, entry: StoredEntry): Buffer {
  const id = Buffer.from(identity);
  const file = Buffer.allocUnsafe(HEADER_BYTES + id.length + entry.payload.length);
  file.writeUInt32BE(MAGIC, 0);
  file.writeUInt8(VERSION, 4);
  file.writeUInt8(CODEC_IDS[entry.codec], 5);
  file.writeUInt16BE(id.length, 6);
  file.writeUInt32BE(entry.logicalLength, 8);
  file.writeUInt32BE(entry.payload.length, 12);
  id.copy(file, HEADER_BYTES);
  entry.payload.copy(file, HEADER_BYTES + id.length);
  file.writeUInt32BE(crc32(file.subarray(HEADER_BYTES)), 16);
  return file;
}

/** The entry a file holds, or the reason it cannot be trusted. */
export function decodeEntry(identity: string, file: Buffer): StoredEntry | string {
  if (file.length < HEADER_BYTES) return 'shorter than a header';
  if (file.readUInt32BE(0) !== MAGIC) return 'not a block file';
  if (file.readUInt8(4) !== VERSION) return `format version ${file.readUInt8(4)}`;
  const codecId = file.readUInt8(5);
  const codec = (Object.keys(CODEC_IDS) as Codec[]).find((name) => CODEC_IDS[name] === codecId);
  if (!codec) return `unknown codec ${codecId}`;
  const idLength = file.readUInt16BE(6);
  const logicalLength = file.readUInt32BE(8);
  const payloadLength = file.readUInt32BE(12);
  if (file.length !== HEADER_BYTES + idLength + payloadLength) return `length ${file.length}, header says ${HEADER_BYTES + idLength + payloadLength}`;
  if (crc32(file.subarray(HEADER_BYTES)) !== file.readUInt32BE(16)) return 'checksum mismatch';
  if (file.toString('utf8', HEADER_BYTES, HEADER_BYTES + idLength) !== identity) return 'another block';
  if (codec === 'raw' && payloadLength !== logicalLength) return 'raw length differs from the logical length';
  return { codec, logicalLength, payload: file.subarray(HEADER_BYTES + idLength) };
}
