// Staged copies left behind by a process that died (kill -9, crash, power loss of the
// process): at mount start they are uploaded when their sidecar says they hold unsaved and
// complete bytes, reported with their paths when they cannot be, and removed when clean.
// Nothing is dropped silently. Multipart uploads the dead process had under way are aborted,
// so that their parts do not stay.
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../log.js';
import type { ObjectStore } from '../../s3/object-store.js';
import { contentTypeFor } from './content-type.js';
import { dataPath, parseSidecar } from './staged-sidecar.js';
import { toMetadata } from './write-stage.js';

export interface RecoveryReport {
  /** Keys whose staged bytes were uploaded. */
  uploaded: string[];
  /** Staged copies that could not be saved, kept in place ("key (staged at path): reason"). */
  kept: string[];
  /** Clean copies removed (nothing unsaved in them). */
  discarded: number;
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * `endpoint` is the one the store reaches (as the staged copies record it): a copy staged for a
 * bucket of the same name at another endpoint is left for a mount of that one.
 */
export async function recoverStaged(directory: string, store: ObjectStore, log: Logger, endpoint?: string): Promise<RecoveryReport> {
  const report: RecoveryReport = { uploaded: [], kept: [], discarded: 0 };
  const names = await readdir(directory).catch(() => [] as string[]);
  for (const name of names.filter((entry) => entry.endsWith('.json'))) {
    const sidecarFile = join(directory, name);
    const sidecar = parseSidecar(await readFile(sidecarFile, 'utf8').catch(() => ''));
    if (!sidecar || sidecar.bucket !== store.bucket || processAlive(sidecar.pid)) continue;
    // Copies staged before endpoints were recorded go to the bucket of that name, as before.
    if (sidecar.endpoint !== undefined && sidecar.endpoint !== endpoint) {
      if (sidecar.dirty) {
        const reason = `staged for the bucket at ${sidecar.endpoint}; a mount of it there uploads it`;
        report.kept.push(`${sidecar.key} (staged at ${dataPath(sidecarFile)}): ${reason}`);
        log.warn(
          { key: sidecar.key, staged: dataPath(sidecarFile), endpoint: sidecar.endpoint },
          'unsaved changes of a process that died are for another endpoint; kept in place',
        );
      }
      continue;
    }
    const data = dataPath(sidecarFile);
    const size = await stat(data).then(
      (info) => info.size,
      () => undefined,
    );
    const forget = () => Promise.all([rm(data, { force: true }), rm(sidecarFile, { force: true })]);
    for (const upload of sidecar.uploads ?? []) {
      // Never fails: one the store cannot abort now is aborted later, or named at unmount.
      await store.abortUpload(upload.key, upload.uploadId);
      log.info({ key: upload.key, uploadId: upload.uploadId }, 'aborted a multipart upload left by a process that died');
    }
    if (!sidecar.dirty) {
      await forget();
      report.discarded++;
      continue;
    }
    const where = `${sidecar.key} (staged at ${data})`;
    if (!sidecar.complete || size === undefined) {
      report.kept.push(`${where}: only part of the file was staged`);
      log.error(
        { key: sidecar.key, staged: data },
        'unsaved changes of a process that died cannot be uploaded (only part of the file was staged); kept in place',
      );
      continue;
    }
    try {
      await store.put(sidecar.key, { path: data, size }, { metadata: toMetadata(sidecar.attributes), contentType: contentTypeFor(sidecar.key) });
      await forget();
      report.uploaded.push(sidecar.key);
      log.warn({ key: sidecar.key, bytes: size }, 'uploaded unsaved changes left by a process that died');
    } catch (error) {
      report.kept.push(`${where}: ${(error as Error).message}`);
      log.error({ key: sidecar.key, staged: data, err: error }, 'could not upload unsaved changes left by a process that died; kept in place');
    }
  }
  return report;
}
