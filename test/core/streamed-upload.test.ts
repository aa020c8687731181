// Uploads while writing, in the core over the in-memory store (5 MiB parts): parts go while
// the file is open, an unlink or an attribute change gives the upload up (aborted before the
// call returns, no parts left), the times a file shows are those its upload carries, and a
// file cut below the part size is one PUT.

import test from 'ava';
import type { Filesystem } from '../../src/fs/types.js';
import { PARTS_IN_FLIGHT } from '../../src/fs/write/write-stage.js';
import { setupCore as setup } from '../support/core.js';
import { patternBytes } from '../support/pattern.js';

const MiB = 1024 * 1024;
const PART = 5 * MiB;
// FUSE's largest write.
const WRITE = 128 * 1024;

async function writeSequentially(fs: Filesystem, handle: number, offset: number, data: Buffer): Promise<void> {
  for (let done = 0; done < data.length; done += WRITE) await fs.write(handle, data.subarray(done, done + WRITE), offset + done);
}

test('parts filled by sequential writes go before the flush, which sends the rest and completes', async (t) => {
  const { store, calls, fs, settled } = setup();
  const data = patternBytes(2 * PART + 1000, 1);
  const handle = await fs.create('/big.bin', 0o644);
  await writeSequentially(fs, handle, 0, data);
  await settled();
  t.is(calls.put, 2, 'parts 1 and 2 sent while the file is open');
  t.is(store.uploadsInProgress().length, 1);
  t.is(store.getObject('big.bin'), undefined, 'nothing shows before the flush');
  await fs.flush(handle);
  t.is(calls.put, 3, 'the flush sent the last part');
  t.true(store.getObject('big.bin')?.equals(data));
  t.regex(store.info('big.bin')?.etag ?? '', /-3"$/);
  t.deepEqual(store.uploadsInProgress(), []);
  await fs.release(handle);
});

test('random writes send nothing before the flush', async (t) => {
  const { store, calls, fs, settled } = setup();
  const handle = await fs.create('/random.bin', 0o644);
  const data = patternBytes(2 * PART + 1000, 2);
  // Back to front: no write starts where the last one ended or at the end of the file.
  for (let offset = data.length - WRITE; offset > -WRITE; offset -= WRITE) {
    const start = Math.max(0, offset);
    await fs.write(handle, data.subarray(start, offset + WRITE), start);
  }
  await settled();
  t.is(calls.put, 0);
  await fs.flush(handle);
  t.true(store.getObject('random.bin')?.equals(data));
  t.deepEqual(store.uploadsInProgress(), []);
  await fs.release(handle);
});

test('unlink of an open file whose parts are on their way aborts the upload before it returns', async (t) => {
  const { store, fs, settled } = setup();
  const handle = await fs.create('/doomed.bin', 0o644);
  await writeSequentially(fs, handle, 0, patternBytes(2 * PART + 1000, 3));
  await settled();
  t.is(store.uploadsInProgress().length, 1);
  await fs.unlink('/doomed.bin');
  t.deepEqual(store.uploadsInProgress(), [], 'aborted: no parts left');
  await writeSequentially(fs, handle, 2 * PART + 1000, patternBytes(PART, 4));
  await fs.flush(handle);
  await fs.release(handle);
  await settled();
  t.is(store.getObject('doomed.bin'), undefined);
  t.deepEqual(store.uploadsInProgress(), [], 'writes after the unlink start no upload');
});

test('the times a file shows while its upload is under way are those the upload carries', async (t) => {
  const { store, fs, settled } = setup();
  const handle = await fs.create('/timed.bin', 0o644);
  await writeSequentially(fs, handle, 0, patternBytes(PART + 1000, 5));
  await settled();
  const during = await fs.getattr('/timed.bin');
  await new Promise((resolve) => setTimeout(resolve, 20));
  await writeSequentially(fs, handle, PART + 1000, patternBytes(PART, 6));
  t.deepEqual((await fs.getattr('/timed.bin')).mtime, during.mtime, 'later writes keep the times sent');
  await fs.flush(handle);
  await fs.release(handle);
  const metadata = store.info('timed.bin')?.metadata ?? {};
  const seconds = (date: Date) => date.getTime() / 1000;
  t.is(Number(metadata.mtime), seconds(during.mtime), 'S3 holds the mtime the file showed');
  t.deepEqual((await fs.getattr('/timed.bin')).mtime, during.mtime, 'and shows it after the close');
});

test('chmod while parts are on their way gives the upload up; the flush uploads anew with the new mode', async (t) => {
  const { store, fs, settled } = setup();
  const handle = await fs.create('/moded.bin', 0o644);
  const data = patternBytes(2 * PART + 1000, 7);
  await writeSequentially(fs, handle, 0, data);
  await settled();
  t.is(store.uploadsInProgress().length, 1);
  await fs.chmod('/moded.bin', 0o600);
  await settled();
  t.deepEqual(store.uploadsInProgress(), [], 'the upload carrying the old mode was aborted');
  await fs.flush(handle);
  await fs.release(handle);
  t.true(store.getObject('moded.bin')?.equals(data));
  t.is(store.info('moded.bin')?.metadata?.mode, String(0o100600));
});

test('a file cut below the part size after parts went is one PUT, and the parts go', async (t) => {
  const { store, fs, settled } = setup();
  const handle = await fs.create('/shrunk.bin', 0o644);
  await writeSequentially(fs, handle, 0, patternBytes(2 * PART + 1000, 8));
  await settled();
  await fs.ftruncate(handle, 1000);
  await fs.flush(handle);
  t.deepEqual(store.uploadsInProgress(), []);
  t.true(store.getObject('shrunk.bin')?.equals(patternBytes(1000, 8)));
  t.regex(store.info('shrunk.bin')?.etag ?? '', /^"[0-9a-f]{32}"$/, 'a single PUT');
  await fs.release(handle);
});

test('parts are read into buffers reused from part to part, at most one per part in flight, and arrive whole', async (t) => {
  const { store, faults, fs, settled } = setup();
  const buffers = new Set<Buffer>();
  const uploadPart = faults.uploadPart.bind(faults);
  faults.uploadPart = async (key, uploadId, partNumber, body) => {
    if (!Buffer.isBuffer(body) && body.into) buffers.add(body.into);
    return uploadPart(key, uploadId, partNumber, body);
  };
  // Three files of 4 parts and a bit, written side by side: 12 full parts, then the flushes.
  const files = [0, 1, 2].map((i) => ({ path: `/many-${i}.bin`, data: patternBytes(4 * PART + 1000 * (i + 1), 10 + i) }));
  const handles = await Promise.all(files.map((file) => fs.create(file.path, 0o644)));
  await Promise.all(files.map((file, i) => writeSequentially(fs, handles[i], 0, file.data)));
  await Promise.all(handles.map((handle) => fs.flush(handle)));
  await settled();
  for (const file of files) t.true(store.getObject(file.path.slice(1))?.equals(file.data), file.path);
  t.true(buffers.size >= 1 && buffers.size <= PARTS_IN_FLIGHT, `${buffers.size} buffers for 15 parts`);
  for (const buffer of buffers) t.is(buffer.length, PART);
  await Promise.all(handles.map((handle) => fs.release(handle)));
});
