// The bound on parts in flight lends each holder a part buffer, reused from part to part (a
// fresh buffer per part made V8 collect garbage every few parts), and lets the buffers go once
// nothing is in flight for a while.

import test from 'ava';
import { PartSlots } from '../../src/fs/write/part-slots.js';

const PART = 1024;

test('holders in turn get the same buffer; at most one per slot exists', async (t) => {
  const slots = new PartSlots(2, PART, 60_000);
  const seen = new Set<Buffer>();
  for (let i = 0; i < 10; i++) {
    const [a, b] = await Promise.all([slots.acquire(), slots.acquire()]);
    t.is(a.buffer.length, PART);
    t.not(a.buffer, b.buffer, 'two holders never share a buffer');
    seen.add(a.buffer).add(b.buffer);
    a.release();
    b.release();
  }
  t.is(seen.size, 2, 'reused, never allocated again');
  t.is(slots.kept, 2);
});

test('a holder that needs no buffer takes none, and a third holder waits for a slot', async (t) => {
  const slots = new PartSlots(2, PART, 60_000);
  const a = await slots.acquire();
  const b = await slots.acquire();
  const used = a.buffer;
  let third: Awaited<ReturnType<PartSlots['acquire']>> | undefined;
  const waiting = slots.acquire().then((slot) => (third = slot));
  await new Promise((resolve) => setImmediate(resolve));
  t.is(third, undefined, 'waits while both slots are taken');
  b.release();
  await waiting;
  t.is(slots.kept, 0, 'the released holder had taken no buffer');
  a.release();
  t.is(third?.buffer, used, 'the buffer given back goes to the next holder');
  third?.release();
  t.is(slots.taken, 0);
});

test('buffers are let go once no part is in flight for the idle time', async (t) => {
  const slots = new PartSlots(2, PART, 20);
  const a = await slots.acquire();
  void a.buffer;
  a.release();
  t.is(slots.kept, 1);
  const b = await slots.acquire();
  // Taken again before the idle time ran out: kept.
  t.is(b.buffer.length, PART);
  b.release();
  while (slots.kept > 0) await new Promise((resolve) => setTimeout(resolve, 10));
  t.is(slots.kept, 0);
});

test('tryAcquire lends a free slot at once, and none while every slot is taken or waited for', async (t) => {
  const slots = new PartSlots(2, PART, 60_000);
  const a = slots.tryAcquire();
  t.truthy(a);
  t.is(a?.buffer.length, PART);
  const b = await slots.acquire();
  t.is(slots.tryAcquire(), undefined, 'both slots taken');
  let third: Awaited<ReturnType<PartSlots['acquire']>> | undefined;
  const waiting = slots.acquire().then((slot) => (third = slot));
  a?.release();
  await waiting;
  t.truthy(third, 'the waiting holder got the slot given back, not a later tryAcquire');
  t.is(slots.tryAcquire(), undefined);
  b.release();
  third?.release();
  const again = slots.tryAcquire();
  t.is(again?.buffer, a?.buffer, 'the kept buffer is lent again');
  again?.release();
  t.is(slots.taken, 0);
});
