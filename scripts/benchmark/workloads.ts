// What the benchmark times on each mount. Every workload runs as child processes (coreutils,
// or a short node script), never inside a serving process.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { BIG_KEY, BIG_SIZE, WIDE_COUNT } from './dataset.js';

const run = promisify(execFile);
const TIMEOUT_MS = 300_000;

export interface Workload {
  name: string;
  /** Seconds the workload took by its own clock, when it keeps one; else the caller times it. */
  /** Runs on a mount of its own, so that nothing an earlier workload read is cached. */
  ownMount?: boolean;
  /** Compared with the raw SDK fetch of the big object. */
  sdkRow?: boolean;
  /**
   * Runs after a remount with the page cache dropped: the first mount runs `prepare` (which
   * reads what the workload will read again), the second mount, over the same cache
   * directories, times the workload.
   */
  afterRemount?: { prepare(mountpoint: string): Promise<unknown> };
  run(mountpoint: string, round: number): Promise<number | undefined>;
}

const shell = (script: string) => run('sh', ['-c', script], { timeout: TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 });

// Node scripts make their calls synchronously and time them themselves, printing seconds:
// what is measured is the filesystem, not Node's start (about 40 ms) nor the thread-pool
// hop of its asynchronous calls (5,000 asynchronous lstats took 0.3 s even on the floor,
// whose answers the kernel held).
const node = async (script: string, ...args: string[]): Promise<number> => {
  const { stdout } = await run(
    process.execPath,
    ['-e', `const started = performance.now(); ${script}; console.log((performance.now() - started) / 1000);`, ...args],
    { timeout: TIMEOUT_MS },
  );
  return Number(stdout.trim());
};

// 5,000 lstat calls in one process, entries of the wide directory in turn.
const STAT_SCRIPT = `
const { lstatSync } = require('node:fs'); const [dir, count] = process.argv.slice(1);
for (let i = 0; i < 5000; i++) lstatSync(dir + '/w' + String(i % Number(count)).padStart(5, '0'))`;

// 200 reads of 4 KiB at offsets from a fixed-seed generator.
const RANDOM_READ_SCRIPT = `
const { openSync, readSync, closeSync } = require('node:fs'); const [file, size] = process.argv.slice(1);
const fd = openSync(file, 'r'); const buffer = Buffer.alloc(4096);
let seed = 12345; const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
for (let i = 0; i < 200; i++) { const offset = (next() % (Number(size) / 4096)) * 4096; if (readSync(fd, buffer, 0, 4096, offset) !== 4096) throw new Error('short read'); }
closeSync(fd)`;

// Eight files of 8 MiB, each written, fsynced and closed.
const WRITE_SCRIPT = `
const { openSync, writeSync, fsyncSync, closeSync } = require('node:fs'); const [dir, round] = process.argv.slice(1);
const data = Buffer.alloc(8 * 1024 * 1024, round);
for (let i = 0; i < 8; i++) { const fd = openSync(dir + '/written-' + round + '-' + i + '.bin', 'w'); writeSync(fd, data, 0, data.length, 0); fsyncSync(fd); closeSync(fd); }`;

export const WORKLOADS: Workload[] = [
  { name: '200 random 4 KiB preads, cold', ownMount: true, run: (m) => node(RANDOM_READ_SCRIPT, `${m}/${BIG_KEY}`, String(BIG_SIZE)) },
  { name: 'sequential read 256 MiB, cold', sdkRow: true, run: (m) => shell(`cat ${m}/${BIG_KEY} > /dev/null`).then(() => undefined) },
  { name: 'sequential read 256 MiB, again', sdkRow: true, run: (m) => shell(`cat ${m}/${BIG_KEY} > /dev/null`).then(() => undefined) },
  { name: 'ls -l 5,000 entries, cold', run: (m) => shell(`ls -l ${m}/wide > /dev/null`).then(() => undefined) },
  { name: 'ls -l 5,000 entries, again', run: (m) => shell(`ls -l ${m}/wide > /dev/null`).then(() => undefined) },
  { name: 'find 10×10×10 tree, cold', run: (m) => shell(`find ${m}/tree > /dev/null`).then(() => undefined) },
  { name: 'find 10×10×10 tree, again', run: (m) => shell(`find ${m}/tree > /dev/null`).then(() => undefined) },
  { name: 'cat 1,000 files of 4 KiB, cold', run: (m) => shell(`cat ${m}/small/* > /dev/null`).then(() => undefined) },
  { name: 'cat 1,000 files of 4 KiB, again', run: (m) => shell(`cat ${m}/small/* > /dev/null`).then(() => undefined) },
  { name: '5,000 stat calls, warm', run: (m) => node(STAT_SCRIPT, `${m}/wide`, String(WIDE_COUNT)) },
  { name: 'write 8 × 8 MiB with fsync', run: (m, round) => node(WRITE_SCRIPT, m, String(round)) },
  {
    name: 'sequential read 256 MiB, after remount',
    afterRemount: { prepare: (m) => shell(`cat ${m}/${BIG_KEY} > /dev/null`) },
    run: (m) => shell(`cat ${m}/${BIG_KEY} > /dev/null`).then(() => undefined),
  },
  {
    name: 'cat 1,000 files of 4 KiB, after remount',
    afterRemount: { prepare: (m) => shell(`cat ${m}/small/* > /dev/null`) },
    run: (m) => shell(`cat ${m}/small/* > /dev/null`).then(() => undefined),
  },
  {
    name: 'ls -l 5,000 entries, after remount',
    afterRemount: { prepare: (m) => shell(`ls -l ${m}/wide > /dev/null`) },
    run: (m) => shell(`ls -l ${m}/wide > /dev/null`).then(() => undefined),
  },
];

/** fio jobs over the big object, on one mount that read it once, the page cache dropped before each. */
export interface FioJob {
  name: string;
  args: string[];
}

export const FIO_JOBS: FioJob[] = [
  { name: 'fio sequential 256 KiB reads, 1 thread', args: ['--rw=read', '--numjobs=1'] },
  { name: 'fio sequential 256 KiB reads, 4 threads', args: ['--rw=read', '--numjobs=4'] },
  { name: 'fio random 256 KiB reads, 10 s', args: ['--rw=randread', '--numjobs=1', '--time_based', '--runtime=10'] },
];

/** Runs one fio job over `file` (read only); resolves to the throughput, MiB/s. */
export async function runFio(job: FioJob, file: string): Promise<number> {
  const { stdout } = await run(
    'fio',
    ['--name=bench', `--filename=${file}`, '--readonly', '--bs=256k', '--ioengine=psync', '--group_reporting', '--output-format=json', ...job.args],
    { timeout: TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 },
  );
  const report = JSON.parse(stdout) as { jobs: Array<{ read: { bw_bytes: number } }> };
  return report.jobs.reduce((sum, one) => sum + one.read.bw_bytes, 0) / (1024 * 1024);
}

/** Drops the kernel's page cache where allowed, so "cold" is cold for every system. */
export async function dropPageCache(): Promise<void> {
  await writeFile('/proc/sys/vm/drop_caches', '3').catch(() => undefined);
}
