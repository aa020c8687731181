// The FUSE adapter's contract: every handler calls back exactly once, first with a number,
// whatever the core does (answers, rejects with an FsError, rejects with anything, throws).

import { constants } from 'node:os';
import test from 'ava';
import { FsError } from '../../src/fs/errors.js';
import type { Attr, Filesystem } from '../../src/fs/types.js';
import { createFuseOperations } from '../../src/fuse/adapter.js';
import { silentLogger } from '../../src/log.js';

const attr: Attr = { mode: 0o100644, size: 3, uid: 1, gid: 1, nlink: 1, mtime: new Date(0), atime: new Date(0), ctime: new Date(0) };

type Behaviour = 'answer' | 'fs-error' | 'other-error' | 'throw';

function fakeCore(behaviour: Behaviour): Filesystem {
  return new Proxy({} as Filesystem, {
    get: (_target, name: string) => () => {
      if (behaviour === 'throw') throw new Error('synchronous bug');
      // Nothing is known without the core's asynchronous answer.
      if (name === 'attrIfKnown') return undefined;
      if (behaviour === 'fs-error') return Promise.reject(new FsError('ENOENT'));
      if (behaviour === 'other-error') return Promise.reject(new TypeError('bug'));
      switch (name) {
        case 'getattr':
          return Promise.resolve(attr);
        case 'readdir':
          return Promise.resolve([{ name: 'x', mode: attr.mode }]);
        case 'open':
        case 'create':
          return Promise.resolve(7);
        case 'read':
          return Promise.resolve(Buffer.from('abc'));
        case 'readInto':
          return Promise.resolve(3);
        case 'write':
          return Promise.resolve(3);
        case 'readlink':
          return Promise.resolve('target');
        case 'statfs':
          return Promise.resolve({ bsize: 1 });
        default:
          return Promise.resolve();
      }
    },
  });
}

// Arguments in fuse-native's order for each handler, before the callback.
const calls: Record<string, unknown[]> = {
  getattr: ['/p'],
  readdir: ['/p'],
  open: ['/p', 0],
  create: ['/p', 0o644],
  read: ['/p', 7, Buffer.alloc(8), 8, 0],
  write: ['/p', 7, Buffer.from('abc'), 3, 0],
  flush: ['/p', 7],
  fsync: ['/p', 0, 7],
  release: ['/p', 7],
  truncate: ['/p', 0],
  ftruncate: ['/p', 7, 0],
  fallocate: ['/p', 7, 0, 0, 1],
  unlink: ['/p'],
  mkdir: ['/p', 0o755],
  rmdir: ['/p'],
  rename: ['/p', '/q'],
  chmod: ['/p', 0o600],
  chown: ['/p', 1, 1],
  utimens: ['/p', { sec: 0, nsec: 0 }, { sec: 0, nsec: 0 }],
  symlink: ['t', '/p'],
  readlink: ['/p'],
  link: ['/p', '/q'],
  mknod: ['/p', 0, 0],
  statfs: ['/p'],
  access: ['/p', 0],
};

async function invoke(behaviour: Behaviour, name: string): Promise<unknown[][]> {
  const operations = createFuseOperations(fakeCore(behaviour), silentLogger()) as unknown as Record<string, (...args: unknown[]) => void>;
  const replies: unknown[][] = [];
  operations[name](...calls[name], (...reply: unknown[]) => replies.push(reply));
  await new Promise((resolve) => setTimeout(resolve, 5));
  return replies;
}

test('every operation s3mount registers is covered here', (t) => {
  const registered = Object.keys(createFuseOperations(fakeCore('answer'), silentLogger())).sort();
  t.deepEqual(registered, Object.keys(calls).sort());
});

for (const behaviour of ['answer', 'fs-error', 'other-error', 'throw'] as const) {
  test(`each handler replies once with a number when the core does "${behaviour}"`, async (t) => {
    for (const name of Object.keys(calls)) {
      const replies = await invoke(behaviour, name);
      t.is(replies.length, 1, name);
      t.is(typeof replies[0][0], 'number', name);
      if (behaviour === 'fs-error') t.is(replies[0][0], -constants.errno.ENOENT, name);
      if (behaviour === 'other-error' || behaviour === 'throw') t.is(replies[0][0], -constants.errno.EIO, name);
    }
  });
}

test('read has the core fill the kernel buffer and answers the count', async (t) => {
  const core = {
    readInto: async (_handle: number, _position: number, length: number, into: Buffer) => into.write('abc'.slice(0, length)),
  } as unknown as Filesystem;
  const operations = createFuseOperations(core, silentLogger());
  const buffer = Buffer.alloc(8);
  const code = await new Promise<number>((resolve) => operations.read('/p', 7, buffer, 8, 0, (n: number) => resolve(n)));
  t.is(code, 3);
  t.is(buffer.subarray(0, 3).toString(), 'abc');
});

test('getattr answers at once from what the core knows, and asks the usual way otherwise', async (t) => {
  let asked = 0;
  const core = {
    attrIfKnown: (path: string) => (path === '/known' ? attr : undefined),
    getattr: async () => (asked++, { ...attr, size: 99 }),
  } as unknown as Filesystem;
  const operations = createFuseOperations(core, silentLogger());
  const replies: unknown[][] = [];
  operations.getattr('/known', (...reply: unknown[]) => replies.push(reply));
  t.is(replies.length, 1, 'answered before any promise settled');
  t.like(replies[0][1] as object, { size: 3 });
  t.is(asked, 0);
  const other = await new Promise<unknown[]>((resolve) => operations.getattr('/other', (...reply: unknown[]) => resolve(reply)));
  t.like(other[1] as object, { size: 99 });
  t.is(asked, 1);
});

test('write answers the byte count', async (t) => {
  t.deepEqual(await invoke('answer', 'write'), [[3]]);
});

test('a write the core did at once (a number, no promise) is answered before the handler returns', (t) => {
  const core = { write: (_handle: number, data: Buffer) => data.length } as unknown as Filesystem;
  const operations = createFuseOperations(core, silentLogger());
  const replies: unknown[][] = [];
  operations.write('/p', 7, Buffer.from('abcd'), 3, 0, (...reply: unknown[]) => replies.push(reply));
  t.deepEqual(replies, [[3]], 'answered synchronously, with the count of the bytes handed over');
});

test('with keepAttributes, getattr answers say how long the binding may keep them', async (t) => {
  const lifetimes: Record<string, number> = { '/listed': 5_000.7, '/unbounded': Number.POSITIVE_INFINITY, '/brief': 8 };
  const core = {
    attrIfKnown: (path: string, lifetime?: { ms: number }) => {
      if (!(path in lifetimes)) return undefined;
      if (lifetime) lifetime.ms = Math.min(lifetime.ms, lifetimes[path]);
      return attr;
    },
    getattr: async () => ({ ...attr, size: 99 }),
    attrLifetimeMs: (path: string) => (path === '/headed' ? 2_000 : 0),
  } as unknown as Filesystem;
  const reply = (operations: ReturnType<typeof createFuseOperations>, path: string) =>
    new Promise<unknown[]>((resolve) => operations.getattr(path, (...values: unknown[]) => resolve(values)));
  const keeping = createFuseOperations(core, silentLogger(), { keepAttributes: true });
  t.is((await reply(keeping, '/listed'))[2], 4_990, 'a margin below the time the core gave');
  t.is((await reply(keeping, '/unbounded')).length, 2, 'nothing bounded it: not kept');
  t.is((await reply(keeping, '/brief')).length, 2, 'too short to keep');
  t.is((await reply(keeping, '/headed'))[2], 1_990, 'answered the usual way, then known at once');
  t.is((await reply(keeping, '/other')).length, 2);
  const plain = createFuseOperations(core, silentLogger());
  t.is((await reply(plain, '/listed')).length, 2, 'without the binding cache, no keep time');
  t.is((await reply(plain, '/headed')).length, 2);
});
