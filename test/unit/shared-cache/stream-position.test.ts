// When a reader of the invalidation stream (re)connects: catch up from its last id when nothing
// after it can be gone, else drop what it cached. Never silently skip.
import test from 'ava';
import { compareIds, decideSync, idTime } from '../../../src/shared-cache/stream-position.js';

test('stream ids compare by time, then sequence, as numbers', (t) => {
  t.is(compareIds('1-0', '1-0'), 0);
  t.is(compareIds('1-1', '1-0'), 1);
  t.is(compareIds('9-0', '10-0'), -1, 'not as text');
  t.is(compareIds('1700000000000-5', '1700000000001-0'), -1);
  t.is(compareIds('18446744073709551615-0', '18446744073709551614-99'), 1, 'beyond 2^53');
  t.is(idTime('1700000000123-7'), 1700000000123);
  t.throws(() => compareIds('x', '1-0'));
});

const RUN = 'a'.repeat(40);

test('the first connection starts at the end, and drops only if the mount served before it', (t) => {
  const facts = { runId: RUN, stream: { lastGeneratedId: '5-0', holdsPosition: true } };
  t.deepEqual(decideSync(facts, { missedBefore: false }), { action: 'catch-up', from: '5-0' });
  t.is(decideSync(facts, { missedBefore: true }).action, 'drop');
  t.deepEqual(decideSync({ runId: RUN }, { missedBefore: false }), { action: 'catch-up', from: '0-0' }, 'no stream yet');
});

test('a reconnect to the same server catches up while the last entry read is still in the stream', (t) => {
  const reader = { position: '5-0', runId: RUN, missedBefore: false };
  t.deepEqual(decideSync({ runId: RUN, stream: { lastGeneratedId: '9-0', holdsPosition: true } }, reader), { action: 'catch-up', from: '5-0' });
  t.deepEqual(decideSync({ runId: RUN, stream: { lastGeneratedId: '5-0', holdsPosition: true } }, reader), { action: 'catch-up', from: '5-0' });
  const trimmed = decideSync({ runId: RUN, stream: { lastGeneratedId: '9-0', holdsPosition: false } }, reader);
  t.is(trimmed.action, 'drop');
  t.is(trimmed.from, '9-0', 'and reads on from the end');
});

test('a restarted server, a vanished or a different stream all drop', (t) => {
  const reader = { position: '5-0', runId: RUN, missedBefore: false };
  t.like(decideSync({ runId: 'b'.repeat(40), stream: { lastGeneratedId: '9-0', holdsPosition: true } }, reader), { action: 'drop', reason: 'Redis restarted' });
  t.like(decideSync({ runId: RUN }, reader), { action: 'drop', from: '0-0' });
  t.like(decideSync({ runId: RUN, stream: { lastGeneratedId: '3-0', holdsPosition: true } }, reader), { action: 'drop' }, 'an end before the last id read');
  t.like(decideSync({ runId: RUN }, { position: '0-0', runId: RUN, missedBefore: false }), { action: 'catch-up' }, 'nothing was ever read: nothing lost');
});
