// CPU and wall time of a cold `ls -l` of the 5,000-entry directory, per system: the serving
// process's CPU (from /proc) and the emulator's (this process, which serves fauxqs), one fresh
// mount each. Usage: node --import tsx scripts/benchmark/ls-cpu.ts [s3mount,s3fs,...]
// (BENCH_S3MOUNT_ARGS adds s3mount options, as in run.ts).
import { execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { seedClient, startS3Endpoint } from '../local-s3.js';
import { seedDataset } from './seed.js';
import { mountSystem, type SystemName } from './systems.js';

const run = promisify(execFile);
const endpoint = await startS3Endpoint({ bucket: 'bench' });
await seedDataset(seedClient(endpoint), endpoint.bucket);
const cpuOf = async (pid: string) => {
  const f = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10; // ms
};
for (const system of (process.argv[2] ?? 's3mount').split(',') as SystemName[]) {
  const m = await mountSystem(system, endpoint, process.env.LS_CPU_NODE_ARGS ? { nodeArgs: process.env.LS_CPU_NODE_ARGS.split(' ') } : {});
  const { stdout: pids } = await run('pgrep', ['-f', '--', m.mountpoint]);
  const pid = pids.trim().split('\n').at(-1) as string;
  try {
    for (let i = 0; i < Number(process.env.LS_CPU_ROUNDS ?? 1); i++) {
      // Later rounds: the mount's caches cleared (its process, JIT and connections warm).
      if (i > 0) await run(process.execPath, ['dist/cli.js', 'cache', 'clear', m.mountpoint]).catch(() => run('bash', ['-c', 'sleep 2']));
      const self0 = process.cpuUsage();
      const c0 = await cpuOf(pid);
      const t = performance.now();
      const perf = process.env.LS_CPU_PERF
        ? spawn('perf', ['record', '-F', '2000', '-g', '-o', `${process.env.LS_CPU_PERF}.${i}`, '-p', pid], { stdio: 'ignore' })
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
      console.log(system, 'ls -l cold wall', wall.toFixed(0), 'ms; mount cpu', c1 - c0, 'ms; fauxqs cpu', ((self.user + self.system) / 1000).toFixed(0), 'ms');
    }
  } finally {
    await m.stop();
  }
}
await endpoint.stop();
