import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Directory holding control sockets: /run/s3mount for root, else a per-user runtime directory. */
export function controlDirectory(): string {
  const uid = process.getuid?.() ?? 0;
  if (uid === 0) return '/run/s3mount';
  return join(process.env.XDG_RUNTIME_DIR ?? tmpdir(), `s3mount-${uid}`);
}

/** The control socket of the mount at `mountpoint` (absolute); hashed because socket paths are short. */
export function controlSocketPath(mountpoint: string): string {
  const id = createHash('sha256').update(mountpoint).digest('hex').slice(0, 16);
  return join(controlDirectory(), `${id}.sock`);
}
