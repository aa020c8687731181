// Reads under injected S3 faults: transient ones (error statuses, resets, delays, a body cut
// mid-transfer) are retried or waited out and return correct bytes, persistent ones are EIO within the retry
// budget, bodies cut short are never served or cached, and the same mount works again once
// the server recovers.

import { join } from 'node:path';
import test from 'ava';
import type { FaultProxy } from '../support/fault-proxy.js';
import { type Mount, run } from '../support/mount.js';
import { patternBytes } from '../support/pattern.js';
import { mountThroughProxy, type ProxiedMount } from '../support/proxied-mount.js';

const SIZE = 3 * 1024 * 1024 + 17;
let proxy: FaultProxy;
let mount: Mount;
let setup: ProxiedMount;
const expected = patternBytes(SIZE, 42);

test.before(async () => {
  // The endpoint is reached only through the proxy; 3 attempts per request.
  setup = await mountThroughProxy(async (put) => {
    for (const name of ['transient', 'persistent', 'cut', 'cut-once', 'reset', 'delayed']) await put(`${name}.bin`, expected);
  });
  ({ proxy, mount } = setup);
});

// A failing test must not leave its faults to the next one.
test.afterEach.always(() => proxy.clear());

test.after.always(() => setup?.stop());

// The README's bound on one operation with 3 attempts: 2 × 3 × 22 s + 10 s = 142 s. An EIO
// must come within it (asserted: a correctness bound, not a performance threshold); a read
// that neither succeeds nor fails 8 s after it is killed, and its test fails.
const OPERATION_BOUND_MS = 142_000;

async function readAll(name: string): Promise<{ code: number; bytes: Buffer; stderr: string; seconds: number }> {
  const started = performance.now();
  const result = await run('sh', ['-c', `base64 -w0 < ${join(mount.mountpoint, name)}`], { timeoutMs: OPERATION_BOUND_MS + 8_000 });
  return { code: result.code, bytes: Buffer.from(result.stdout, 'base64'), stderr: result.stderr, seconds: (performance.now() - started) / 1000 };
}

/** GETs of `name` the proxy saw since record `from`, and how many of them it faulted. */
function getsOf(name: string, from: number): { gets: number; faulted: number } {
  const gets = proxy
    .log()
    .slice(from)
    .filter((r) => r.operation === 'read' && r.path.endsWith(`/${name}`));
  return { gets: gets.length, faulted: gets.filter((r) => r.fault !== undefined).length };
}

test.serial('503 SlowDown and 500 on some GETs are retried: the bytes are right', async (t) => {
  const from = proxy.log().length;
  proxy.queue(
    'read',
    { kind: 'status', status: 503, code: 'SlowDown' },
    { kind: 'status', status: 500, code: 'InternalError' },
    { kind: 'status', status: 503, code: 'SlowDown' },
  );
  const result = await readAll('transient.bin');
  t.is(result.code, 0, result.stderr);
  t.true(result.bytes.equals(expected));
  const seen = getsOf('transient.bin', from);
  t.is(seen.faulted, 3);
  t.log(`faults injected ${seen.faulted} (503, 500, 503), GETs ${seen.gets}, bytes compared ${result.bytes.length}`);
});

test.serial('connection resets are retried', async (t) => {
  const from = proxy.log().length;
  proxy.queue('read', { kind: 'reset' }, { kind: 'reset' });
  const result = await readAll('reset.bin');
  t.is(result.code, 0, result.stderr);
  t.true(result.bytes.equals(expected));
  const seen = getsOf('reset.bin', from);
  t.is(seen.faulted, 2);
  t.log(`faults injected ${seen.faulted} (resets), GETs ${seen.gets}, bytes compared ${result.bytes.length}`);
});

test.serial('GETs held back (shorter than the request timeout) are waited for: the bytes are right', async (t) => {
  const from = proxy.log().length;
  // Every GET held 1 s; a mount gives each attempt 20 s to answer.
  proxy.inject('read', { kind: 'delay', ms: 1000 });
  const result = await readAll('delayed.bin');
  proxy.clear('read');
  t.is(result.code, 0, result.stderr);
  t.true(result.bytes.equals(expected));
  const seen = getsOf('delayed.bin', from);
  t.is(seen.faulted, seen.gets, 'every GET was held back');
  t.log(`delays injected ${seen.faulted} of 1 s (every GET), bytes compared ${result.bytes.length}, read took ${result.seconds.toFixed(1)} s`);
});

test.serial('a persistent fault is EIO within the retry budget; the mount works again after', async (t) => {
  const from = proxy.log().length;
  proxy.inject('read', { kind: 'status', status: 500, code: 'InternalError' });
  const failed = await readAll('persistent.bin');
  proxy.clear('read');
  t.not(failed.code, 0);
  t.regex(failed.stderr, /Input\/output error/);
  t.true(failed.seconds * 1000 <= OPERATION_BOUND_MS, `EIO after ${failed.seconds.toFixed(2)} s, beyond the ${OPERATION_BOUND_MS / 1000} s bound`);
  const faulted = getsOf('persistent.bin', from).faulted;
  const recovered = await readAll('persistent.bin');
  t.is(recovered.code, 0, recovered.stderr);
  t.true(recovered.bytes.equals(expected), 'no remount needed, and no error was cached');
  t.log(`faults injected ${faulted} (500 on every GET), EIO after ${failed.seconds.toFixed(2)} s, then bytes compared ${recovered.bytes.length}`);
});

test.serial('bodies cut short are detected, never served or cached', async (t) => {
  const from = proxy.log().length;
  proxy.inject('read', { kind: 'cut' });
  const failed = await readAll('cut.bin');
  proxy.clear('read');
  t.not(failed.code, 0);
  t.regex(failed.stderr, /Input\/output error/);
  t.true(failed.seconds * 1000 <= OPERATION_BOUND_MS, `EIO after ${failed.seconds.toFixed(2)} s, beyond the ${OPERATION_BOUND_MS / 1000} s bound`);
  const faulted = getsOf('cut.bin', from).faulted;
  const whole = await readAll('cut.bin');
  t.is(whole.code, 0, whole.stderr);
  t.true(whole.bytes.equals(expected));
  t.log(`faults injected ${faulted} (bodies cut in half), EIO after ${failed.seconds.toFixed(2)} s, then bytes compared ${whole.bytes.length}`);
});

test.serial('a body cut mid-transfer once is retried: the bytes are right', async (t) => {
  const from = proxy.log().length;
  proxy.queue('read', { kind: 'cut' });
  const result = await readAll('cut-once.bin');
  t.is(result.code, 0, result.stderr);
  t.true(result.bytes.equals(expected));
  const seen = getsOf('cut-once.bin', from);
  t.is(seen.faulted, 1);
  t.log(`faults injected ${seen.faulted} (a body cut in half), GETs ${seen.gets}, bytes compared ${result.bytes.length}`);
});

test.serial('the reads took the path this file runs (SDK with S3MOUNT_TEST_SDK_PATH=1, else the lean client)', (t) => {
  // The SDK names its operation in the query (x-id=GetObject); the lean client does not.
  const reads = proxy.log().filter((r) => r.operation === 'read');
  t.true(reads.length > 0);
  const sdkPath = process.env.S3MOUNT_TEST_SDK_PATH === '1';
  t.true(reads.every((r) => (r.query['x-id'] === 'GetObject') === sdkPath));
});
