// An upload sends one state of a file: writes that come while it reads the staged copy wait
// for it, whether they would otherwise be done at once (the fast path of a stream) or not,
// and the next flush sends them.

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { setupCore } from '../support/core.js';

test('a write during an upload waits for it; the upload sends the bytes of its start, the next flush the rest', async (t) => {
  const { fs, faults, store } = setupCore();
  const handle = await fs.create('/f', 0o644);
  await fs.write(handle, Buffer.from('aaaa'), 0);
  await fs.fsync(handle);
  await fs.write(handle, Buffer.from('bbbb'), 4); // dirty again: later writes may be done at once
  let release!: () => void;
  let held!: () => void;
  const putHeld = new Promise<void>((resolve) => (held = resolve));
  faults.beforeCall = async (operation) => {
    if (operation !== 'put') return;
    faults.beforeCall = undefined;
    held();
    await new Promise<void>((resolve) => (release = resolve));
  };
  const syncing = fs.fsync(handle);
  await putHeld;
  let written = false;
  const writing = Promise.resolve(fs.write(handle, Buffer.from('cccc'), 8)).then((count) => {
    written = true;
    return count;
  });
  await new Promise((resolve) => setImmediate(resolve));
  t.false(written, 'the write waits while the upload reads the copy');
  release();
  await syncing;
  t.is(await writing, 4);
  t.is(store.getObject('f')?.toString(), 'aaaabbbb', 'the upload sent the state of its start');
  await fs.flush(handle);
  await fs.release(handle);
  t.is(store.getObject('f')?.toString(), 'aaaabbbbcccc');
});

test('the first write after a save is journaled (the sidecar says dirty) before it is answered', async (t) => {
  const { fs, stagingDirectory } = setupCore();
  const handle = await fs.create('/j', 0o644);
  await fs.write(handle, Buffer.from('aaaa'), 0);
  await fs.fsync(handle);
  const sidecars = async () => {
    const names = (await readdir(stagingDirectory, { recursive: true })).filter((name) => name.endsWith('.json'));
    return Promise.all(names.map(async (name) => JSON.parse(await readFile(join(stagingDirectory, name), 'utf8')) as { key: string; dirty: boolean }));
  };
  t.like(
    (await sidecars()).find((sidecar) => sidecar.key === 'j'),
    { dirty: false },
    'saved',
  );
  await fs.write(handle, Buffer.from('bbbb'), 4);
  t.like(
    (await sidecars()).find((sidecar) => sidecar.key === 'j'),
    { dirty: true },
    'journaled before the write was answered',
  );
  await fs.flush(handle);
  await fs.release(handle);
});
