// A staged copy written in order from empty keeps its SHA-256 as it is written, and its PUT
// carries it (a signed PUT need not hash the bytes again). Whenever the bytes stop being such
// a run (a write elsewhere, a truncate to another size, a copy started from an object), no
// hash is offered; a truncate to zero starts a new one. What is offered is always the hash of
// exactly the bytes stored.

import { createHash } from 'node:crypto';
import test from 'ava';
import type { PutOptions } from '../../src/s3/object-store.js';
import { setupCore } from '../support/core.js';

type Core = ReturnType<typeof setupCore>;

function recordHashes(core: Core): Map<string, string | undefined> {
  const offered = new Map<string, string | undefined>();
  const put = core.store.put.bind(core.store);
  core.store.put = (key, body, options?: PutOptions) => {
    offered.set(key, options?.sha256);
    return put(key, body, options);
  };
  return offered;
}

const sha256 = (bytes: Buffer | undefined) =>
  createHash('sha256')
    .update(bytes ?? Buffer.alloc(0))
    .digest('hex');
const chunk = (length: number, fill: string) => Buffer.alloc(length, fill);

async function close(core: Core, handle: number): Promise<void> {
  await core.fs.flush(handle);
  await core.fs.release(handle);
}

test('written in order from empty: the PUT carries the hash of the stored bytes, fsync after fsync', async (t) => {
  const core = setupCore();
  const offered = recordHashes(core);
  const handle = await core.fs.create('/log.txt', 0o644);
  await core.fs.write(handle, chunk(128 * 1024, 'a'), 0);
  await core.fs.write(handle, chunk(1000, 'b'), 128 * 1024);
  await core.fs.fsync(handle);
  t.is(offered.get('log.txt'), sha256(core.store.getObject('log.txt')));
  await core.fs.write(handle, chunk(300 * 1024, 'c'), 128 * 1024 + 1000);
  await close(core, handle);
  const stored = core.store.getObject('log.txt');
  t.is(stored?.length, 128 * 1024 + 1000 + 300 * 1024);
  t.is(offered.get('log.txt'), sha256(stored), 'the hash went on past the fsync');
});

test('a write elsewhere, or a truncate to another size, offers no hash; a truncate to zero starts again', async (t) => {
  const core = setupCore();
  const offered = recordHashes(core);
  const rewritten = await core.fs.create('/rewritten', 0o644);
  await core.fs.write(rewritten, chunk(4096, 'a'), 0);
  await core.fs.write(rewritten, chunk(10, 'z'), 100);
  await close(core, rewritten);
  t.true(core.store.getObject('rewritten')?.subarray(100, 110).equals(chunk(10, 'z')));
  t.is(offered.get('rewritten'), undefined, 'rewritten in place');

  const gap = await core.fs.create('/gap', 0o644);
  await core.fs.write(gap, chunk(10, 'a'), 0);
  await core.fs.write(gap, chunk(10, 'b'), 20);
  await close(core, gap);
  t.is(offered.get('gap'), undefined, 'a hole');

  const backwards = await core.fs.create('/backwards', 0o644);
  await core.fs.write(backwards, chunk(10, 'b'), 10);
  await core.fs.write(backwards, chunk(10, 'a'), 0);
  await close(core, backwards);
  t.is(core.store.getObject('backwards')?.toString(), 'aaaaaaaaaabbbbbbbbbb');
  t.is(offered.get('backwards'), undefined, 'every byte written once, not in order');

  const grown = await core.fs.create('/grown', 0o644);
  await core.fs.write(grown, chunk(10, 'a'), 0);
  await core.fs.ftruncate(grown, 50);
  await close(core, grown);
  t.is(core.store.getObject('grown')?.length, 50);
  t.is(offered.get('grown'), undefined, 'grown by truncate');

  const restarted = await core.fs.create('/restarted', 0o644);
  await core.fs.write(restarted, chunk(5000, 'a'), 0);
  await core.fs.write(restarted, chunk(5, 'x'), 2);
  await core.fs.ftruncate(restarted, 0);
  await core.fs.write(restarted, chunk(700, 'b'), 0);
  await close(core, restarted);
  t.true(core.store.getObject('restarted')?.equals(chunk(700, 'b')));
  t.is(offered.get('restarted'), sha256(chunk(700, 'b')), 'a new run from zero');
});

test('an existing object opened for writing offers no hash unless truncated to zero first', async (t) => {
  const core = setupCore();
  core.store.putObject('old.txt', 'old contents');
  core.store.putObject('emptied.txt', 'old contents');
  const offered = recordHashes(core);
  const appended = await core.fs.open('/old.txt', 2);
  await core.fs.write(appended, Buffer.from(' and more'), 12);
  await close(core, appended);
  t.is(core.store.getObject('old.txt')?.toString(), 'old contents and more');
  t.is(offered.get('old.txt'), undefined);

  const emptied = await core.fs.open('/emptied.txt', 2);
  await core.fs.ftruncate(emptied, 0);
  await core.fs.write(emptied, Buffer.from('new'), 0);
  await close(core, emptied);
  t.is(core.store.getObject('emptied.txt')?.toString(), 'new');
  t.is(offered.get('emptied.txt'), sha256(Buffer.from('new')));
});
