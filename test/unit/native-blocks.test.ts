// The core's side of native reads (src/fs/read/native-blocks.ts) over a fake disk tier and a
// fake binding: blocks registered per object version, handles attached to the version they
// read, and what takes registrations away (a block leaving the disk, the bound on open
// descriptors) or detaches a handle (its release).

import test from 'ava';
import type { BlockId } from '../../src/cache/block-cache.js';
import type { BlockTier, PinnedBlock } from '../../src/cache/block-tier.js';
import type { ReadTarget } from '../../src/fs/nodes.js';
import { NativeBlocks, type NativeReadSink } from '../../src/fs/read/native-blocks.js';
import { silentLogger } from '../../src/log.js';

const MIB = 1024 * 1024;
const target: ReadTarget = { key: 'k', etag: '"e"', size: 4 * MIB };
const tick = () => new Promise((resolve) => setImmediate(resolve));

function setup(options: { refuse?: boolean; maxBlocks?: number } = {}) {
  const held = new Set<string>();
  for (const key of ['k', 'other']) for (const etag of ['"e"', '"f"']) for (let i = 0; i < 4; i++) held.add(`${key}${etag}${i}`);
  const listeners = new Set<(token: string | undefined) => void>();
  let nextFd = 100;
  const pending: Array<() => void> = [];
  let gate = false;
  const name = (id: BlockId) => `${id.key}${id.etag}${id.index}`;
  const disk = {
    has: (id: BlockId) => held.has(name(id)),
    pin: async (id: BlockId): Promise<PinnedBlock | undefined> => {
      if (gate) await new Promise<void>((resolve) => pending.push(resolve));
      return held.has(name(id)) ? { fd: nextFd++, offset: 40, length: MIB, token: name(id) } : undefined;
    },
    watchDrops: (listener: (token: string | undefined) => void) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  } as unknown as BlockTier & Required<Pick<BlockTier, 'pin' | 'watchDrops'>>;
  // What the binding holds: blocks by "version:index", handles → their version.
  const registered = new Map<string, number>();
  const attached = new Map<number, number>();
  const closed: number[] = [];
  const sink: NativeReadSink = {
    register: (version, _blockSize, _size, index, fd) => {
      if (options.refuse) return false;
      registered.set(`${version}:${index}`, fd);
      return true;
    },
    attach: (handle, version) => attached.set(handle, version),
    dropHandle: (handle) => attached.delete(handle),
    dropBlock: (version, index) => registered.delete(`${version}:${index}`),
  };
  const native = new NativeBlocks(disk, sink, silentLogger(), {
    bucket: 'b',
    blockSize: MIB,
    ahead: 1,
    maxBlocks: options.maxBlocks ?? 100,
    closeFd: (fd) => closed.push(fd),
  });
  /** The blocks the binding would answer `handle`'s reads from. */
  const servable = (handle: number) => {
    const version = attached.get(handle);
    return [...registered.keys()]
      .filter((key) => version !== undefined && key.startsWith(`${version}:`))
      .map((key) => Number(key.split(':')[1]))
      .sort();
  };
  return {
    native,
    registered,
    attached,
    servable,
    closed,
    drop: (token: string | undefined) => {
      if (token) held.delete(token);
      for (const listener of listeners) listener(token);
    },
    hold: () => (gate = true),
    letGo: () => {
      gate = false;
      for (const resolve of pending.splice(0)) resolve();
    },
  };
}

test('the blocks a handle read, and one ahead when sequential, are registered for its version; its release detaches it', async (t) => {
  const { native, servable, attached } = setup();
  native.offer(7, target, 0, MIB / 2, true);
  await tick();
  t.deepEqual(servable(7), [0, 1]);
  native.offer(8, target, 3 * MIB, 4 * MIB, false);
  await tick();
  t.deepEqual(servable(8), [0, 1, 3]);
  native.release(7);
  t.false(attached.has(7));
  t.deepEqual(servable(8), [0, 1, 3]);
});

test('a handle attached to a version is answered from blocks other handles registered for it, and only that version', async (t) => {
  const { native, servable } = setup();
  native.offer(1, target, 0, 2 * MIB, false);
  await tick();
  native.release(1);
  // Opened later, after the first handle was released: its reads find the blocks.
  t.truthy(native.attach(2, target));
  t.deepEqual(servable(2), [0, 1]);
  // Another version of the key, and another key, see none of them.
  native.attach(3, { ...target, etag: '"f"' });
  native.attach(4, { ...target, key: 'other' });
  t.deepEqual(servable(3), []);
  t.deepEqual(servable(4), []);
  // A handle stays with the version it read: no move to another one.
  t.is(native.attach(2, { ...target, etag: '"f"' }), undefined);
  t.deepEqual(servable(2), [0, 1]);
});

test('a block leaving the disk is dropped for every handle reading its version; everything goes at a clear', async (t) => {
  const { native, servable, registered, drop } = setup();
  native.offer(1, target, 0, 2 * MIB, false);
  native.offer(2, target, MIB, 2 * MIB, false);
  await tick();
  t.is(registered.size, 2);
  drop('k"e"1');
  t.deepEqual(servable(1), [0]);
  t.deepEqual(servable(2), [0]);
  drop(undefined);
  t.is(registered.size, 0);
  t.is(native.registeredBlocks, 0);
});

test('at the bound, the blocks of the least recently read version no handle reads go first; those of read ones stay', async (t) => {
  const { native, servable, registered } = setup({ maxBlocks: 4 });
  const old = { ...target, key: 'other' };
  native.offer(1, old, 0, 2 * MIB, false);
  await tick();
  native.offer(2, target, 0, 2 * MIB, false);
  await tick();
  t.is(registered.size, 4);
  // The old version is still read: nothing of it goes, and the new block is refused.
  native.offer(2, target, 2 * MIB, 3 * MIB, false);
  await tick();
  t.deepEqual(servable(1), [0, 1]);
  t.deepEqual(servable(2), [0, 1]);
  native.release(1);
  native.offer(2, target, 2 * MIB, 4 * MIB, false);
  await tick();
  t.deepEqual(servable(2), [0, 1, 2, 3]);
  t.is(registered.size, 4);
  t.is(native.registeredBlocks, 4);
  native.attach(3, old);
  t.deepEqual(servable(3), []);
});

test('a block pinned for a handle released meanwhile is kept for its version; one refused by the binding has its descriptor closed', async (t) => {
  const { native, servable, closed, hold, letGo } = setup();
  hold();
  native.offer(3, target, 0, MIB, false);
  native.release(3);
  letGo();
  await tick();
  native.attach(4, target);
  t.deepEqual(servable(4), [0]);
  t.is(closed.length, 0);
  const refusing = setup({ refuse: true });
  refusing.native.offer(4, target, 0, MIB, false);
  await tick();
  t.is(refusing.closed.length, 1);
});

test('a block that left the disk while it was being pinned is not registered', async (t) => {
  const { native, registered, closed, drop, hold, letGo } = setup();
  hold();
  native.offer(5, target, 0, MIB, false);
  drop('k"e"0');
  letGo();
  await tick();
  t.is(registered.size, 0);
  t.true(closed.length <= 1);
});
