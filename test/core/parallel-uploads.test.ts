// Files closed at the same time upload at the same time, up to a bound. PUTs are held in the
// store until every upload is accounted for (held there, or waiting for a slot in the write
// stage): what is counted then is how many were in flight at once, never how long anything took.

import test from 'ava';
import { setupCore } from '../support/core.js';

/**
 * Closes `files` new files at once with PUTs held as described above; returns the most PUTs
 * that were ever in flight together. Fails when the uploads stop coming (serialized behind a
 * held one) for 30 s.
 */
async function closeAtOnce(core: ReturnType<typeof setupCore>, files: number): Promise<{ maxInFlight: number; waitingSeen: number }> {
  const { fs, faults, store } = core;
  let inFlight = 0;
  let maxInFlight = 0;
  let done = 0;
  let waitingSeen = 0;
  let held: Array<() => void> = [];
  faults.beforeCall = async (operation) => {
    if (operation !== 'put') return;
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise<void>((resolve) => held.push(resolve));
  };
  faults.afterCall = (operation) => {
    if (operation !== 'put') return;
    inFlight--;
    done++;
  };
  const handles = await Promise.all(Array.from({ length: files }, (_, i) => fs.create(`/many/f${i}`, 0o644)));
  await Promise.all(handles.map((handle, i) => fs.write(handle, Buffer.from(`file ${i}`), 0)));
  const closing = Promise.all(handles.map((handle) => fs.flush(handle).then(() => fs.release(handle))));
  const deadline = Date.now() + 30_000;
  while (done < files) {
    const { waiting } = fs.uploads;
    if (held.length > 0 && held.length + waiting + done === files) {
      waitingSeen = Math.max(waitingSeen, waiting);
      const release = held;
      held = [];
      for (const resume of release) resume();
    }
    if (Date.now() > deadline) throw new Error(`uploads stalled: ${held.length} held, ${waiting} waiting, ${done} of ${files} done`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await closing;
  faults.beforeCall = undefined;
  faults.afterCall = undefined;
  for (let i = 0; i < files; i++) if (store.getObject(`many/f${i}`)?.toString() !== `file ${i}`) throw new Error(`many/f${i} was not saved`);
  return { maxInFlight, waitingSeen };
}

test('files closed at once are uploaded at once', async (t) => {
  const core = setupCore();
  await core.fs.mkdir('/many', 0o755);
  const { maxInFlight, waitingSeen } = await closeAtOnce(core, 8);
  t.is(maxInFlight, 8, 'all eight PUTs were in flight together');
  t.is(waitingSeen, 0);
});

test('no more uploads than the bound are in flight; the others wait for a slot', async (t) => {
  const core = setupCore({ maxUploads: 4 });
  await core.fs.mkdir('/many', 0o755);
  const { maxInFlight, waitingSeen } = await closeAtOnce(core, 10);
  t.is(maxInFlight, 4, 'four at once, never five');
  t.is(waitingSeen, 6, 'the six others waited');
});
