// A/B of the 1 GiB sequential write (`dd bs=1M conv=fsync`) between this checkout's s3mount
// and another built checkout's, alternating which goes first each round, the object removed
// after each run (fauxqs slows while it holds big objects). Prints wall and mount CPU per run.
// Run: DD_AB_BASELINE=DIR [DD_AB_ROUNDS=5] [DD_AB_MIB=1024] [DD_AB_SEED=1] [DD_AB_SDK=1] node --import tsx scripts/benchmark/dd-ab.ts
import { execFile } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { seedClient, startS3Endpoint } from '../local-s3.js';
import { SDK_UPLOAD_KEY, sdkUpload } from './sdk-upload.js';
import { seedDataset } from './seed.js';
import { mountCheckout, servingPid } from './systems.js';

const run = promisify(execFile);
const baseline = process.env.DD_AB_BASELINE;
if (!baseline) throw new Error('DD_AB_BASELINE=DIR names the other built checkout');
const rounds = Number(process.env.DD_AB_ROUNDS ?? 5);
const mib = Number(process.env.DD_AB_MIB ?? 1024);
const endpoint = await startS3Endpoint({ bucket: 'bench' });
const seeder = seedClient(endpoint);
// DD_AB_SEED=1: the benchmark's data set in the bucket (and in this process, as in run.ts).
if (process.env.DD_AB_SEED === '1') await seedDataset(seeder, endpoint.bucket);

async function cpuSeconds(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

// DD_AB_GC=1: a full collection in this process (fauxqs's) after each run's object is removed.
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;
const settleEmulator = () => {
  if (process.env.DD_AB_GC === '1') collect();
};

type Sample = { seconds: number; cpu: number; emulator: number };

/** CPU seconds this process (which serves fauxqs) spent since `before`. */
function emulatorSeconds(before: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1e6;
}

// DD_AB_SDK=1: the benchmark's raw SDK upload (sdk-upload.ts) too, each round.
async function sdkOnce(): Promise<Sample> {
  const emulatorBefore = process.cpuUsage();
  const started = performance.now();
  await sdkUpload(endpoint, mib * 1024 * 1024);
  const seconds = (performance.now() - started) / 1000;
  const emulator = emulatorSeconds(emulatorBefore);
  await seeder.send(new DeleteObjectCommand({ Bucket: endpoint.bucket, Key: SDK_UPLOAD_KEY }));
  settleEmulator();
  return { seconds, cpu: 0, emulator };
}

async function once(checkout: string | undefined): Promise<Sample> {
  const mounted = await mountCheckout(endpoint, checkout);
  try {
    const pid = await servingPid(mounted.mountpoint);
    const cpuBefore = await cpuSeconds(pid);
    const emulatorBefore = process.cpuUsage();
    const started = performance.now();
    await run('dd', ['if=/dev/zero', `of=${mounted.mountpoint}/big`, 'bs=1M', `count=${mib}`, 'conv=fsync', 'status=none']);
    const seconds = (performance.now() - started) / 1000;
    const cpu = (await cpuSeconds(pid)) - cpuBefore;
    const emulator = emulatorSeconds(emulatorBefore);
    await rm(`${mounted.mountpoint}/big`);
    settleEmulator();
    return { seconds, cpu, emulator };
  } finally {
    await mounted.stop();
  }
}

const results: Record<string, Sample[]> = { this: [], baseline: [], sdk: [] };
try {
  for (let round = 0; round < rounds; round++) {
    const order: Array<['this' | 'baseline', string | undefined]> =
      round % 2 === 0
        ? [
            ['this', undefined],
            ['baseline', baseline],
          ]
        : [
            ['baseline', baseline],
            ['this', undefined],
          ];
    for (const [label, checkout] of order) {
      const sample = await once(checkout);
      results[label].push(sample);
      console.log(
        `round ${round + 1} ${label.padEnd(8)} ${sample.seconds.toFixed(2)} s, mount CPU ${sample.cpu.toFixed(2)} s, emulator CPU ${sample.emulator.toFixed(2)} s`,
      );
    }
    if (process.env.DD_AB_SDK === '1') {
      const sample = await sdkOnce();
      results.sdk.push(sample);
      console.log(`round ${round + 1} sdk      ${sample.seconds.toFixed(2)} s, emulator CPU ${sample.emulator.toFixed(2)} s`);
    }
  }
} finally {
  await endpoint.stop();
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
for (const [label, samples] of Object.entries(results)) {
  if (samples.length === 0) continue;
  console.log(
    `${label.padEnd(8)} median ${median(samples.map((s) => s.seconds)).toFixed(2)} s, mount CPU ${median(samples.map((s) => s.cpu)).toFixed(2)} s, emulator CPU ${median(samples.map((s) => s.emulator)).toFixed(2)} s`,
  );
}
