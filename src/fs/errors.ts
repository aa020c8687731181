import type { Logger } from '../log.js';
import { isStoreError } from '../s3/object-store.js';

/** The errno names the filesystem core answers with; the FUSE adapter turns them into numbers. */
export type FsErrorCode =
  | 'ENOENT'
  | 'EACCES'
  | 'EPERM'
  | 'EIO'
  | 'EROFS'
  | 'EISDIR'
  | 'ENOTDIR'
  | 'ENOTEMPTY'
  | 'EEXIST'
  | 'EINVAL'
  | 'EBADF'
  | 'ENAMETOOLONG'
  | 'ENOTSUP'
  | 'EXDEV'
  | 'ENOSPC'
  | 'EFBIG'
  | 'EBUSY';

export class FsError extends Error {
  readonly code: FsErrorCode;
  constructor(code: FsErrorCode, message: string = code) {
    super(message);
    this.name = 'FsError';
    this.code = code;
  }
}

/**
 * Turns any failure into an FsError. Store failures map by kind (not found → ENOENT,
 * access denied → EACCES, anything else → EIO) and are logged once here, with the
 * backend's code, so that handlers need not log them again.
 */
export function toFsError(error: unknown, log: Logger, context: { op: string; path?: string; key?: string }): FsError {
  if (error instanceof FsError) return error;
  if (isStoreError(error)) {
    if (error.kind === 'NotFound') return new FsError('ENOENT', error.message);
    const code: FsErrorCode = error.kind === 'AccessDenied' ? 'EACCES' : 'EIO';
    log.warn({ ...context, s3Code: error.code, status: error.status, errno: code }, `S3 ${error.kind}: ${error.message}`);
    return new FsError(code, error.message);
  }
  // The staging directory's filesystem is full (or its quota used up): the program is told so,
  // as a local disk would, and what it wrote before stays staged.
  const localCode = (error as NodeJS.ErrnoException | undefined)?.code;
  if (localCode === 'ENOSPC' || localCode === 'EDQUOT') {
    log.warn({ ...context, err: error }, 'staging directory full');
    return new FsError('ENOSPC', (error as Error).message);
  }
  log.error({ ...context, err: error }, 'unexpected failure');
  return new FsError('EIO', error instanceof Error ? error.message : String(error));
}
