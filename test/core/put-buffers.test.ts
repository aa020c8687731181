// A single PUT of a file of a megabyte or more reads it into a part buffer lent by the write
// stage, reused from PUT to PUT (a fresh buffer of megabytes per PUT costs page faults); a
// small file, or one closed while every part buffer is taken, is read as before.

import test from 'ava';
import type { PutBody } from '../../src/s3/object-store.js';
import { setupCore } from '../support/core.js';

const MiB = 1024 * 1024;

function recordPuts(core: ReturnType<typeof setupCore>): Array<{ key: string; into?: Buffer }> {
  const seen: Array<{ key: string; into?: Buffer }> = [];
  const put = core.store.put.bind(core.store);
  core.store.put = (key: string, body: PutBody, options) => {
    seen.push({ key, into: Buffer.isBuffer(body) ? undefined : body.into });
    return put(key, body, options);
  };
  return seen;
}

async function writeFile(core: ReturnType<typeof setupCore>, path: string, data: Buffer): Promise<void> {
  const handle = await core.fs.create(path, 0o644);
  for (let at = 0; at < data.length; at += 128 * 1024) await core.fs.write(handle, data.subarray(at, at + 128 * 1024), at);
  await core.fs.flush(handle);
  await core.fs.release(handle);
}

test('files of a megabyte or more are read into one lent buffer, PUT after PUT; small files are not', async (t) => {
  const core = setupCore();
  const seen = recordPuts(core);
  const big = Buffer.alloc(2 * MiB + 5, 'a');
  await writeFile(core, '/one.bin', big);
  await writeFile(core, '/two.bin', Buffer.alloc(3 * MiB, 'b'));
  await writeFile(core, '/small.txt', Buffer.alloc(4096, 'c'));
  t.deepEqual(
    seen.map((put) => put.key),
    ['one.bin', 'two.bin', 'small.txt'],
  );
  t.truthy(seen[0].into, 'the 2 MiB file was read into a lent buffer');
  t.true((seen[0].into?.length ?? 0) >= big.length);
  t.is(seen[1].into, seen[0].into, 'the same buffer, lent again');
  t.is(seen[2].into, undefined, 'a small file is read as before');
  t.true(core.store.getObject('one.bin')?.equals(big));
  t.is(core.store.getObject('two.bin')?.length, 3 * MiB);
});
