// The sidecar beside each staged copy (<id>.data ↔ <id>.json): which object the bytes are
// for, which process owns them, whether they hold unsaved changes, and the multipart uploads
// of them under way.
import { rename, writeFile } from 'node:fs/promises';
import { fromDate, type Timespec } from '../attributes/times.js';
import type { StagedState } from './staged-file.js';

export interface Sidecar extends StagedState {
  key: string;
  bucket: string;
  /** The endpoint the bucket is reached at (absent in sidecars written before it was recorded). */
  endpoint?: string;
  pid: number;
}

export function sidecarPath(dataPath: string): string {
  return dataPath.replace(/\.data$/, '.json');
}

export function dataPath(sidecar: string): string {
  return sidecar.replace(/\.json$/, '.data');
}

/** Written to a temporary name and renamed, so a crash never leaves half a sidecar. */
export async function writeSidecar(path: string, sidecar: Sidecar): Promise<void> {
  const temporary = `${path}.tmp`;
  await writeFile(temporary, JSON.stringify(sidecar), { mode: 0o600 });
  await rename(temporary, path);
}

export function parseSidecar(text: string): Sidecar | undefined {
  try {
    const value = JSON.parse(text) as Partial<Sidecar> & { attributes?: { mtime?: string | Date | Timespec; atime?: Timespec; ctime?: Timespec } };
    if (
      typeof value.key !== 'string' ||
      typeof value.bucket !== 'string' ||
      typeof value.pid !== 'number' ||
      typeof value.dirty !== 'boolean' ||
      typeof value.complete !== 'boolean' ||
      !value.attributes
    )
      return undefined;
    // Sidecars written before times had nanoseconds hold mtime as a date string.
    const { mtime: written } = value.attributes;
    const mtime = typeof written === 'object' && written !== null && 'sec' in written ? written : fromDate(new Date(written ?? 0));
    const attributes = { ...value.attributes, mtime, atime: value.attributes.atime ?? mtime, ctime: value.attributes.ctime ?? mtime } as Sidecar['attributes'];
    const sidecar: Sidecar = { key: value.key, bucket: value.bucket, pid: value.pid, dirty: value.dirty, complete: value.complete, attributes };
    if (typeof value.endpoint === 'string') sidecar.endpoint = value.endpoint;
    const uploads = Array.isArray(value.uploads)
      ? value.uploads.filter((upload) => typeof upload?.key === 'string' && typeof upload?.uploadId === 'string')
      : [];
    if (uploads.length > 0) sidecar.uploads = uploads.map(({ key, uploadId }) => ({ key, uploadId }));
    return sidecar;
  } catch {
    return undefined;
  }
}
