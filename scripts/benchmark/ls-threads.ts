// Per-thread CPU of the serving process during a cold `ls -l` of the 5,000-entry directory.
// node --import tsx scripts/benchmark/ls-threads.ts [system]
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { seedClient, startS3Endpoint } from '../local-s3.js';
import { seedDataset } from './seed.js';
import { mountSystem, type SystemName } from './systems.js';

const run = promisify(execFile);
const endpoint = await startS3Endpoint({ bucket: 'bench' });
await seedDataset(seedClient(endpoint), endpoint.bucket);
const threads = async (pid: string) => {
  const out = new Map<string, number>();
  for (const tid of await readdir(`/proc/${pid}/task`)) {
    const text = await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8').catch(() => '');
    if (!text) continue;
    const comm = text.slice(text.indexOf('(') + 1, text.lastIndexOf(')'));
    const f = text.split(') ')[1].split(' ');
    out.set(`${tid} ${comm}`, (Number(f[11]) + Number(f[12])) * 10);
  }
  return out;
};
const system = (process.argv[2] ?? 's3mount') as SystemName;
for (let round = 0; round < Number(process.env.ROUNDS ?? 2); round++) {
  const m = await mountSystem(system, endpoint);
  try {
    const { stdout } = await run('pgrep', ['-f', '--', m.mountpoint]);
    const pid = stdout.trim().split('\n').at(-1) as string;
    await run('bash', ['-c', `cat ${m.mountpoint}/big.bin > /dev/null`]);
    const before = await threads(pid);
    const self0 = process.cpuUsage();
    const t = performance.now();
    await run('bash', ['-c', `ls -l ${m.mountpoint}/wide > /dev/null`]);
    const wall = performance.now() - t;
    const self = process.cpuUsage(self0);
    const after = await threads(pid);
    const byName = new Map<string, number>();
    for (const [k, v] of after) {
      const name = k === `${pid} node` ? 'main' : k;
      byName.set(name, (byName.get(name) ?? 0) + v - (before.get(k) ?? 0));
    }
    console.log(
      system,
      'wall',
      wall.toFixed(0),
      'fauxqs',
      ((self.user + self.system) / 1000).toFixed(0),
      JSON.stringify(Object.fromEntries([...byName].filter(([, v]) => v > 0))),
    );
  } finally {
    await m.stop();
  }
}
await endpoint.stop();
