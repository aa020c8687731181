// The four filesystems the benchmark mounts, each in its own process on its own mountpoint.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { S3Endpoint } from '../local-s3.js';
import { unmountWithRetries, waitForMount } from '../mounts.js';

export type SystemName = 's3mount' | 's3fs' | 'rclone' | 'floor';
export const SYSTEMS: SystemName[] = ['s3mount', 's3fs', 'rclone', 'floor'];

export interface MountedSystem {
  mountpoint: string;
  /** Peak resident memory of the serving process so far, in MiB. */
  peakRssMiB(): Promise<number>;
  stop(): Promise<void>;
}

interface LaunchPlan {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

async function plan(system: SystemName, endpoint: S3Endpoint, mountpoint: string, scratch: string): Promise<LaunchPlan> {
  const credentials = { AWS_ACCESS_KEY_ID: endpoint.accessKeyId, AWS_SECRET_ACCESS_KEY: endpoint.secretAccessKey, AWS_REGION: endpoint.region };
  switch (system) {
    case 's3mount':
      return {
        // Another build (a checkout's bin/s3mount) for A/B runs.
        command: process.env.BENCH_S3MOUNT_BIN ?? resolve('bin/s3mount'),
        args: [
          endpoint.bucket,
          mountpoint,
          '-f',
          '--endpoint-url',
          endpoint.endpoint,
          '--force-path-style',
          '--metadata-ttl',
          '60',
          '--staging-dir',
          join(scratch, 'staging'),
          '--cache-dir',
          join(scratch, 's3mount-cache'),
          ...(process.env.BENCH_S3MOUNT_ARGS?.split(' ').filter(Boolean) ?? []),
        ],
        env: { ...process.env, ...credentials },
      };
    case 's3fs': {
      const passwd = join(scratch, 'passwd-s3fs');
      await writeFile(passwd, `${endpoint.accessKeyId}:${endpoint.secretAccessKey}\n`, { mode: 0o600 });
      const options = [
        `url=${endpoint.endpoint}`,
        'use_path_request_style',
        `passwd_file=${passwd}`,
        `use_cache=${join(scratch, 's3fs-cache')}`,
        'stat_cache_expire=60',
      ];
      return { command: 's3fs', args: [endpoint.bucket, mountpoint, '-f', ...options.flatMap((option) => ['-o', option])], env: process.env };
    }
    case 'rclone': {
      const config = join(scratch, 'rclone.conf');
      await writeFile(
        config,
        `[bench]\ntype = s3\nprovider = Other\nendpoint = ${endpoint.endpoint}\naccess_key_id = ${endpoint.accessKeyId}\nsecret_access_key = ${endpoint.secretAccessKey}\nforce_path_style = true\n`,
      );
      // rclone 1.60 fails to start when AWS_CA_BUNDLE is set.
      const env = { ...process.env };
      delete env.AWS_CA_BUNDLE;
      return {
        command: 'rclone',
        args: [
          'mount',
          `bench:${endpoint.bucket}`,
          mountpoint,
          '--config',
          config,
          '--vfs-cache-mode',
          'full',
          '--dir-cache-time',
          '60s',
          '--cache-dir',
          join(scratch, 'rclone-cache'),
        ],
        env,
      };
    }
    case 'floor':
      return { command: process.execPath, args: ['--import', 'tsx', resolve('scripts/benchmark/floor-fs.ts'), mountpoint], env: process.env };
  }
}

export interface MountChoices {
  /** `nodeArgs` (s3mount only) runs the CLI under node with those flags, as bin/s3mount would run it. */
  nodeArgs?: string[];
  /** Mount over the caches of an earlier instance (its scratch directory) instead of fresh ones. */
  scratch?: string;
  /** Leave the scratch directory (and the caches in it) at stop, for a remount. */
  keepScratch?: boolean;
  /** Another build's dist/cli.js to run (s3mount only; A/B measurements against a saved build). */
  cli?: string;
}

/** Mounts an instance: by default with a fresh mountpoint and caches, so every first read is cold. */
export async function mountSystem(system: SystemName, endpoint: S3Endpoint, choices: MountChoices = {}): Promise<MountedSystem & { scratch: string }> {
  const nodeArgs = choices.nodeArgs ?? [];
  const scratch = choices.scratch ?? (await mkdtemp(join(tmpdir(), `bench-${system}-`)));
  const mountpoint = join(scratch, 'mnt');
  await mkdir(mountpoint, { recursive: true });
  let { command, args, env } = await plan(system, endpoint, mountpoint, scratch);
  if (system === 's3mount' && (nodeArgs.length > 0 || choices.cli)) {
    [command, args, env] = [
      process.execPath,
      [...nodeArgs, resolve(choices.cli ?? 'dist/cli.js'), ...args],
      { ...env, GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1' },
    ];
  }
  // BENCH_MOUNT_STDOUT=file keeps what the serving process prints (node's --trace-opt, --trace-deopt).
  const stdout = process.env.BENCH_MOUNT_STDOUT ? openSync(`${process.env.BENCH_MOUNT_STDOUT}.${basename(scratch)}`, 'w') : 'ignore';
  const child: ChildProcess = spawn(command, args, { env, stdio: ['ignore', stdout, 'pipe'] });
  if (typeof stdout === 'number') closeSync(stdout);
  let errors = '';
  child.stderr?.on('data', (chunk: Buffer) => (errors = (errors + chunk.toString()).slice(-2000)));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  try {
    await waitForMount(mountpoint, exited, 60_000);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${system} did not mount: ${(error as Error).message}: ${errors}`);
  }
  return {
    mountpoint,
    scratch,
    peakRssMiB: async () => {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8').catch(() => '');
      const kib = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
      return Math.round(kib / 1024);
    },
    stop: async () => {
      await unmountWithRetries(mountpoint);
      // s3mount, s3fs and rclone leave when unmounted; the floor needs telling.
      if (child.exitCode === null) child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(killer);
      if (!choices.keepScratch) await rm(scratch, { recursive: true, force: true });
    },
  };
}

/** s3mount of another built checkout (its bin/s3mount), or of this one when `checkout` is undefined. */
export async function mountCheckout(endpoint: S3Endpoint, checkout?: string): Promise<MountedSystem & { scratch: string }> {
  // mountSystem starts bin/s3mount of the working directory's checkout.
  const home = process.cwd();
  if (checkout) process.chdir(checkout);
  try {
    return await mountSystem('s3mount', endpoint);
  } finally {
    process.chdir(home);
  }
}

/** The s3mount process serving `mountpoint` (its command line names it). */
export async function servingPid(mountpoint: string): Promise<number> {
  const { stdout } = await promisify(execFile)('pgrep', ['-f', '--', mountpoint]);
  for (const pid of stdout.split('\n').filter(Boolean).map(Number)) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes('cli.js')) return pid;
  }
  throw new Error(`no s3mount process serves ${mountpoint}`);
}
