// Big sequential writes through s3mount against one multipart upload by the SDK, on one
// emulator: `dd bs=1M conv=fsync` of STREAMED_WRITE_MIB (default 1024) MiB, and `cp` of a
// 256 MiB file then `sync`. For each: wall time, the time dd spent in fsync() and close()
// (strace -T, syscalls filtered in the kernel so that writes are not slowed), and the mount
// process's resident memory before and at its peak (VmHWM). The SDK row is a separate node
// process uploading the same bytes with @aws-sdk/lib-storage (8 MiB parts, 4 at a time), its
// start included. A third workload writes 256 MiB in order and then its first 4 KiB again,
// and times the close(). Medians of STREAMED_WRITE_RUNS rounds (default 3). STREAMED_WRITE_BASELINE=DIR
// (another built checkout) adds its rows, run in the same rounds, so that a loaded machine
// weighs on both alike.
// Run: node --import tsx scripts/benchmark/streamed-write.ts

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startS3Endpoint } from '../local-s3.js';
import { mountCheckout, servingPid } from './systems.js';

const run = promisify(execFile);
const MIB = 1024 * 1024;
const BIG_MIB = Number(process.env.STREAMED_WRITE_MIB ?? 1024);
const COPY_MIB = 256;
const ROUNDS = Number(process.env.STREAMED_WRITE_RUNS ?? 3);

const endpoint = await startS3Endpoint();
const scratch = await mkdtemp(join(tmpdir(), 'bench-streamed-'));
const copySource = join(scratch, 'copy-source');
await run('dd', ['if=/dev/urandom', `of=${copySource}`, 'bs=1M', `count=${COPY_MIB}`, 'status=none']);

// The SDK's upload of BIG_MIB MiB of zeros (what dd writes), read from /dev/zero.
const SDK_UPLOAD = `
const { S3Client } = require('@aws-sdk/client-s3');
const { Upload } = require('@aws-sdk/lib-storage');
const { createReadStream } = require('node:fs');
const [endpoint, bucket, key, size] = process.argv.slice(1);
const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
const body = createReadStream('/dev/zero', { start: 0, end: Number(size) - 1 });
new Upload({ client, params: { Bucket: bucket, Key: key, Body: body, ContentLength: Number(size) }, partSize: 8 * 1024 * 1024, queueSize: 4 })
  .done().then(() => client.destroy(), (e) => { console.error(e); process.exit(1); });
`;

interface Sample {
  seconds: number;
  fsync?: number;
  close?: number;
  rssBefore?: number;
  rssPeak?: number;
  /** CPU seconds of the mount process during the work (user + system). */
  cpu?: number;
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}

/** Seconds spent in the slowest fsync() and close() of a strace -T log. */
function syscallTimes(log: string): { fsync: number; close: number } {
  const longest = (name: string) => Math.max(0, ...[...log.matchAll(new RegExp(`${name}\\(\\d+\\)\\s*=\\s*\\S+.*<([\\d.]+)>`, 'g'))].map((m) => Number(m[1])));
  return { fsync: longest('fsync'), close: longest('close') };
}

/** CPU seconds a process used so far (user + system, from /proc/PID/stat). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command name; 100 ticks a second.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function rssMiB(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Math.round(Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024);
}

const BASELINE = process.env.STREAMED_WRITE_BASELINE;

async function mountedRun(work: (mountpoint: string) => Promise<Partial<Sample>>, checkout?: string): Promise<Sample> {
  const mounted = await mountCheckout(endpoint, checkout);
  try {
    const pid = await servingPid(mounted.mountpoint);
    const rssBefore = await rssMiB(pid, 'VmRSS');
    const cpuBefore = await cpuSeconds(pid);
    let result: Partial<Sample> = {};
    const seconds = await timed(async () => (result = await work(mounted.mountpoint)));
    return { seconds, ...result, rssBefore, rssPeak: await rssMiB(pid, 'VmHWM'), cpu: (await cpuSeconds(pid)) - cpuBefore };
  } finally {
    await mounted.stop();
  }
}

async function ddRun(checkout?: string): Promise<Sample> {
  return mountedRun(async (mountpoint) => {
    const trace = join(scratch, 'dd.strace');
    await run('strace', [
      '--seccomp-bpf',
      '-f',
      '-T',
      '-e',
      'trace=fsync,close',
      '-o',
      trace,
      'dd',
      'if=/dev/zero',
      `of=${join(mountpoint, 'big')}`,
      'bs=1M',
      `count=${BIG_MIB}`,
      'conv=fsync',
      'status=none',
    ]);
    return syscallTimes(await readFile(trace, 'utf8'));
  }, checkout);
}

async function copyRun(checkout?: string): Promise<Sample> {
  return mountedRun(async (mountpoint) => {
    await run('cp', [copySource, join(mountpoint, 'copied')]);
    await run('sync', []);
    return {};
  }, checkout);
}

// 256 MiB written in order in 1 MiB writes, then its first 4 KiB written again (as a muxer
// fills in a header), then close(); prints the seconds close() took.
const REWRITE_HEADER = `
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
chunk = b'\\x01' * (1 << 20)
for i in range(${COPY_MIB}): os.write(fd, chunk)
os.pwrite(fd, b'\\x02' * 4096, 0)
started = time.time(); os.close(fd); print(time.time() - started)
`;

async function rewriteRun(checkout?: string): Promise<Sample> {
  return mountedRun(async (mountpoint) => {
    const { stdout } = await run('python3', ['-c', REWRITE_HEADER, join(mountpoint, 'rewritten')]);
    return { close: Number(stdout) };
  }, checkout);
}

async function sdkRun(size: number, key: string): Promise<Sample> {
  // A script given with -e resolves packages from the working directory: the checkout's.
  return { seconds: await timed(() => run(process.execPath, ['-e', SDK_UPLOAD, endpoint.endpoint, endpoint.bucket, key, String(size)])) };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
type Measure = [string, () => Promise<Sample>];
const baselineRow = (label: string, measure: () => Promise<Sample>): Measure[] => (BASELINE ? [[`${label}, baseline`, measure]] : []);
const plan: Measure[] = [
  [`dd ${BIG_MIB} MiB conv=fsync`, () => ddRun()],
  ...baselineRow(`dd ${BIG_MIB} MiB conv=fsync`, () => ddRun(BASELINE)),
  [`SDK Upload ${BIG_MIB} MiB`, () => sdkRun(BIG_MIB * MIB, 'sdk-big')],
  [`cp ${COPY_MIB} MiB; sync`, () => copyRun()],
  ...baselineRow(`cp ${COPY_MIB} MiB; sync`, () => copyRun(BASELINE)),
  [`SDK Upload ${COPY_MIB} MiB`, () => sdkRun(COPY_MIB * MIB, 'sdk-copy')],
  [`${COPY_MIB} MiB in order, first 4 KiB again, close`, () => rewriteRun()],
  ...baselineRow(`${COPY_MIB} MiB in order, first 4 KiB again, close`, () => rewriteRun(BASELINE)),
];
const rows: Array<[string, Sample[]]> = plan.map(([label]) => [label, []]);
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const [index, [, measure]] of plan.entries()) rows[index][1].push(await measure());
  }
} finally {
  await endpoint.stop();
  await rm(scratch, { recursive: true, force: true });
}

const cell = (samples: Sample[], pick: (s: Sample) => number | undefined, digits: number) => {
  const values = samples.map(pick).filter((v): v is number => v !== undefined);
  return values.length === 0 ? '' : median(values).toFixed(digits);
};
console.log(`| ${ROUNDS} rounds, medians | s | in fsync() s | in close() s | mount CPU s | RSS before MiB | RSS peak MiB | all runs s |`);
console.log('|---|---:|---:|---:|---:|---:|---:|---|');
for (const [label, samples] of rows) {
  console.log(
    `| ${label} | ${cell(samples, (s) => s.seconds, 2)} | ${cell(samples, (s) => s.fsync, 2)} | ${cell(samples, (s) => s.close, 2)} | ${cell(samples, (s) => s.cpu, 2)} | ${cell(samples, (s) => s.rssBefore, 0)} | ${cell(samples, (s) => s.rssPeak, 0)} | ${samples.map((s) => s.seconds.toFixed(2)).join(', ')} |`,
  );
}
