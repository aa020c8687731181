// The filesystem core over the in-memory store, as unit tests build it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createObjectCache } from '../../src/cache/object-cache.js';
import { FsError } from '../../src/fs/errors.js';
import { S3Filesystem, type FilesystemOptions } from '../../src/fs/filesystem.js';
import { silentLogger } from '../../src/log.js';
import { MemoryStore } from '../../src/s3/memory-store.js';

/** Small blocks so that tests cross block boundaries with little data. */
export const CORE_BLOCK = 64 * 1024;

const stagingDirectories: string[] = [];
process.once('exit', () => stagingDirectories.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

export function setupCore(options: Partial<FilesystemOptions> = {}) {
  const store = new MemoryStore('bucket');
  const cache = createObjectCache({ ttlMs: 3_600_000, opTtlMs: {}, maxMetadataEntries: 10_000, maxContentBytes: 64 * CORE_BLOCK }, silentLogger());
  const stagingDirectory = mkdtempSync(join(tmpdir(), 's3mount-core-'));
  stagingDirectories.push(stagingDirectory);
  const fs = new S3Filesystem(store, cache, silentLogger(), {
    bucket: 'bucket',
    prefix: '',
    uid: 1000,
    gid: 1000,
    fileMode: 0o644,
    dirMode: 0o755,
    negativeTtlMs: 0,
    blockSize: CORE_BLOCK,
    maxPrefetchBlocks: 0,
    readOnly: false,
    stagingDirectory,
    partSize: 5 * 1024 * 1024,
    ...options,
  });
  return { store, cache, fs, stagingDirectory };
}

/** The errno name a call fails with, "no error", or a note that it failed with something else. */
export async function errno(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'no error';
  } catch (error) {
    return error instanceof FsError ? error.code : `not an FsError: ${String(error)}`;
  }
}

