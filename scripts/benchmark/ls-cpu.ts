// CPU and wall time of a cold `ls -l` of the 5,000-entry directory, per system: the serving
// process's CPU (from /proc) and the emulator's (this process, which serves fauxqs), one fresh
// mount each, and the mount's main (JavaScript) thread's CPU. Usage:
// node --import tsx scripts/benchmark/ls-cpu.ts [s3mount,s3fs,...]
// BENCH_S3MOUNT_ARGS adds s3mount options, as in run.ts; LS_CPU_NODE_ARGS passes node flags;
// LS_CPU_ROUNDS=N clears the mount's caches between rounds on one mount; LS_CPU_PERF=/tmp/x
// records perf per round; LS_CPU_FRESH=N runs A/B rounds of fresh mounts (below);
// BENCH_MOUNT_STDOUT=/tmp/x keeps what the mount prints (--trace-opt) and says where the ls starts.
import { execFile, spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { promisify } from 'node:util';
import { seedClient, startS3Endpoint } from '../local-s3.js';
import { seedDataset } from './seed.js';
import { mountSystem, type SystemName } from './systems.js';

const run = promisify(execFile);
const endpoint = await startS3Endpoint({ bucket: 'bench' });
await seedDataset(seedClient(endpoint), endpoint.bucket);
// The process's CPU (all threads), or with `thread` its main thread's alone (the JavaScript thread).
const cpuOf = async (pid: string, thread = false) => {
  const f = (await readFile(thread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10; // ms
};
// LS_CPU_FRESH=N: N rounds, each a fresh mount per system in turn (A/B: the system "base" is
// s3mount from another build, LS_CPU_BASE=/path/to/dist/cli.js), each reading the 256 MiB
// object first as the benchmark's fresh mount did (LS_CPU_READ_BIG=0 skips that).
const fresh = Number(process.env.LS_CPU_FRESH ?? 0);
const specs = (process.argv[2] ?? 's3mount').split(',');
const nodeArgs = process.env.LS_CPU_NODE_ARGS ? process.env.LS_CPU_NODE_ARGS.split(' ') : undefined;
const baseNodeArgs = process.env.LS_CPU_BASE_NODE_ARGS ? process.env.LS_CPU_BASE_NODE_ARGS.split(' ') : nodeArgs;
// A spec may carry node flags and s3mount options of its own: "base:--maglev+--max-opt=2@--no-disk-cache".
const mountArgs = process.env.BENCH_S3MOUNT_ARGS ?? '';
const mountOf = (spec: string) => {
  const [named, options] = spec.split('@');
  const [system, flags] = named.split(':');
  const args = flags ? flags.split('+') : system === 'base' ? baseNodeArgs : nodeArgs;
  // Read by systems.ts as it plans the mount.
  process.env.BENCH_S3MOUNT_ARGS = [mountArgs, ...(options ?? '').split('+')].join(' ');
  return system === 'base'
    ? mountSystem('s3mount', endpoint, { cli: process.env.LS_CPU_BASE, nodeArgs: args })
    : mountSystem(system as SystemName, endpoint, args ? { nodeArgs: args } : {});
};
const measure = async (spec: string, m: { mountpoint: string; scratch: string }, pid: string, round: number) => {
  // With BENCH_MOUNT_STDOUT (systems.ts): where the ls starts in what the mount printed.
  const printed = process.env.BENCH_MOUNT_STDOUT ? `${process.env.BENCH_MOUNT_STDOUT}.${basename(m.scratch)}` : undefined;
  if (printed) console.log(spec, 'ls -l starts at byte', (await stat(printed)).size, 'of', printed);
  const self0 = process.cpuUsage();
  const c0 = await cpuOf(pid);
  const j0 = await cpuOf(pid, true);
  const t = performance.now();
  const perf = process.env.LS_CPU_PERF
    ? spawn('perf', ['record', '-F', '2000', '-g', '-o', `${process.env.LS_CPU_PERF}.${spec}.${round}`, '-p', pid], { stdio: 'ignore' })
    : undefined;
  if (perf) await new Promise((r) => setTimeout(r, 500));
  await run('bash', ['-c', `ls -l ${m.mountpoint}/wide > /dev/null`]);
  if (perf) {
    perf.kill('SIGINT');
    await new Promise((r) => perf.once('exit', r));
  }
  const wall = performance.now() - t;
  const self = process.cpuUsage(self0);
  const c1 = await cpuOf(pid);
  const j1 = await cpuOf(pid, true);
  console.log(
    spec,
    'ls -l cold wall',
    wall.toFixed(0),
    'ms; mount cpu',
    c1 - c0,
    'ms (main thread',
    j1 - j0,
    'ms); fauxqs cpu',
    ((self.user + self.system) / 1000).toFixed(0),
    'ms',
  );
  return { wall, cpu: c1 - c0, main: j1 - j0 };
};
const pidOf = async (mountpoint: string) => {
  const { stdout: pids } = await run('pgrep', ['-f', '--', mountpoint]);
  return pids.trim().split('\n').at(-1) as string;
};
if (fresh > 0) {
  const results = new Map<string, Array<{ wall: number; cpu: number; main: number }>>(specs.map((spec) => [spec, []]));
  for (let round = 0; round < fresh; round++) {
    for (const spec of round % 2 === 0 ? specs : [...specs].reverse()) {
      const m = await mountOf(spec);
      try {
        if (process.env.LS_CPU_READ_BIG !== '0') await run('bash', ['-c', `cat ${m.mountpoint}/big.bin > /dev/null`]);
        results.get(spec)?.push(await measure(spec, m, await pidOf(m.mountpoint), round));
      } finally {
        await m.stop();
      }
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const [spec, rows] of results)
    console.log(
      spec,
      'median of',
      rows.length,
      ': wall',
      median(rows.map((r) => r.wall)).toFixed(0),
      'ms; mount cpu',
      median(rows.map((r) => r.cpu)),
      'ms (main thread',
      median(rows.map((r) => r.main)),
      'ms)',
    );
} else {
  for (const system of specs) {
    const m = await mountOf(system);
    const pid = await pidOf(m.mountpoint);
    try {
      for (let i = 0; i < Number(process.env.LS_CPU_ROUNDS ?? 1); i++) {
        // Later rounds: the mount's caches cleared (its process, JIT and connections warm).
        if (i > 0) await run(process.execPath, ['dist/cli.js', 'cache', 'clear', m.mountpoint]).catch(() => run('bash', ['-c', 'sleep 2']));
        await measure(system, m, pid, i);
      }
    } finally {
      await m.stop();
    }
  }
}
await endpoint.stop();
