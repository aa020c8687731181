import { constants } from 'node:os';
import { FsError, type FsErrorCode } from '../fs/errors.js';

const EIO = -constants.errno.EIO;

/** Negative errno for a core failure; anything that is not an FsError is EIO. */
export function errnoOf(error: unknown): number {
  if (error instanceof FsError) return errnoOfCode(error.code);
  return EIO;
}

export function errnoOfCode(code: FsErrorCode): number {
  const value = (constants.errno as Record<string, number>)[code];
  return value === undefined ? EIO : -value;
}
