// The core's side of native reads (src/fs/read/native-blocks.ts) over a fake disk tier and a
// fake binding: what is registered for a handle, and what takes registrations away (the
// handle's release, a block leaving the disk, a release while a block was being pinned).

import test from 'ava';
import type { BlockId } from '../../src/cache/block-cache.js';
import type { BlockTier, PinnedBlock } from '../../src/cache/block-tier.js';
import type { ReadTarget } from '../../src/fs/nodes.js';
import { NativeBlocks, type NativeReadSink } from '../../src/fs/read/native-blocks.js';
import { silentLogger } from '../../src/log.js';

const MIB = 1024 * 1024;
const target: ReadTarget = { key: 'k', etag: '"e"', size: 4 * MIB };
const tick = () => new Promise((resolve) => setImmediate(resolve));

function setup(options: { refuse?: boolean } = {}) {
  const held = new Set<number>([0, 1, 2, 3]);
  const listeners = new Set<(token: string | undefined) => void>();
  let nextFd = 100;
  const pending: Array<() => void> = [];
  let gate = false;
  const disk = {
    has: (id: BlockId) => held.has(id.index),
    pin: async (id: BlockId): Promise<PinnedBlock | undefined> => {
      if (gate) await new Promise<void>((resolve) => pending.push(resolve));
      return held.has(id.index) ? { fd: nextFd++, offset: 40, length: MIB, token: `t${id.index}` } : undefined;
    },
    watchDrops: (listener: (token: string | undefined) => void) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  } as unknown as BlockTier & Required<Pick<BlockTier, 'pin' | 'watchDrops'>>;
  const registered = new Map<string, number>();
  const closed: number[] = [];
  const sink: NativeReadSink = {
    register: (handle, _blockSize, _size, index, fd) => {
      if (options.refuse) return false;
      registered.set(`${handle}:${index}`, fd);
      return true;
    },
    dropHandle: (handle) => {
      for (const key of [...registered.keys()]) if (key.startsWith(`${handle}:`)) registered.delete(key);
    },
    dropBlock: (handle, index) => registered.delete(`${handle}:${index}`),
  };
  const native = new NativeBlocks(disk, sink, silentLogger(), { bucket: 'b', blockSize: MIB, ahead: 1, closeFd: (fd) => closed.push(fd) });
  return {
    native,
    registered,
    closed,
    drop: (token: string | undefined) => {
      if (token) held.delete(Number(token.slice(1)));
      for (const listener of listeners) listener(token);
    },
    hold: () => (gate = true),
    letGo: () => {
      gate = false;
      for (const resolve of pending.splice(0)) resolve();
    },
  };
}

test('the blocks a handle read, and one ahead when sequential, are registered; its release takes them away', async (t) => {
  const { native, registered } = setup();
  native.offer(7, target, 0, MIB / 2, true);
  await tick();
  t.deepEqual([...registered.keys()].sort(), ['7:0', '7:1']);
  native.offer(8, target, 3 * MIB, 4 * MIB, false);
  await tick();
  t.true(registered.has('8:3'));
  native.release(7);
  t.deepEqual([...registered.keys()], ['8:3']);
});

test('a block leaving the disk is dropped from every handle holding it; everything goes at a clear', async (t) => {
  const { native, registered, drop } = setup();
  native.offer(1, target, 0, 2 * MIB, false);
  native.offer(2, target, MIB, 2 * MIB, false);
  await tick();
  t.deepEqual([...registered.keys()].sort(), ['1:0', '1:1', '2:1']);
  drop('t1');
  t.deepEqual([...registered.keys()], ['1:0']);
  drop(undefined);
  t.is(registered.size, 0);
});

test('a block pinned for a handle released meanwhile, or refused by the binding, has its descriptor closed', async (t) => {
  const { native, registered, closed, hold, letGo } = setup();
  hold();
  native.offer(3, target, 0, MIB, false);
  native.release(3);
  letGo();
  await tick();
  t.is(registered.size, 0);
  t.is(closed.length, 1);
  const refusing = setup({ refuse: true });
  refusing.native.offer(4, target, 0, MIB, false);
  await tick();
  t.is(refusing.closed.length, 1);
});

test('a block that left the disk while it was being pinned is not registered', async (t) => {
  const { native, registered, closed, drop, hold, letGo } = setup();
  hold();
  native.offer(5, target, 0, MIB, false);
  drop('t0');
  letGo();
  await tick();
  t.is(registered.size, 0);
  t.true(closed.length <= 1);
});
