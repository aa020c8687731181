// Where a mount keeps its disk cache, and the lock that keeps two mounts out of one directory.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** `$XDG_CACHE_HOME/s3mount`; without it `~/.cache/s3mount`, or `/var/cache/s3mount` for root. */
export function defaultCacheRoot(env: NodeJS.ProcessEnv, uid: number): string {
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 's3mount');
  return uid === 0 ? '/var/cache/s3mount' : join(homedir(), '.cache', 's3mount');
}

/**
 * The directory of one bucket and prefix at one endpoint, under the root: readable for people
 * (bucket and prefix), unique through a short hash of everything that tells them apart.
 */
export function cacheDirFor(root: string, target: { endpoint?: string; bucket: string; prefix: string }): string {
  const hash = createHash('sha256')
    .update(`${target.endpoint ?? 'aws'}\0${target.bucket}\0${target.prefix}`)
    .digest('hex')
    .slice(0, 12);
  const readable = `${target.bucket}${target.prefix ? `-${target.prefix.replace(/\/$/, '')}` : ''}`.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80);
  return join(root, `${readable}-${hash}`);
}

export class CacheDirInUse extends Error {
  override name = 'CacheDirInUse';
}

/**
 * Makes `dir` (0700) and takes its lock for this process, or throws CacheDirInUse naming the
 * live process that holds it. A lock left by a dead process is taken over. Returns the release.
 */
export function lockCacheDir(dir: string): () => void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const lock = join(dir, 'lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lock, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return () => {
        try {
          if (readFileSync(lock, 'utf8').trim() === String(process.pid)) unlinkSync(lock);
        } catch {
          // Already gone: nothing to release.
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number.parseInt(readFileOr(lock, ''), 10);
      if (Number.isInteger(holder) && holder !== process.pid && isAlive(holder)) {
        throw new CacheDirInUse(`cache directory ${dir} is in use by another s3mount (pid ${holder}); give this mount its own --cache-dir, or --no-disk-cache`);
      }
      // Left by a process that is gone.
      unlinkSync(lock);
    }
  }
  throw new CacheDirInUse(`cannot lock cache directory ${dir}`);
}

function readFileOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
