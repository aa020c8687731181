// Real mounts for integration tests: s3mount runs in a child process (the serving
// process must never touch its own mount), and tests drive it with coreutils as
// further child processes.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { S3Endpoint } from '../../scripts/local-s3.js';
import { isMounted, unmountWithRetries, waitForMount } from '../../scripts/mounts.js';
import type { MountStats } from '../../src/stats.js';

export { isMounted, unmountWithRetries as unmount };

const execFileAsync = promisify(execFile);

export const CLI = resolve('dist/cli.js');

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command asynchronously; never throws on a non-zero exit. */
export async function run(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; encoding?: 'utf8'; cwd?: string } = {},
): Promise<CommandResult> {
  try {
    const { stdout, stderr } = await execFileAsync(command, args, {
      env: options.env ?? process.env,
      ...(options.cwd !== undefined && { cwd: options.cwd }),
      timeout: options.timeoutMs ?? 60_000,
      maxBuffer: 256 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code?: number | string; stdout?: string; stderr?: string };
    return { code: typeof failure.code === 'number' ? failure.code : -1, stdout: failure.stdout ?? '', stderr: failure.stderr ?? String(error) };
  }
}

/** Environment that gives s3mount the endpoint's credentials and nothing from the developer's own AWS setup. */
export function endpointEnv(endpoint: S3Endpoint): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AWS_ACCESS_KEY_ID: endpoint.accessKeyId,
    AWS_SECRET_ACCESS_KEY: endpoint.secretAccessKey,
    AWS_REGION: endpoint.region,
    // Mounts started by hand in tests cache on disk under the test process's own directory
    // (as their default root, so that two of them on one bucket behave as a user's would).
    XDG_CACHE_HOME: testCacheRoot(),
  };
  delete env.AWS_PROFILE;
  delete env.AWS_SESSION_TOKEN;
  return env;
}

let cacheRoot: string | undefined;

/** A disk-cache root for this test process, removed when it exits. */
function testCacheRoot(): string {
  if (!cacheRoot) {
    const root = mkdtempSync(join(tmpdir(), 's3mount-test-cache-'));
    process.once('exit', () => rmSync(root, { recursive: true, force: true }));
    cacheRoot = root;
  }
  return cacheRoot;
}

export function endpointArgs(endpoint: S3Endpoint): string[] {
  return ['--endpoint-url', endpoint.endpoint, ...(endpoint.forcePathStyle ? ['--force-path-style'] : [])];
}

export interface Mount {
  mountpoint: string;
  child: ChildProcess;
  /** Everything the mount process wrote to stderr so far (its logs). */
  logs(): string;
  /** Unmounts and waits for the process to leave; safe to call twice. */
  stop(): Promise<void>;
}

export interface MountOptions {
  /** BUCKET or BUCKET:PREFIX; defaults to the endpoint's bucket. */
  target?: string;
  args?: string[];
  /**
   * Root of the disk cache (--cache-dir). Default: a fresh directory for this mount alone,
   * removed at stop, so that no test sees another's cached blocks; pass one to share it
   * across a remount.
   */
  cacheDir?: string;
}

/** Mounts in the foreground in a child process and waits until the kernel shows the mount. */
export async function mountBucket(endpoint: S3Endpoint, options: MountOptions = {}): Promise<Mount> {
  const mountpoint = await mkdtemp(join(tmpdir(), 's3mount-it-'));
  const target = options.target ?? endpoint.bucket;
  const ownCacheDir = options.cacheDir === undefined ? await mkdtemp(join(tmpdir(), 's3mount-it-cache-')) : undefined;
  const cacheArgs = ['--cache-dir', options.cacheDir ?? (ownCacheDir as string)];
  const child = spawn(process.execPath, [CLI, target, mountpoint, '-f', ...endpointArgs(endpoint), ...cacheArgs, ...(options.args ?? [])], {
    env: endpointEnv(endpoint),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let logs = '';
  child.stdout?.on('data', (chunk: Buffer) => (logs += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (logs += chunk.toString()));
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));

  try {
    await waitForMount(mountpoint, exited);
  } catch (error) {
    child.kill('SIGKILL');
    await rm(mountpoint, { recursive: true, force: true });
    if (ownCacheDir) await rm(ownCacheDir, { recursive: true, force: true });
    throw new Error(`${(error as Error).message}: ${logs}`);
  }

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      await unmountWithRetries(mountpoint);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
      await rm(mountpoint, { recursive: true, force: true });
      if (ownCacheDir) await rm(ownCacheDir, { recursive: true, force: true });
    })());
  return { mountpoint, child, logs: () => logs, stop };
}

/** `s3mount cache stats MOUNTPOINT --json`, parsed. */
export async function mountStats(mountpoint: string): Promise<MountStats> {
  const result = await run(process.execPath, [CLI, 'cache', 'stats', mountpoint, '--json']);
  if (result.code !== 0) throw new Error(`cache stats failed: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

/**
 * The mount's statistics at a moment when no S3 call is under way (prefetches and other
 * background loads included), for counts that must not move while they are compared. Fails
 * after `timeoutMs`.
 */
export async function quiescentStats(mountpoint: string, timeoutMs = 60_000): Promise<MountStats> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stats = await mountStats(mountpoint);
    if (Object.values(stats.s3).some((op) => typeof op.inFlight !== 'number'))
      throw new Error('the mount reports no S3 calls in flight: is dist/ built from this tree?');
    const inFlight = Object.values(stats.s3).reduce((sum, op) => sum + op.inFlight, 0);
    if (inFlight === 0) return stats;
    if (Date.now() > deadline) throw new Error(`${inFlight} S3 calls still in flight after ${timeoutMs} ms`);
    await new Promise((resolveWait) => setTimeout(resolveWait, 50));
  }
}
