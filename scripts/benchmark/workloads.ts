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
  /** Runs on a mount of its own, so that nothing an earlier workload read is cached. */
  ownMount?: boolean;
  /** Compared with the raw SDK fetch of the big object. */
  sdkRow?: boolean;
  run(mountpoint: string, round: number): Promise<void>;
}

const shell = (script: string) => run('sh', ['-c', script], { timeout: TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 });
const node = (script: string, ...args: string[]) => run(process.execPath, ['-e', script, ...args], { timeout: TIMEOUT_MS });

// 5,000 lstat calls in one process, entries of the wide directory in turn.
const STAT_SCRIPT = `
const { lstat } = require('node:fs/promises');
(async () => { const [dir, count] = process.argv.slice(1);
  for (let i = 0; i < 5000; i++) await lstat(dir + '/w' + String(i % Number(count)).padStart(5, '0')); })();`;

// 200 reads of 4 KiB at offsets from a fixed-seed generator.
const RANDOM_READ_SCRIPT = `
const { open } = require('node:fs/promises');
(async () => { const [file, size] = process.argv.slice(1); const handle = await open(file, 'r'); const buffer = Buffer.alloc(4096);
  let seed = 12345; const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  for (let i = 0; i < 200; i++) { const offset = (next() % (Number(size) / 4096)) * 4096; const { bytesRead } = await handle.read(buffer, 0, 4096, offset); if (bytesRead !== 4096) throw new Error('short read'); }
  await handle.close(); })();`;

// Eight files of 8 MiB, each written, fsynced and closed.
const WRITE_SCRIPT = `
const { open } = require('node:fs/promises');
(async () => { const [dir, round] = process.argv.slice(1); const data = Buffer.alloc(8 * 1024 * 1024, round);
  for (let i = 0; i < 8; i++) { const handle = await open(dir + '/written-' + round + '-' + i + '.bin', 'w'); await handle.write(data, 0, data.length, 0); await handle.sync(); await handle.close(); } })();`;

export const WORKLOADS: Workload[] = [
  { name: '200 random 4 KiB preads, cold', ownMount: true, run: (m) => node(RANDOM_READ_SCRIPT, `${m}/${BIG_KEY}`, String(BIG_SIZE)).then(() => undefined) },
  { name: 'sequential read 256 MiB, cold', sdkRow: true, run: (m) => shell(`cat ${m}/${BIG_KEY} > /dev/null`).then(() => undefined) },
  { name: 'sequential read 256 MiB, again', sdkRow: true, run: (m) => shell(`cat ${m}/${BIG_KEY} > /dev/null`).then(() => undefined) },
  { name: 'ls -l 5,000 entries, cold', run: (m) => shell(`ls -l ${m}/wide > /dev/null`).then(() => undefined) },
  { name: 'ls -l 5,000 entries, again', run: (m) => shell(`ls -l ${m}/wide > /dev/null`).then(() => undefined) },
  { name: 'find 10×10×10 tree, cold', run: (m) => shell(`find ${m}/tree > /dev/null`).then(() => undefined) },
  { name: 'find 10×10×10 tree, again', run: (m) => shell(`find ${m}/tree > /dev/null`).then(() => undefined) },
  { name: 'cat 1,000 files of 4 KiB, cold', run: (m) => shell(`cat ${m}/small/* > /dev/null`).then(() => undefined) },
  { name: 'cat 1,000 files of 4 KiB, again', run: (m) => shell(`cat ${m}/small/* > /dev/null`).then(() => undefined) },
  { name: '5,000 stat calls, warm', run: (m) => node(STAT_SCRIPT, `${m}/wide`, String(WIDE_COUNT)).then(() => undefined) },
  { name: 'write 8 × 8 MiB with fsync', run: (m, round) => node(WRITE_SCRIPT, m, String(round)).then(() => undefined) },
];

/** Drops the kernel's page cache where allowed, so "cold" is cold for every system. */
export async function dropPageCache(): Promise<void> {
  await writeFile('/proc/sys/vm/drop_caches', '3').catch(() => undefined);
}
