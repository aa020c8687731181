// Where a background mount logs when --log-file is not given: a file named after the
// mountpoint under the user's state directory (the XDG base directory spec), or /var/log
// for root, so that a mount started at boot or from fstab leaves a trail.
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

export function defaultLogDirectory(env: NodeJS.ProcessEnv, uid: number, home: string = homedir()): string {
  if (uid === 0) return '/var/log/s3mount';
  const state = env.XDG_STATE_HOME && isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : join(home, '.local', 'state');
  return join(state, 's3mount');
}

/** "/mnt/s3" → "mnt-s3.log", as systemd names units after paths. */
export function logFileName(mountpoint: string): string {
  const name = mountpoint.replace(/^\/+|\/+$/g, '').replace(/\/+/g, '-');
  return `${name || 'root'}.log`;
}

export function defaultLogFile(mountpoint: string, env: NodeJS.ProcessEnv, uid: number, home?: string): string {
  return join(defaultLogDirectory(env, uid, home), logFileName(mountpoint));
}
