// Reading S3 event notifications (raw, SNS-wrapped, EventBridge) and deciding which keys of a
// mount they make it forget.
import test from 'ava';
import { keyToForget, scopeMessage, withAncestors } from '../../src/events/event-scope.js';
import { decodeEventKey, parseEventMessage } from '../../src/events/s3-event-message.js';
import { encodeEventKey, eventBridgeEvent, rawEvent, s3EventRecord, snsWrapped, testEvent } from '../support/s3-events.js';

const mount = { bucket: 'b', prefix: 'root/' };

test('keys are decoded as S3 encodes them: + is a space, %2B a plus, UTF-8 escapes', (t) => {
  t.is(decodeEventKey('a+b.txt'), 'a b.txt');
  t.is(decodeEventKey('a%2Bb.txt'), 'a+b.txt');
  t.is(decodeEventKey('dir/caf%C3%A9+%E2%9C%93.txt'), 'dir/café ✓.txt');
  t.is(decodeEventKey('%F0%9F%98%80'), '😀');
  t.is(decodeEventKey('100%25'), '100%');
  t.is(decodeEventKey('plain/key'), 'plain/key');
  t.is(decodeEventKey('caf%C3'), undefined, 'a broken escape');
  t.is(decodeEventKey('50%'), undefined);
  // What the test support encodes, the parser decodes, for keys of every kind.
  for (const key of ['a b+c', 'x/y z/ü+%.txt', '😀 #?&=', 'quotes\'"', 'tab\there']) t.is(decodeEventKey(encodeEventKey(key)), key);
});

test('a raw S3 event gives its bucket, decoded key and change', (t) => {
  const parsed = parseEventMessage(
    rawEvent(s3EventRecord('ObjectCreated:Put', 'b', 'root/dir/a b+c.txt'), s3EventRecord('ObjectRemoved:Delete', 'b', 'root/x')),
  );
  t.deepEqual(parsed, {
    kind: 'events',
    unreadable: 0,
    events: [
      { bucket: 'b', key: 'root/dir/a b+c.txt', change: 'created', name: 'ObjectCreated:Put' },
      { bucket: 'b', key: 'root/x', change: 'removed', name: 'ObjectRemoved:Delete' },
    ],
  });
});

test('every ObjectCreated and ObjectRemoved event is a change; other events change nothing shown', (t) => {
  const change = (name: string) => {
    const parsed = parseEventMessage(rawEvent(s3EventRecord(name, 'b', 'k')));
    return parsed.kind === 'events' ? parsed.events[0].change : parsed.kind;
  };
  for (const name of ['ObjectCreated:Put', 'ObjectCreated:Post', 'ObjectCreated:Copy', 'ObjectCreated:CompleteMultipartUpload', 's3:ObjectCreated:Put'])
    t.is(change(name), 'created', name);
  for (const name of ['ObjectRemoved:Delete', 'ObjectRemoved:DeleteMarkerCreated', 'LifecycleExpiration:Delete', 'LifecycleExpiration:DeleteMarkerCreated'])
    t.is(change(name), 'removed', name);
  for (const name of ['ObjectRestore:Completed', 'ObjectTagging:Put', 'ObjectAcl:Put', 'Replication:OperationFailedReplication', 'LifecycleTransition'])
    t.is(change(name), undefined, name);
});

test('an SNS envelope is opened; its Message holds the S3 event', (t) => {
  const parsed = parseEventMessage(snsWrapped(rawEvent(s3EventRecord('ObjectCreated:Copy', 'b', 'root/caf%C3%A9'))));
  t.deepEqual(parsed, { kind: 'events', unreadable: 0, events: [{ bucket: 'b', key: 'root/caf%C3%A9', change: 'created', name: 'ObjectCreated:Copy' }] });
  t.deepEqual(parseEventMessage(snsWrapped(testEvent('b'))), { kind: 'test' });
  t.like(parseEventMessage(snsWrapped('not json')), { kind: 'malformed' });
  t.like(parseEventMessage(JSON.stringify({ Type: 'Notification', TopicArn: 'arn' })), { kind: 'malformed' });
  t.like(parseEventMessage(JSON.stringify({ Type: 'SubscriptionConfirmation', TopicArn: 'arn', Message: 'confirm' })), { kind: 'other' });
  // Only one level of wrapping exists: an envelope in an envelope is not an S3 event.
  t.like(parseEventMessage(snsWrapped(snsWrapped(rawEvent(s3EventRecord('ObjectCreated:Put', 'b', 'k'))))), { kind: 'malformed' });
});

test('an EventBridge event gives its key as it is, not URL-decoded', (t) => {
  t.deepEqual(parseEventMessage(eventBridgeEvent('Object Created', 'b', 'root/a+b %41.txt')), {
    kind: 'events',
    unreadable: 0,
    events: [{ bucket: 'b', key: 'root/a+b %41.txt', change: 'created', name: 'Object Created' }],
  });
  t.like(parseEventMessage(eventBridgeEvent('Object Deleted', 'b', 'k')), { events: [{ change: 'removed' }] });
  t.like(parseEventMessage(eventBridgeEvent('Object Tags Added', 'b', 'k')), { events: [{ change: undefined }] });
  const other = JSON.parse(eventBridgeEvent('Object Created', 'b', 'k'));
  other.source = 'aws.ec2';
  t.like(parseEventMessage(JSON.stringify(other)), { kind: 'other' });
  const keyless = JSON.parse(eventBridgeEvent('Object Created', 'b', 'k'));
  delete keyless.detail.object;
  t.like(parseEventMessage(JSON.stringify(keyless)), { kind: 'malformed' });
});

test('S3 test events are recognised', (t) => {
  t.deepEqual(parseEventMessage(testEvent('b')), { kind: 'test' });
});

test('malformed messages are reported, never thrown', (t) => {
  const bodies = [
    '',
    'not json',
    '{"Records": ',
    'null',
    '[1,2]',
    '"a string"',
    '{}',
    '{"Records": []}',
    '{"Records": "x"}',
    '{"Records": [1, "two", null, {}, {"eventName": "ObjectCreated:Put"}]}',
    '{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, "object": {"key": 7}}}]}',
    '{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, "object": {"key": "bad%zz"}}}]}',
    '{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, "object": {"key": ""}}}]}',
    '{"detail-type": "Object Created"}',
  ];
  for (const body of bodies) t.is(parseEventMessage(body).kind, 'malformed', body);
});

test('a message with readable and unreadable records keeps the readable ones', (t) => {
  const body = JSON.stringify({ Records: [s3EventRecord('ObjectRemoved:Delete', 'b', 'root/a'), { junk: true }] });
  const parsed = parseEventMessage(body);
  t.like(parsed, { kind: 'events', unreadable: 1 });
  t.deepEqual(scopeMessage(parsed, mount), { outcome: 'malformed', keys: ['root/a'], reason: '1 of 2 records unreadable' });
});

test('only changes to keys under the mount, in its bucket, are forgotten', (t) => {
  const event = (bucket: string, key: string) => ({ bucket, key, change: 'created' as const, name: 'ObjectCreated:Put' });
  t.is(keyToForget(event('b', 'root/a.txt'), mount), 'root/a.txt');
  t.is(keyToForget(event('b', 'root/dir/'), mount), 'root/dir', 'a directory marker stands for its directory');
  t.is(keyToForget(event('other', 'root/a.txt'), mount), undefined);
  t.is(keyToForget(event('b', 'elsewhere/a.txt'), mount), undefined);
  t.is(keyToForget(event('b', 'root'), mount), undefined, 'the object named like the prefix is outside the mount');
  t.is(keyToForget(event('b', 'rootless/a'), mount), undefined);
  t.is(keyToForget({ bucket: 'b', key: 'root/a.txt', change: undefined, name: 'ObjectTagging:Put' }, mount), undefined);
  t.is(keyToForget(event('b', 'anything'), { bucket: 'b', prefix: '' }), 'anything');
});

test('the directories above a key, up to the mount root, are forgotten with it', (t) => {
  t.deepEqual(withAncestors('root/a/b/c.txt', 'root/'), ['root/a/b/c.txt', 'root/a/b', 'root/a']);
  t.deepEqual(withAncestors('root/a.txt', 'root/'), ['root/a.txt']);
  t.deepEqual(withAncestors('root', 'root/'), ['root']);
  t.deepEqual(withAncestors('a/b/c', ''), ['a/b/c', 'a/b', 'a']);
  t.deepEqual(withAncestors('/abs/x', ''), ['/abs/x', '/abs'], 'a key starting with "/" ends the walk');
  t.deepEqual(withAncestors('//', ''), ['//', '/']);
  t.deepEqual(
    scopeMessage(
      parseEventMessage(rawEvent(s3EventRecord('ObjectCreated:Put', 'b', 'root/x/y/z'), s3EventRecord('ObjectRemoved:Delete', 'b', 'root/x/w'))),
      mount,
    ),
    {
      outcome: 'applied',
      keys: ['root/x/y/z', 'root/x/y', 'root/x', 'root/x/w'],
    },
  );
});

test('messages are counted as applied, foreign or malformed', (t) => {
  const scoped = (body: string) => scopeMessage(parseEventMessage(body), mount);
  t.deepEqual(
    scoped(
      rawEvent(
        s3EventRecord('ObjectCreated:Put', 'b', 'root/a'),
        s3EventRecord('ObjectRemoved:Delete', 'b', 'root/a'),
        s3EventRecord('ObjectCreated:Put', 'other', 'root/z'),
      ),
    ),
    { outcome: 'applied', keys: ['root/a'] },
  );
  t.deepEqual(scoped(rawEvent(s3EventRecord('ObjectCreated:Put', 'other', 'root/a'))), { outcome: 'foreign', keys: [] });
  t.deepEqual(scoped(rawEvent(s3EventRecord('ObjectCreated:Put', 'b', 'out/a'))), { outcome: 'foreign', keys: [] });
  t.deepEqual(scoped(rawEvent(s3EventRecord('ObjectTagging:Put', 'b', 'root/a'))), { outcome: 'foreign', keys: [] });
  t.deepEqual(scoped(testEvent('b')), { outcome: 'foreign', keys: [] });
  t.like(scoped('{"Records": [1]}'), { outcome: 'malformed', keys: [] });
});
