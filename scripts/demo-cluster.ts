// `make demo-cluster`: one bucket mounted twice with a shared cache on Redis, as two machines
// would mount it. A write through one mount shows at once through the other, although both
// trust their cached listings and HEAD answers for an hour; the second mount's first listing
// comes from Redis, not S3. Prints the bus and tier statistics of both, then unmounts and
// stops everything (at once with --exit; else after Ctrl-C).

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { MountStats } from '../src/stats.js';
import { seedClient, startS3Endpoint } from './local-s3.js';
import { runShown, unmountWithRetries, waitForMount } from './mounts.js';
import { startRedis } from './redis-server.js';

const execFileAsync = promisify(execFile);
const exitAfterShowing = process.argv.includes('--exit');
const s3mount = resolve('bin/s3mount');

const endpoint = await startS3Endpoint({ bucket: 'demo-cluster' });
const redis = await startRedis();
console.log(`local S3 emulator at ${endpoint.endpoint}, Redis at ${redis.url}`);
const client = seedClient(endpoint);
for (let i = 0; i < 50; i++) {
  const body = `report ${i}\n`;
  await client.send(new PutObjectCommand({ Bucket: endpoint.bucket, Key: `reports/r-${String(i).padStart(2, '0')}.txt`, Body: body }));
}

interface Machine {
  name: string;
  mountpoint: string;
  cacheDir: string;
  server: ChildProcess;
  exited: Promise<unknown>;
}

const env = { ...process.env, AWS_ACCESS_KEY_ID: endpoint.accessKeyId, AWS_SECRET_ACCESS_KEY: endpoint.secretAccessKey, AWS_REGION: endpoint.region };
const machines: Machine[] = [];

async function mountMachine(name: string): Promise<Machine> {
  const mountpoint = await mkdtemp(join(tmpdir(), `s3mount-${name}-`));
  const cacheDir = await mkdtemp(join(tmpdir(), `s3mount-${name}-cache-`));
  // An hour of metadata TTL: only the bus can make one machine see the other's changes soon.
  const args = [endpoint.bucket, mountpoint, '-f', '--endpoint-url', endpoint.endpoint, '--cache-dir', cacheDir, '--metadata-ttl', '3600'];
  const server = spawn(s3mount, [...args, '--shared-cache', redis.url, '--log-level', 'warn'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  const machine = { name, mountpoint, cacheDir, server, exited: new Promise((done) => server.once('exit', done)) };
  machines.push(machine);
  await waitForMount(mountpoint, machine.exited);
  return machine;
}

async function statsOf(machine: Machine): Promise<MountStats> {
  const { stdout } = await execFileAsync(s3mount, ['cache', 'stats', machine.mountpoint, '--json']);
  return JSON.parse(stdout) as MountStats;
}

let cleaned = false;
async function cleanUp(): Promise<void> {
  if (cleaned) return;
  cleaned = true;
  for (const machine of machines) {
    await unmountWithRetries(machine.mountpoint);
    await machine.exited;
    await rm(machine.mountpoint, { recursive: true, force: true });
    await rm(machine.cacheDir, { recursive: true, force: true });
  }
  await redis.stop();
  await endpoint.stop();
}

try {
  const alpha = await mountMachine('alpha');
  const beta = await mountMachine('beta');
  console.log(`\nmounted s3://${endpoint.bucket} twice: alpha at ${alpha.mountpoint}, beta at ${beta.mountpoint}\n`);

  await runShown('sh', ['-c', `ls ${alpha.mountpoint}/reports | wc -l`]);
  console.log('beta lists the same directory: its listing comes from Redis (LIST calls on beta below: 0)');
  await runShown('sh', ['-c', `ls ${beta.mountpoint}/reports | wc -l`]);
  const betaLists = (await statsOf(beta)).s3.list.count;

  console.log('alpha writes a new file and overwrites another; beta shows both at once:');
  const written = Date.now();
  await writeFile(join(alpha.mountpoint, 'reports/new.txt'), 'written on alpha\n');
  await writeFile(join(alpha.mountpoint, 'reports/r-00.txt'), 'rewritten on alpha\n');
  const seenAfter = await waitUntil(async () => (await readFile(join(beta.mountpoint, 'reports/new.txt'), 'utf8').catch(() => '')) === 'written on alpha\n');
  console.log(`beta saw reports/new.txt ${seenAfter - written} ms after alpha's write began (both writes included)\n`);
  await runShown('cat', [join(beta.mountpoint, 'reports/new.txt'), join(beta.mountpoint, 'reports/r-00.txt')]);
  console.log('alpha removes it; beta no longer has it:');
  await rm(join(alpha.mountpoint, 'reports/new.txt'));
  await waitUntil(
    async () =>
      !(await stat(join(beta.mountpoint, 'reports/new.txt')).then(
        () => true,
        () => false,
      )),
  );
  await runShown('sh', ['-c', `ls ${beta.mountpoint}/reports | wc -l`]);

  for (const machine of machines) {
    const stats = await statsOf(machine);
    console.log(`--- ${machine.name}: S3 LISTs ${stats.s3.list.count}, HEADs ${stats.s3.head.count}`);
    const { stdout } = await execFileAsync(s3mount, ['cache', 'stats', machine.mountpoint]);
    console.log(
      stdout
        .split('\n')
        .filter((line) => /^(shared|bus|redis|settings)/.test(line))
        .join('\n'),
    );
  }
  console.log(`\nbeta's first listing of reports/ made ${betaLists} LIST calls to S3`);
  if (exitAfterShowing) {
    await cleanUp();
    console.log('\nunmounted both, stopped Redis and the emulator; demo done');
  } else {
    console.log(`\nserving both — write in one, look in the other; Ctrl-C to unmount and stop`);
    await new Promise<void>((done) => {
      process.once('SIGINT', done);
      process.once('SIGTERM', done);
    });
    await cleanUp();
    console.log('\nunmounted; bye');
  }
} catch (error) {
  console.error(`demo failed: ${(error as Error).message}`);
  await cleanUp();
  process.exit(1);
}
process.exit(0);

/** Polls `check` (at most 10 s); answers when it held, in ms since the epoch. */
async function waitUntil(check: () => Promise<boolean>): Promise<number> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('the change did not show on the other mount within 10 s');
    await new Promise((done) => setTimeout(done, 5));
  }
  return Date.now();
}
