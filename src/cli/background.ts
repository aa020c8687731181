// Mounting without -f: a detached child serves the mount; the parent returns once it
// is ready (exit 0) or prints the child's one-line reason and fails, as mount-s3 and s3fs do.
import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';

/** Set in the child's environment so that it reports readiness over IPC. */
export const BACKGROUND_CHILD_VARIABLE = 'S3MOUNT_BACKGROUND_CHILD';

/** A ready mount's notices are lines its starter should see once (its own stderr goes to the log file). */
export type ReadyMessage = { type: 'ready'; notices?: string[] } | { type: 'failed'; message: string };

export async function startInBackground(script: string, args: string[], logFile: string | undefined): Promise<ReadyMessage> {
  const output = logFile ? openSync(logFile, 'a') : 'ignore';
  // `args` include --foreground: the child serves the mount itself.
  const child = spawn(process.execPath, [...process.execArgv, script, ...args], {
    detached: true,
    stdio: ['ignore', output, output, 'ipc'],
    env: { ...process.env, [BACKGROUND_CHILD_VARIABLE]: '1' },
  });
  return new Promise((resolve) => {
    child.once('message', (message: ReadyMessage) => {
      child.disconnect();
      child.unref();
      resolve(message);
    });
    child.once('exit', (code, signal) => resolve({ type: 'failed', message: `s3mount exited before the mount was ready (${signal ?? `code ${code}`})` }));
    child.once('error', (error) => resolve({ type: 'failed', message: `cannot start s3mount: ${error.message}` }));
  });
}

/** The child's end of the IPC channel (the process itself; a fake in tests). */
export interface ParentChannel {
  readonly connected: boolean;
  send?: (message: ReadyMessage, callback: (error: Error | null) => void) => boolean;
  disconnect?: () => void;
}

/** In the background child: tell the waiting parent how the start went. */
export function reportToParent(message: ReadyMessage, channel: ParentChannel = process, env: NodeJS.ProcessEnv = process.env): void {
  if (env[BACKGROUND_CHILD_VARIABLE] !== '1' || !channel.send) return;
  // The parent disconnects as soon as it has the message, which can land before this
  // callback: disconnecting a closed channel throws and would end the serving process.
  channel.send(message, () => {
    if (channel.connected) channel.disconnect?.();
  });
}

/**
 * In the background child, once mounted: leave the directory the mount was started from, as
 * daemons do. The serving process outlives the shell that started it, and its working
 * directory would keep that directory's filesystem busy (another mount could not be
 * unmounted). Every path on the command line was made absolute when it was read, and the
 * credentials were loaded to check the bucket.
 */
export function leaveWorkingDirectory(env: NodeJS.ProcessEnv = process.env): void {
  if (env[BACKGROUND_CHILD_VARIABLE] === '1') process.chdir('/');
}
