// The detached entry format of the metadata disk tier: what earlier builds wrote reads back, and
// what this one writes is byte for byte what they wrote (rows outlive the build that wrote them).
import { crc32 } from 'node:zlib';
import test from 'ava';
import { decodeDetached, encodeDetached } from '../../src/cache/disk/entry-format.js';

// An identity with bytes beyond ASCII: its CRC is taken over its UTF-8 bytes.
const identity = 'head\u0000bench\u0000dir/é ✓ 🎉.txt\u0000"e"@1700000000';
const payload = Buffer.from('{"key":"dir/é ✓ 🎉.txt"}');

/** The format as it was first written: header, CRC over the identity's UTF-8 bytes then the payload. */
function firstFormat(): Buffer {
  const head = Buffer.alloc(20);
  head.writeUInt32BE(0x53334d44, 0);
  head.writeUInt8(1, 4);
  head.writeUInt8(0, 5);
  head.writeUInt32BE(payload.length, 8);
  head.writeUInt32BE(payload.length, 12);
  head.writeUInt32BE(crc32(payload, crc32(Buffer.from(identity, 'utf8'))), 16);
  return Buffer.concat([head, payload]);
}

test('a detached entry is written as the first format wrote it, and reads back under its identity only', (t) => {
  const data = encodeDetached(identity, { codec: 'raw', logicalLength: payload.length, payload });
  t.deepEqual(data, firstFormat());
  t.deepEqual(decodeDetached(identity, firstFormat()), { codec: 'raw', logicalLength: payload.length, payload });
  t.is(decodeDetached(identity.replace('é', 'e'), data), 'checksum mismatch');
});
