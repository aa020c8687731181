// Where s3mount spends its CPU on chosen benchmark workloads: seeds the emulator, mounts
// s3mount with `node --cpu-prof`, runs the workloads whose names contain the arguments (in
// the benchmark's order, on one mount), unmounts, and prints the functions with the most
// self time. The .cpuprofile stays in the printed directory (open it in Chrome DevTools).
//   node --import tsx scripts/benchmark/profile.ts "sequential read" "ls -l"
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seedClient, startS3Endpoint } from '../local-s3.js';
import { seedDataset } from './seed.js';
import { mountSystem } from './systems.js';
import { dropPageCache, WORKLOADS } from './workloads.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const wanted = process.argv.slice(2);
const workloads = WORKLOADS.filter((w) => wanted.length === 0 || wanted.some((part) => w.name.includes(part)));
const profileDir = await mkdtemp(join(tmpdir(), 's3mount-profile-'));
const endpoint = await startS3Endpoint({ bucket: 'bench' });
await seedDataset(seedClient(endpoint), endpoint.bucket);
await dropPageCache();
// PROFILE_NODE_ARGS adds node flags (--no-turbo-inlining shows inlined callees under their own names).
const extraNodeArgs = process.env.PROFILE_NODE_ARGS ? process.env.PROFILE_NODE_ARGS.split(' ') : [];
const mounted = await mountSystem('s3mount', endpoint, { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, ...extraNodeArgs] });
// V8 stamps samples with the monotonic clock in µs, as process.hrtime does: only samples
// taken while a workload ran are counted, not the mount's start or its unmount.
const windows: Array<[number, number]> = [];
const nowUs = () => Number(process.hrtime.bigint() / 1000n);
try {
  for (const workload of workloads) {
    const started = nowUs();
    const own = await workload.run(mounted.mountpoint, 1);
    windows.push([started, nowUs()]);
    console.log(`${workload.name}: ${(typeof own === 'number' ? own : (nowUs() - started) / 1e6).toFixed(3)} s`);
  }
  console.log(`peak RSS ${await mounted.peakRssMiB()} MiB`);
} finally {
  await mounted.stop();
  await endpoint.stop();
}

const [file] = (await readdir(profileDir)).filter((name) => name.endsWith('.cpuprofile'));
const profile = JSON.parse(await readFile(join(profileDir, file), 'utf8')) as CpuProfile;
const selfMs = new Map<number, number>();
let at = profile.startTime;
profile.samples.forEach((id, i) => {
  at += profile.timeDeltas[i] ?? 0;
  if (windows.some(([from, to]) => at >= from && at <= to)) selfMs.set(id, (selfMs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
});
const byFunction = new Map<string, number>();
let total = 0;
for (const node of profile.nodes) {
  const ms = selfMs.get(node.id) ?? 0;
  total += ms;
  const { functionName, url, lineNumber } = node.callFrame;
  const where = `${functionName || '(anonymous)'} ${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/main\//, '')}:${lineNumber + 1}`;
  byFunction.set(where, (byFunction.get(where) ?? 0) + ms);
}
console.log(`\nself time by function while the workloads ran (total ${total.toFixed(0)} ms, idle included), profile in ${profileDir}`);
for (const [where, ms] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`${ms.toFixed(0).padStart(7)} ms  ${where}`);
