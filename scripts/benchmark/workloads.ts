// What the benchmark times on each mount. Every workload runs as child processes (coreutils,
// or a short node script), never inside a serving process.
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BIG_KEY, BIG_SIZE, WIDE_COUNT } from './dataset.js';
import type { SystemName } from './systems.js';

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
  /** Runs only on these systems; the table says why not on the others. */
  systems?: { only: SystemName[]; why: string };
  /** Compared with one SDK multipart upload of the same bytes (WRITE_BIG_SIZE). */
  sdkUploadRow?: boolean;
  /** Compared with `cat` of the same bytes from a local file, page cache dropped (#12's disk-tier target). */
  localCatRow?: boolean;
  /** The serving process's peak RSS is reported for it (it runs on a mount of its own). */
  reportRss?: boolean;
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
const { openSync, writeSync, fsyncSync, closeSync } = require('node:fs'); const [dir, name, round] = process.argv.slice(1);
const data = Buffer.alloc(8 * 1024 * 1024, round);
for (let i = 0; i < 8; i++) { const fd = openSync(dir + '/' + name + '-' + i + '.bin', 'w'); writeSync(fd, data, 0, data.length, 0); fsyncSync(fd); closeSync(fd); }`;

// A tree of small files to write: WRITE_TREE_DIRS directories of 100 files, 100 bytes to 4 KiB,
// made once per run on local disk, with a tar archive of it.
export const WRITE_TREE_FILES = 2000;
const WRITE_TREE_DIRS = 20;
let writeTree: Promise<{ tree: string; archive: string }> | undefined;

function writeSources(): Promise<{ tree: string; archive: string }> {
  writeTree ??= (async () => {
    const scratch = await mkdtemp(join(tmpdir(), 'bench-write-tree-'));
    process.once('exit', () => rmSync(scratch, { recursive: true, force: true }));
    const tree = join(scratch, 'tree');
    for (let d = 0; d < WRITE_TREE_DIRS; d++) {
      await mkdir(join(tree, `d${d}`), { recursive: true });
      for (let f = 0; f < WRITE_TREE_FILES / WRITE_TREE_DIRS; f++) {
        const size = 100 + ((d * 977 + f * 131) % 3997);
        await writeFile(join(tree, `d${d}`, `f${f}.txt`), Buffer.alloc(size, `${d}-${f} `));
      }
    }
    const archive = join(scratch, 'tree.tar');
    await run('tar', ['cf', archive, '-C', tree, '.']);
    return { tree, archive };
  })();
  return writeTree;
}

// fio's small-file write job: 200 files of 4 KiB, each created, written, fsynced and closed in
// turn; resolves to the seconds fio spent writing (its IOPS are files per second).
async function fioSmallFiles(dir: string): Promise<number> {
  await mkdir(dir, { recursive: true });
  const { stdout } = await run(
    'fio',
    [
      '--name=smallfiles',
      `--directory=${dir}`,
      '--rw=write',
      '--bs=4k',
      '--filesize=4k',
      '--nrfiles=200',
      '--openfiles=1',
      '--file_service_type=sequential',
      '--create_on_open=1',
      '--fsync_on_close=1',
      '--ioengine=psync',
      '--output-format=json',
    ],
    { timeout: TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 },
  );
  const report = JSON.parse(stdout) as { jobs: Array<{ write: { runtime: number; total_ios: number } }> };
  const [job] = report.jobs;
  if (job.write.total_ios !== 200) throw new Error(`fio wrote ${job.write.total_ios} files, not 200`);
  return job.write.runtime / 1000;
}

// Every system writes into the same bucket: each run of a write workload gets a name of its own.
let writes = 0;
const fresh = (what: string, round: number) => `${what}-${round}-${process.pid}-${++writes}`;

/** Bytes of the big write, and of the SDK multipart upload it is compared with. */
export const WRITE_BIG_SIZE = 1024 * 1024 * 1024;
/** The object the 1 GiB write leaves; removed after each, as the SDK's is (run.ts). */
export const WRITE_BIG_KEY = 'written-1g.bin';

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
  { name: 'write 8 × 8 MiB with fsync', run: (m, round) => node(WRITE_SCRIPT, m, fresh('written', round), String(round)) },
  {
    name: 'tar x 2,000 small files',
    run: async (m, round) => {
      const { archive } = await writeSources();
      const into = `${m}/${fresh('untar', round)}`;
      await shell(`mkdir ${into} && tar xf ${archive} -C ${into}`);
      return undefined;
    },
  },
  {
    name: 'cp -r 2,000 small files',
    run: async (m, round) => {
      const { tree } = await writeSources();
      await shell(`cp -r ${tree} ${m}/${fresh('copied', round)}`);
      return undefined;
    },
  },
  { name: 'fio 200 × 4 KiB files, create + fsync', run: (m, round) => fioSmallFiles(`${m}/${fresh('fio', round)}`) },
  {
    name: 'write 1 GiB with dd conv=fsync',
    ownMount: true,
    sdkUploadRow: true,
    reportRss: true,
    systems: {
      only: ['s3mount', 'floor'],
      why: 's3fs and rclone cannot complete multipart uploads on fauxqs (it parses their completion XML loosely)',
    },
    run: (m) => shell(`dd if=/dev/zero of=${m}/${WRITE_BIG_KEY} bs=1M count=${WRITE_BIG_SIZE / 1048576} conv=fsync status=none`).then(() => undefined),
  },
  {
    name: 'sequential read 256 MiB, after remount',
    localCatRow: true,
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
