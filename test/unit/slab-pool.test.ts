// The slabs of large sequential reads: bounded, reused, handed back only when nothing holds them.
import test from 'ava';
import { SlabPool } from '../../src/fs/read/slab-pool.js';

test('slabs are bounded in bytes, reused, and back in the pool at the last release', (t) => {
  const pool = new SlabPool(1024, 3 * 1024);
  const a = pool.take();
  const b = pool.take();
  const c = pool.take();
  t.truthy(a && b && c);
  t.is(pool.take(), undefined, 'the bound holds');
  pool.hold(a!);
  pool.release(a!);
  t.is(pool.take(), undefined, 'still held once');
  pool.release(a!);
  const again = pool.take();
  t.is(again, a, 'the same memory, handed out again');
  t.throws(
    () => {
      pool.release(b!);
      pool.release(b!);
    },
    { message: /released more often than held/ },
  );
  t.deepEqual(pool.stats(), { slabBytes: 1024, slabs: 3, idle: 1, maxBytes: 3 * 1024 }, 'b is back, a and c are out');
});

test('reserve makes every slab up front, idle', (t) => {
  const pool = new SlabPool(1024, 4 * 1024);
  pool.reserve();
  t.deepEqual(pool.stats(), { slabBytes: 1024, slabs: 4, idle: 4, maxBytes: 4 * 1024 });
});
