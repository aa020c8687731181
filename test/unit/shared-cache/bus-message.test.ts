// The invalidation bus's stream entries: every change round-trips, and anything that is not an
// entry this version wrote is refused, never applied half-read.
import test from 'ava';
import { BUS_FORMAT, type BusMessage, decodeBusMessage, encodeBusMessage } from '../../../src/shared-cache/bus-message.js';

const SOURCE = '3f1c2a9e-6b7d-4e0f-9a1b-2c3d4e5f6a7b';

test('every kind of change round-trips, odd keys included', (t) => {
  const messages: BusMessage[] = [
    { source: SOURCE, bucket: 'my-bucket', change: { kind: 'key', key: 'photos/2024/a b+%#?.jpg' } },
    { source: SOURCE, bucket: 'my-bucket', change: { kind: 'key', key: 'émoji 🎉/naïve' } },
    { source: SOURCE, bucket: 'my-bucket', change: { kind: 'key', key: 'photos/' } },
    { source: SOURCE, bucket: 'my-bucket', change: { kind: 'key', key: '' } },
    { source: SOURCE, bucket: 'my.bucket-1', change: { kind: 'prefix', prefix: 'a/b/' } },
    { source: SOURCE, bucket: 'my-bucket', change: { kind: 'prefix', prefix: '' } },
    { source: SOURCE, bucket: 'my-bucket', change: { kind: 'clear', prefix: 'photos/' } },
  ];
  for (const message of messages) {
    const fields = encodeBusMessage(message);
    t.true(fields.every((field) => typeof field === 'string'));
    t.deepEqual(decodeBusMessage(fields), message);
  }
});

test('entries that are not this version’s changes are refused', (t) => {
  const good = encodeBusMessage({ source: SOURCE, bucket: 'my-bucket', change: { kind: 'key', key: 'a' } });
  const withField = (name: string, value: string) => {
    const fields = [...good];
    fields[fields.indexOf(name) + 1] = value;
    return fields;
  };
  t.truthy(decodeBusMessage(good));
  const bad: Array<[string, unknown[]]> = [
    ['another version', withField('v', String(Number(BUS_FORMAT) + 1))],
    ['an unknown kind', withField('kind', 'rename')],
    ['a bucket S3 would refuse', withField('bucket', 'Not_A_Bucket')],
    ['no source', withField('src', '')],
    ['a source too long', withField('src', 'x'.repeat(65))],
    ['a key over 1,024 bytes', withField('path', 'k'.repeat(1025))],
    ['a NUL in the key', withField('path', 'a\u0000b')],
    ['a prefix without its slash', encodeBusMessage({ source: SOURCE, bucket: 'my-bucket', change: { kind: 'prefix', prefix: 'a' } })],
    ['a clear of a prefix without its slash', encodeBusMessage({ source: SOURCE, bucket: 'my-bucket', change: { kind: 'clear', prefix: 'a' } })],
    ['an odd number of fields', good.slice(0, -1)],
    ['a field missing', good.slice(0, -2)],
    ['a field too many', [...good, 'extra', 'x']],
    ['a field twice', [...good.slice(0, -2), 'v', BUS_FORMAT]],
    ['values that are not text', good.map((field, i) => (i === 9 ? 42 : field))],
    ['nothing', []],
  ];
  for (const [what, fields] of bad) t.is(decodeBusMessage(fields), undefined, what);
});
