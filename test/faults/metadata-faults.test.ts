// Listings and lookups under injected S3 faults: transient 503s on LIST and HEAD are retried
// and `ls` / `stat` answer correctly; a LIST that keeps failing makes `ls` fail with EIO
// (not hang), and nothing of the failure is cached: the same mount lists once S3 answers.

import { join } from 'node:path';
import test from 'ava';
import type { FaultProxy, OperationClass } from '../support/fault-proxy.js';
import { type CommandResult, type Mount, run } from '../support/mount.js';
import { mountThroughProxy, type ProxiedMount } from '../support/proxied-mount.js';

// The README's bound on one operation with 3 attempts (2 × 3 × 22 s + 10 s = 142 s): each
// EIO must come within it (asserted); a command still running 8 s after it is killed.
const OPERATION_BOUND_MS = 142_000;
const SLOW_DOWN = { kind: 'status', status: 503, code: 'SlowDown' } as const;
const NAMES = ['one.txt', 'two.txt', 'three.txt'];

let proxy: FaultProxy;
let mount: Mount;
let setup: ProxiedMount;

test.before(async () => {
  setup = await mountThroughProxy(async (put) => {
    // One directory per test, so no test finds another's listing in the cache.
    for (const dir of ['transient', 'lookup-fails', 'listing-fails']) for (const name of NAMES) await put(`${dir}/${name}`, `${dir}/${name}`);
    await put('stat-me.txt', 'twelve bytes');
  });
  ({ proxy, mount } = setup);
});

// A failing test must not leave its faults to the next one.
test.afterEach.always(() => proxy.clear());

test.after.always(() => setup?.stop());

const ls = (dir: string): Promise<CommandResult> => run('ls', ['-1', join(mount.mountpoint, dir)], { timeoutMs: OPERATION_BOUND_MS + 8_000 });

/** Requests of `operation` since record `from`, and how many of them were faulted. */
function seen(operation: OperationClass, from: number): { requests: number; faulted: number } {
  const records = proxy
    .log()
    .slice(from)
    .filter((r) => r.operation === operation);
  return { requests: records.length, faulted: records.filter((r) => r.fault !== undefined).length };
}

test.serial('ls and stat under transient 503s on LIST and HEAD answer correctly', async (t) => {
  const from = proxy.log().length;
  proxy.queue('list', SLOW_DOWN, SLOW_DOWN);
  const listing = await ls('transient');
  t.is(listing.code, 0, listing.stderr);
  t.deepEqual(listing.stdout.trim().split('\n'), [...NAMES].sort());
  const lists = seen('list', from);
  t.is(lists.faulted, 2);

  const headFrom = proxy.log().length;
  proxy.queue('head', SLOW_DOWN, SLOW_DOWN);
  const stat = await run('stat', ['-c', '%s %F', join(mount.mountpoint, 'stat-me.txt')], { timeoutMs: OPERATION_BOUND_MS + 8_000 });
  t.is(stat.code, 0, stat.stderr);
  t.is(stat.stdout.trim(), '12 regular file');
  const heads = seen('head', headFrom);
  t.is(heads.faulted, 2);
  t.log(
    `503s injected: ${lists.faulted} of ${lists.requests} LISTs, ${heads.faulted} of ${heads.requests} HEADs; ls gave ${NAMES.length} names, stat the right size`,
  );
});

test.serial('a LIST failing on every attempt while looking a directory up is EIO, not cached', async (t) => {
  const from = proxy.log().length;
  proxy.inject('list', { kind: 'status', status: 500, code: 'InternalError' });
  const started = performance.now();
  const failed = await ls('lookup-fails');
  const seconds = (performance.now() - started) / 1000;
  proxy.clear('list');
  t.not(failed.code, 0);
  t.regex(failed.stderr, /Input\/output error/);
  t.true(seconds * 1000 <= OPERATION_BOUND_MS, `EIO after ${seconds.toFixed(2)} s, beyond the ${OPERATION_BOUND_MS / 1000} s bound`);
  const faulted = seen('list', from).faulted;
  t.true(faulted >= 3, 'every attempt of the LIST was faulted');
  const recovered = await ls('lookup-fails');
  t.is(recovered.code, 0, recovered.stderr);
  t.deepEqual(recovered.stdout.trim().split('\n'), [...NAMES].sort(), 'the same mount lists once S3 answers');
  t.log(`500s injected on ${faulted} LISTs: ls failed with EIO; after recovery ls gave ${NAMES.length} names`);
});

test.serial('a LIST failing on every attempt while reading a directory is EIO, not cached', async (t) => {
  // The directory is looked up first, so that it is the listing itself that fails.
  const stat = await run('stat', ['-c', '%F', join(mount.mountpoint, 'listing-fails')]);
  t.is(stat.stdout.trim(), 'directory', stat.stderr);
  const from = proxy.log().length;
  proxy.inject('list', { kind: 'status', status: 500, code: 'InternalError' });
  const started = performance.now();
  const failed = await ls('listing-fails');
  const seconds = (performance.now() - started) / 1000;
  proxy.clear('list');
  t.not(failed.code, 0);
  t.regex(failed.stderr, /reading directory.*Input\/output error/);
  t.true(seconds * 1000 <= OPERATION_BOUND_MS, `EIO after ${seconds.toFixed(2)} s, beyond the ${OPERATION_BOUND_MS / 1000} s bound`);
  const faulted = seen('list', from).faulted;
  const recovered = await ls('listing-fails');
  t.is(recovered.code, 0, recovered.stderr);
  t.deepEqual(recovered.stdout.trim().split('\n'), [...NAMES].sort(), 'the same mount lists once S3 answers');
  t.log(`500s injected on ${faulted} LISTs: readdir failed with EIO; after recovery ls gave ${NAMES.length} names`);
});
