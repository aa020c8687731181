// Mounts of one bucket sharing a cache on Redis (--shared-cache), on this machine:
//
// 1. Visibility: three mounts; CLUSTER_CHANGES (default 1,000) changes made through the first
//    (create, overwrite, unlink, rename of a file, rename of a directory, in turn); after each
//    change returns, the time until each of the other two shows it to stat, ls and cat
//    (polled every millisecond from this process, all six at once). Printed as p50/p90/p99/max
//    per view, for the kernel TTL the shared cache uses by default (0 s) and, with
//    CLUSTER_KERNEL_TTLS=0,1, for others.
// 2. Listing: `ls -l` of a 5,000-entry directory through one mount, then three mounts one after
//    the other, with and without the shared metadata tier: LIST and HEAD calls per mount (from
//    `cache stats`) and seconds.
//
// Usage: node --import tsx scripts/cluster-bench.ts   (CLUSTER_PART=visibility|listing for one part)

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { MountStats } from '../src/stats.js';
import { type S3Endpoint, startS3Endpoint } from './local-s3.js';
import { unmountWithRetries, waitForMount } from './mounts.js';
import { startRedis } from './redis-server.js';

const execFileAsync = promisify(execFile);
const s3mount = resolve('bin/s3mount');
const CHANGES = Number(process.env.CLUSTER_CHANGES ?? 1000);
const KERNEL_TTLS = (process.env.CLUSTER_KERNEL_TTLS ?? '0').split(',').map(Number);
const PART = process.env.CLUSTER_PART;
const LISTING_ENTRIES = 5000;

interface RunningMount {
  mountpoint: string;
  stop(): Promise<void>;
}

async function mount(endpoint: S3Endpoint, args: string[]): Promise<RunningMount> {
  const mountpoint = await mkdtemp(join(tmpdir(), 's3mount-cluster-'));
  const cacheDir = await mkdtemp(join(tmpdir(), 's3mount-cluster-cache-'));
  const env = { ...process.env, AWS_ACCESS_KEY_ID: endpoint.accessKeyId, AWS_SECRET_ACCESS_KEY: endpoint.secretAccessKey, AWS_REGION: endpoint.region };
  const child: ChildProcess = spawn(
    s3mount,
    [endpoint.bucket, mountpoint, '-f', '--endpoint-url', endpoint.endpoint, '--cache-dir', cacheDir, '--log-level', 'error', ...args],
    { env, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const exited = new Promise((done) => child.once('exit', done));
  await waitForMount(mountpoint, exited);
  return {
    mountpoint,
    stop: async () => {
      await unmountWithRetries(mountpoint);
      await exited;
      await rm(mountpoint, { recursive: true, force: true });
      await rm(cacheDir, { recursive: true, force: true });
    },
  };
}

async function statsOf(mountpoint: string): Promise<MountStats> {
  const { stdout } = await execFileAsync(s3mount, ['cache', 'stats', mountpoint, '--json']);
  return JSON.parse(stdout) as MountStats;
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** What a view of one observer must show after a change. */
interface Expectation {
  stat(root: string): Promise<boolean>;
  ls(root: string): Promise<boolean>;
  cat(root: string): Promise<boolean>;
}

const statSize = (path: string) =>
  stat(path).then(
    (s) => s.size,
    () => -1,
  );
const names = (path: string) => readdir(path).catch(() => [] as string[]);
const content = (path: string) => readFile(path, 'utf8').catch(() => undefined);

const shows = (file: string, body: string): Expectation => ({
  stat: async (root) => (await statSize(join(root, file))) === Buffer.byteLength(body),
  ls: async (root) => (await names(join(root, file, '..'))).includes(file.split('/').pop() as string),
  cat: async (root) => (await content(join(root, file))) === body,
});
const gone = (file: string): Expectation => ({
  stat: async (root) => (await statSize(join(root, file))) === -1,
  ls: async (root) => !(await names(join(root, file, '..'))).includes(file.split('/').pop() as string),
  cat: async (root) => (await content(join(root, file))) === undefined,
});
const both = (a: Expectation, b: Expectation): Expectation => ({
  stat: async (root) => (await a.stat(root)) && (await b.stat(root)),
  ls: async (root) => (await a.ls(root)) && (await b.ls(root)),
  cat: async (root) => (await a.cat(root)) && (await b.cat(root)),
});

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function visibility(kernelTtl: number): Promise<void> {
  const endpoint = await startS3Endpoint({ bucket: 'cluster-bench' });
  const redis = await startRedis();
  const args = ['--shared-cache', redis.url, '--metadata-ttl', '3600', '--negative-metadata-ttl', '3600', '--kernel-cache-ttl', String(kernelTtl)];
  const mounts = [await mount(endpoint, args), await mount(endpoint, args), await mount(endpoint, args)];
  const [writer, ...observers] = mounts;
  const views = ['stat', 'ls', 'cat'] as const;
  const samples: Record<(typeof views)[number], number[]> = { stat: [], ls: [], cat: [] };
  const byKind = new Map<string, number[]>();
  try {
    const w = (path: string) => join(writer.mountpoint, 'work', path);
    await writeFile(w('seed'), '').catch(async () => {
      await import('node:fs/promises').then((fs) => fs.mkdir(join(writer.mountpoint, 'work')));
    });
    let live: string[] = [];
    let dirs: string[] = [];
    let serial = 0;
    for (let i = 0; i < CHANGES; i++) {
      const kind = ['create', 'overwrite', 'unlink', 'rename-file', 'rename-dir'][i % 5];
      let expect: Expectation;
      // Each change starts from a state both observers show (the previous change's wait).
      if (kind === 'create' || live.length === 0) {
        const name = `f${serial++}.txt`;
        const body = `created ${name}\n`;
        await writeFile(w(name), body);
        live.push(name);
        expect = shows(`work/${name}`, body);
      } else if (kind === 'overwrite') {
        const name = live[i % live.length];
        const body = `overwritten at change ${i}, longer than before\n`;
        await writeFile(w(name), body);
        expect = shows(`work/${name}`, body);
      } else if (kind === 'unlink') {
        const name = live.shift() as string;
        await unlink(w(name));
        expect = gone(`work/${name}`);
      } else if (kind === 'rename-file') {
        const from = live.shift() as string;
        const to = `f${serial++}.txt`;
        const body = await readFile(w(from), 'utf8');
        await rename(w(from), w(to));
        live.push(to);
        expect = both(shows(`work/${to}`, body), gone(`work/${from}`));
      } else {
        // A directory with one file, renamed once it is visible: create it first (not timed).
        const from = `d${serial++}`;
        const to = `d${serial++}`;
        await import('node:fs/promises').then((fs) => fs.mkdir(w(from)));
        await writeFile(w(`${from}/inner.txt`), `inner of ${from}\n`);
        for (const observer of observers) await waitUntil(() => shows(`work/${from}/inner.txt`, `inner of ${from}\n`).cat(observer.mountpoint));
        await rename(w(from), w(to));
        dirs.push(to);
        expect = both(shows(`work/${to}/inner.txt`, `inner of ${from}\n`), gone(`work/${from}`));
      }
      const changed = performance.now();
      const waits: Promise<void>[] = [];
      for (const observer of observers) {
        for (const view of views) {
          waits.push(
            waitUntil(() => expect[view](observer.mountpoint)).then(() => {
              const ms = performance.now() - changed;
              samples[view].push(ms);
              const list = byKind.get(kind) ?? [];
              list.push(ms);
              byKind.set(kind, list);
            }),
          );
        }
      }
      await Promise.all(waits);
      if (dirs.length > 20) {
        for (const dir of dirs) await rm(w(dir), { recursive: true });
        dirs = [];
      }
      if (live.length > 50) live = live.slice(-50);
      if ((i + 1) % 100 === 0) process.stderr.write(`  ${i + 1}/${CHANGES} changes\n`);
    }
    const observerStats = await Promise.all(observers.map((o) => statsOf(o.mountpoint)));
    console.log(`\n### Visibility on the other two mounts, kernel TTL ${kernelTtl} s (${CHANGES} changes, ms after the change returned)\n`);
    console.log('| view | samples | p50 | p90 | p99 | max |');
    console.log('|---|---|---|---|---|---|');
    const all: number[] = [];
    for (const view of views) {
      const sorted = samples[view].sort((a, b) => a - b);
      all.push(...sorted);
      console.log(`| ${view} | ${sorted.length} | ${[50, 90, 99].map((p) => percentile(sorted, p).toFixed(1)).join(' | ')} | ${sorted.at(-1)?.toFixed(1)} |`);
    }
    all.sort((a, b) => a - b);
    console.log(`| all | ${all.length} | ${[50, 90, 99].map((p) => percentile(all, p).toFixed(1)).join(' | ')} | ${all.at(-1)?.toFixed(1)} |`);
    console.log('\n| change | samples | p50 | p99 | max |');
    console.log('|---|---|---|---|---|');
    for (const [kind, list] of byKind) {
      const sorted = list.sort((a, b) => a - b);
      console.log(
        `| ${kind} | ${sorted.length} | ${percentile(sorted, 50).toFixed(1)} | ${percentile(sorted, 99).toFixed(1)} | ${sorted.at(-1)?.toFixed(1)} |`,
      );
    }
    const bus = observerStats.map((s) => s.sharedCache?.bus);
    console.log(
      `\nbus on the observers: applied ${bus.map((b) => b?.applied).join(' and ')}, lag mean ${bus.map((b) => b?.meanLagMs?.toFixed(1)).join(' / ')} ms, max ${bus.map((b) => b?.maxLagMs).join(' / ')} ms, drops ${bus.map((b) => b?.drops).join(' / ')}`,
    );
  } finally {
    for (const m of mounts) await m.stop();
    await redis.stop();
    await endpoint.stop();
  }
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error('a change did not show within 30 s');
    await sleep(1);
  }
}

async function listing(): Promise<void> {
  console.log(`\n### ls -l of a ${LISTING_ENTRIES}-entry directory, mounts one after the other\n`);
  console.log('| shared tier | mounts | LISTs per mount | HEADs per mount | seconds per mount |');
  console.log('|---|---|---|---|---|');
  for (const tier of [false, true]) {
    for (const count of [1, 3]) {
      const endpoint = await startS3Endpoint({ bucket: 'cluster-list' });
      for (let i = 0; i < LISTING_ENTRIES; i++) endpoint.putDirect?.(`big/file-${String(i).padStart(5, '0')}.txt`, Buffer.from(`entry ${i}\n`));
      const redis = await startRedis();
      const args = ['--shared-cache', redis.url, ...(tier ? [] : ['--no-shared-metadata'])];
      const mounts: RunningMount[] = [];
      try {
        for (let i = 0; i < count; i++) mounts.push(await mount(endpoint, args));
        const lists: number[] = [];
        const heads: number[] = [];
        const seconds: number[] = [];
        for (const m of mounts) {
          const started = performance.now();
          await execFileAsync('ls', ['-l', join(m.mountpoint, 'big')], { maxBuffer: 64 * 1024 * 1024 });
          seconds.push((performance.now() - started) / 1000);
          // Let HEADs sent ahead and writes to Redis finish before the next mount lists.
          await sleep(200);
          const stats = await statsOf(m.mountpoint);
          lists.push(stats.s3.list.count);
          heads.push(stats.s3.head.count);
        }
        console.log(`| ${tier ? 'on' : 'off'} | ${count} | ${lists.join(', ')} | ${heads.join(', ')} | ${seconds.map((s) => s.toFixed(2)).join(', ')} |`);
      } finally {
        for (const m of mounts) await m.stop();
        await redis.stop();
        await endpoint.stop();
      }
    }
  }
}

if (PART !== 'listing') for (const ttl of KERNEL_TTLS) await visibility(ttl);
if (PART !== 'visibility') await listing();
process.exit(0);
