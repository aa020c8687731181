// `make bench`: s3mount against s3fs, rclone mount, the fuse-native floor and the raw SDK,
// in one run on one emulator, medians of BENCH_RUNS rounds (default 3). Prints a markdown
// table and writes it to scripts/benchmark/last-result.md.

import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DeleteObjectCommand, GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { seedClient, startS3Endpoint } from '../local-s3.js';
import { BIG_KEY, BIG_SIZE, bigBytes } from './dataset.js';
import { s3CallsOf } from './s3-calls.js';
import { SDK_UPLOAD_KEY, sdkUpload } from './sdk-upload.js';
import { seedDataset } from './seed.js';
import { mountSystem, SYSTEMS, type SystemName } from './systems.js';
import { type Results, renderTable } from './table.js';
import { dropPageCache, FIO_JOBS, runFio, WORKLOADS, type Workload, WRITE_BIG_KEY, WRITE_BIG_SIZE } from './workloads.js';

const ROUNDS = Number(process.env.BENCH_RUNS ?? 3);
const only = process.env.BENCH_SYSTEMS?.split(',') as SystemName[] | undefined;
// BENCH_WORKLOADS=ls runs only the workloads whose name contains one of the words given.
const onlyWorkloads = process.env.BENCH_WORKLOADS?.split(',');
const selected = (name: string) => !onlyWorkloads || onlyWorkloads.some((word) => name.includes(word));
const workloads = WORKLOADS.filter((w) => selected(w.name));
const fioJobs = FIO_JOBS.filter((job) => selected(job.name));

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}

async function sdkWhole(client: S3Client, bucket: string): Promise<void> {
  const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: BIG_KEY }));
  await response.Body?.transformToByteArray();
}

async function sdkRanges(client: S3Client, bucket: string): Promise<void> {
  const part = 8 * 1024 * 1024;
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < BIG_SIZE) {
        const start = next;
        next += part;
        const response = await client.send(
          new GetObjectCommand({ Bucket: bucket, Key: BIG_KEY, Range: `bytes=${start}-${Math.min(start + part, BIG_SIZE) - 1}` }),
        );
        await response.Body?.transformToByteArray();
      }
    }),
  );
}

/**
 * Removes a 1 GiB object written by a timed upload. fauxqs keeps objects in memory, and its
 * CompleteMultipartUpload concatenates the parts: with 2 GiB held it took 4-5 s instead of
 * 1.9 s, so every big write runs against an emulator holding the same.
 */
async function forgetBigWrite(key: string): Promise<void> {
  await client.send(new DeleteObjectCommand({ Bucket: endpoint.bucket, Key: key }));
}

/** Groups of workloads that share one fresh mount: each ownMount workload alone, the rest together, then those timed after a remount. */
function sessions(): Workload[][] {
  const plain = workloads.filter((w) => !w.afterRemount);
  return [...plain.filter((w) => w.ownMount).map((w) => [w]), plain.filter((w) => !w.ownMount), workloads.filter((w) => w.afterRemount)].filter(
    (session) => session.length > 0,
  );
}

/**
 * Waits until BETWEEN_WORKLOADS_MS have passed since the previous workload ended, on every system
 * alike. Every mount here lets the kernel keep attributes and names for 1 s (s3mount's, s3fs's
 * and rclone's default; the floor keeps them 60 s): without the pause a warm row measured the
 * kernel's cache for whichever system started it sooner (s3mount's cache stats between
 * workloads took longer than that, the others went on at once) and the filesystem's own for the rest.
 */
const BETWEEN_WORKLOADS_MS = Number(process.env.BENCH_PAUSE_MS ?? 1500);
async function settle(lastEnded: number): Promise<void> {
  const wait = BETWEEN_WORKLOADS_MS - (performance.now() - lastEnded);
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
}

async function runSession(system: SystemName, all: Workload[], round: number): Promise<void> {
  const workloads = all.filter((w) => !w.systems || w.systems.only.includes(system));
  if (workloads.length === 0) return;
  await dropPageCache();
  let mounted: Awaited<ReturnType<typeof mountSystem>>;
  try {
    const remount = workloads.some((w) => w.afterRemount);
    mounted = await mountSystem(system, endpoint, { keepScratch: remount });
    if (remount) {
      // The first mount reads what the workloads will read; the second, over the same caches
      // with the page cache dropped, is timed.
      const first = mounted;
      try {
        for (const workload of workloads) await workload.afterRemount?.prepare(first.mountpoint);
      } finally {
        await first.stop();
      }
      await dropPageCache();
      mounted = await mountSystem(system, endpoint, { scratch: first.scratch });
    }
  } catch (error) {
    console.error(`round ${round}: ${(error as Error).message}`);
    return;
  }
  try {
    let lastEnded = performance.now();
    for (const workload of workloads) {
      const cell = ((results.times[workload.name] ??= {})[system] ??= []);
      try {
        // s3mount says what S3 calls each workload made (its cache stats), in the table.
        const callsBefore = system === 's3mount' ? await s3CallsOf(mounted.mountpoint) : undefined;
        await settle(lastEnded);
        const started = performance.now();
        const own = await workload.run(mounted.mountpoint, round).finally(() => (lastEnded = performance.now()));
        const seconds = typeof own === 'number' ? own : (performance.now() - started) / 1000;
        cell.push(seconds);
        let calls = '';
        if (callsBefore) {
          const after = await s3CallsOf(mounted.mountpoint);
          const made = Object.fromEntries(Object.entries(after).map(([op, count]) => [op, count - callsBefore[op as keyof typeof after]]));
          ((results.calls ??= {})[workload.name] ??= []).push(made);
          calls = ` (S3: ${made.head} HEAD, ${made.list} LIST, ${made.getRange} GET, ${made.put} PUT, ${made.copy} COPY, ${made.multipart ?? 0} multipart)`;
        }
        if (workload.reportRss) ((results.workloadRss ??= {})[workload.name] ??= {})[system] = await mounted.peakRssMiB();
        console.error(`round ${round} ${system.padEnd(8)} ${workload.name.padEnd(36)} ${seconds.toFixed(3)} s${calls}`);
      } catch (error) {
        cell.push(Number.NaN);
        console.error(`round ${round} ${system} ${workload.name}: failed: ${(error as Error).message.split('\n')[0]}`);
      }
    }
    results.rss[system] = Math.max(results.rss[system] ?? 0, await mounted.peakRssMiB());
  } finally {
    await mounted.stop();
  }
}

const runFile = promisify(execFile);

// A full collection of this process's heap (the emulator's), asked for through V8's own flag.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
function collectGarbage(): void {
  gc();
}

async function hasFio(): Promise<boolean> {
  const found = await runFile('fio', ['--version']).then(
    () => true,
    () => false,
  );
  if (!found) console.error('fio is not installed (make bench-deps installs it): the fio jobs are left out');
  return found;
}

/** fio jobs on one mount of each system that read the big object once; the page cache dropped before each job. */
async function runFioJobs(system: SystemName, round: number): Promise<void> {
  let mounted: Awaited<ReturnType<typeof mountSystem>>;
  try {
    mounted = await mountSystem(system, endpoint);
  } catch (error) {
    console.error(`round ${round}: ${(error as Error).message}`);
    return;
  }
  try {
    await runFile('sh', ['-c', `cat ${mounted.mountpoint}/${BIG_KEY} > /dev/null`], { timeout: 300_000 });
    for (const job of fioJobs) {
      await dropPageCache();
      const cell = ((results.fio[job.name] ??= {})[system] ??= []);
      try {
        const mibPerSecond = await runFio(job, `${mounted.mountpoint}/${BIG_KEY}`);
        cell.push(mibPerSecond);
        console.error(`round ${round} ${system.padEnd(8)} ${job.name.padEnd(44)} ${mibPerSecond.toFixed(0)} MiB/s`);
      } catch (error) {
        cell.push(Number.NaN);
        console.error(`round ${round} ${system} ${job.name}: failed: ${(error as Error).message.split('\n')[0]}`);
      }
    }
  } finally {
    await mounted.stop();
  }
}

const endpoint = await startS3Endpoint({ bucket: 'bench' });
const client = seedClient(endpoint);
console.error(`seeding ${endpoint.endpoint} ...`);
await seedDataset(client, endpoint.bucket);

const results: Results = { times: {}, fio: {}, rss: {}, sdk: { whole: [], ranges: [], upload: [] } };
const localCopy = workloads.some((w) => w.localCatRow) ? join(await mkdtemp(join(tmpdir(), 'bench-local-')), BIG_KEY) : undefined;
if (localCopy) await writeFile(localCopy, bigBytes());
const fio = (fioJobs.length > 0 || workloads.some((w) => w.name.startsWith('fio'))) && (await hasFio());
const sdkUploads = workloads.some((w) => w.sdkUploadRow);
// Whichever system ran first in a round was slower (docs/benchmarks.md), and it always came
// right after the raw SDK's reads and 1 GiB upload, which pass through this process's heap (the
// emulator's). So rounds alternate the order of the systems, that heavy work and the 1 GiB
// writes come after every system's other sessions, and this heap is collected between systems.
const order = SYSTEMS.filter((name) => !only || only.includes(name));
const bigWrites = (session: Workload[]) => session.some((w) => w.sdkUploadRow);
for (let round = 1; round <= ROUNDS; round++) {
  const systems = round % 2 === 1 ? order : [...order].reverse();
  for (const system of systems) {
    collectGarbage();
    for (const session of sessions().filter((s) => !bigWrites(s))) await runSession(system, session, round);
    if (fio && fioJobs.length > 0) await runFioJobs(system, round);
  }
  collectGarbage();
  if (workloads.some((w) => w.sdkRow)) {
    results.sdk.whole.push(await timed(() => sdkWhole(client, endpoint.bucket)));
    results.sdk.ranges.push(await timed(() => sdkRanges(client, endpoint.bucket)));
  }
  if (localCopy) {
    await dropPageCache();
    const seconds = await timed(() => runFile('sh', ['-c', `cat ${localCopy} > /dev/null`]));
    (results.localCat ??= []).push(seconds);
    console.error(`round ${round} local    cat of the same ${BIG_SIZE / 1048576} MiB ${seconds.toFixed(3)} s`);
  }
  if (sdkUploads) {
    collectGarbage();
    const seconds = await timed(() => sdkUpload(endpoint, WRITE_BIG_SIZE));
    results.sdk.upload.push(seconds);
    console.error(`round ${round} raw SDK  multipart upload of ${WRITE_BIG_SIZE / 1048576} MiB ${seconds.toFixed(3)} s`);
    await forgetBigWrite(SDK_UPLOAD_KEY);
  }
  for (const system of systems) {
    for (const session of sessions().filter(bigWrites)) {
      collectGarbage();
      await runSession(system, session, round);
      if (session.some((w) => w.sdkUploadRow)) await forgetBigWrite(WRITE_BIG_KEY);
    }
  }
}
await endpoint.stop();
if (localCopy) await rm(dirname(localCopy), { recursive: true, force: true });

const heading = `Benchmark of ${new Date().toISOString().slice(0, 10)} on ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB (fauxqs on loopback, medians of ${ROUNDS} rounds, seconds)`;
const table = renderTable(results);
console.log(`${heading}\n\n${table}`);
await writeFile('scripts/benchmark/last-result.md', `${heading}\n\n${table}\n`);
