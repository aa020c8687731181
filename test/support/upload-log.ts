// What the fault proxy's log says about multipart uploads: parts sent, uploads created,
// completed and aborted; and a wait for the log to show something (counted requests, with a
// deadline only so that a test fails rather than hangs).
import type { RequestRecord } from './fault-proxy.js';

/** UploadPart requests (answered or not), in arrival order. */
export function partRequests(records: readonly RequestRecord[]): RequestRecord[] {
  return records.filter((record) => record.operation === 'write' && 'partNumber' in record.query);
}

/** Part numbers that S3 stored (answered 200), in the order the answers were logged. */
export function partsStored(records: readonly RequestRecord[]): number[] {
  return partRequests(records)
    .filter((record) => record.status === 200)
    .map((record) => Number(record.query.partNumber));
}

/** How many times part `partNumber` was sent (faulted attempts included). */
export function timesSent(records: readonly RequestRecord[], partNumber: number): number {
  return partRequests(records).filter((record) => Number(record.query.partNumber) === partNumber).length;
}

export function uploadsCreated(records: readonly RequestRecord[]): RequestRecord[] {
  return records.filter((record) => record.method === 'POST' && 'uploads' in record.query && record.status === 200);
}

export function uploadsCompleted(records: readonly RequestRecord[]): RequestRecord[] {
  return records.filter((record) => record.method === 'POST' && 'uploadId' in record.query && record.status === 200);
}

export function uploadsAborted(records: readonly RequestRecord[]): RequestRecord[] {
  return records.filter((record) => record.method === 'DELETE' && 'uploadId' in record.query && record.status >= 200 && record.status < 300);
}

/** Resolves once `condition` holds; fails naming `what` if it does not within `timeoutMs`. */
export async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`still not the case after ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
