// The benchmark's markdown table: medians per system, and our standing against the others.
import type { SystemName } from './systems.js';
import { WORKLOADS } from './workloads.js';

export interface Results {
  /** Seconds per workload, per system, one per round (NaN for a failed round). */
  times: Record<string, Partial<Record<SystemName, number[]>>>;
  /** MiB/s per fio job, per system, one per round. */
  fio: Record<string, Partial<Record<SystemName, number[]>>>;
  /** Peak RSS per serving process, MiB. */
  rss: Partial<Record<SystemName, number>>;
  /** The raw SDK: the big object read whole and in ranges; one multipart upload of the big write's bytes. */
  sdk: { whole: number[]; ranges: number[]; upload: number[] };
  /** `cat` of the big object's bytes from a local file on the disk the caches use, page cache dropped. */
  localCat?: number[];
  /** S3 calls s3mount made per workload, by operation, one record per round (from its cache stats). */
  calls?: Record<string, Array<Record<string, number>>>;
  /** Peak RSS (MiB) of the serving process that ran a workload on a mount of its own, per system. */
  workloadRss?: Record<string, Partial<Record<SystemName, number>>>;
}

function median(values: number[] | undefined): number {
  const finite = (values ?? []).filter(Number.isFinite).sort((a, b) => a - b);
  if (finite.length === 0 || finite.length < (values ?? []).length) return Number.NaN;
  const middle = Math.floor(finite.length / 2);
  return finite.length % 2 ? finite[middle] : (finite[middle - 1] + finite[middle]) / 2;
}

const seconds = (value: number) => (Number.isFinite(value) ? value.toFixed(3) : 'fail');
/** A system's cell: blank when it did not run (BENCH_SYSTEMS), else its median. */
const cell = (values: number[] | undefined) => (values === undefined ? '' : seconds(median(values)));
const ratio = (value: number) => (Number.isFinite(value) ? `${value.toFixed(2)}×` : '-');

/** The S3 calls s3mount made for a workload, medians per operation: "1001 HEAD, 1 LIST". */
function callsCell(rounds: Array<Record<string, number>> | undefined): string {
  if (!rounds?.length) return '';
  const names: Array<[string, string]> = [
    ['head', 'HEAD'],
    ['list', 'LIST'],
    ['getRange', 'GET'],
    ['put', 'PUT'],
    ['copy', 'COPY'],
    ['delete', 'DELETE'],
    ['multipart', 'multipart create/complete/abort'],
  ];
  const parts = names.flatMap(([op, label]) => {
    const count = median(rounds.map((round) => round[op] ?? 0));
    return count > 0 ? [`${count} ${label}`] : [];
  });
  return parts.length ? parts.join(', ') : 'none';
}

export function renderTable(results: Results): string {
  const sdkBest = Math.min(median(results.sdk.whole), median(results.sdk.ranges));
  const sdkUpload = median(results.sdk.upload);
  const lines = [
    '| workload | s3mount | s3fs | rclone | floor | raw SDK | best peer ÷ s3mount | s3mount ÷ floor | SDK ÷ s3mount | s3mount S3 calls |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const notes: string[] = [];
  for (const workload of WORKLOADS) {
    const row = results.times[workload.name] ?? {};
    if (Object.keys(row).length === 0) continue;
    const ours = median(row.s3mount);
    const peers = [median(row.s3fs), median(row.rclone)].filter(Number.isFinite);
    const bestPeer = peers.length ? Math.min(...peers) : Number.NaN;
    const floor = median(row.floor);
    const sdk = workload.sdkRow ? sdkBest : workload.sdkUploadRow ? sdkUpload : undefined;
    const leftOut = (system: SystemName) => (workload.systems && !workload.systems.only.includes(system) ? 'n/a' : cell(row[system]));
    lines.push(
      `| ${workload.name} | ${cell(row.s3mount)} | ${leftOut('s3fs')} | ${leftOut('rclone')} | ${cell(row.floor)} | ${sdk === undefined ? '' : seconds(sdk)} | ${ratio(bestPeer / ours)} | ${ratio(ours / floor)} | ${sdk === undefined ? '' : ratio(sdk / ours)} | ${callsCell(results.calls?.[workload.name])} |`,
    );
    if (workload.systems) notes.push(`${workload.name}: n/a where ${workload.systems.why}.`);
    if (workload.localCatRow && results.localCat?.length) {
      const local = median(results.localCat);
      notes.push(
        `${workload.name}: \`cat\` of the same bytes from a local file on the same disk, page cache dropped, took ${seconds(local)}; s3mount's read ran at ${ratio(local / ours)} of its speed.`,
      );
    }
    const rss = results.workloadRss?.[workload.name];
    if (rss)
      notes.push(
        `${workload.name}: peak RSS of the serving process ${Object.entries(rss)
          .map(([system, mib]) => `${system} ${mib} MiB`)
          .join(', ')}.`,
      );
  }
  if (results.sdk.whole.length) {
    lines.push(`| raw SDK: one GetObject of 256 MiB | | | | | ${seconds(median(results.sdk.whole))} | | | | |`);
    lines.push(`| raw SDK: 8 MiB ranges, 8 in flight | | | | | ${seconds(median(results.sdk.ranges))} | | | | |`);
  }
  if (results.sdk.upload.length) lines.push(`| raw SDK: one multipart upload of 1 GiB, 8 MiB parts, 4 in flight | | | | | ${seconds(sdkUpload)} | | | | |`);
  if (notes.length) lines.push('', ...notes);
  if (Object.keys(results.fio).length > 0) {
    lines.push('', 'fio over the 256 MiB object on a mount that read it once, page cache dropped before each job (MiB/s, higher is better):', '');
    lines.push('| fio job | s3mount | s3fs | rclone | floor | s3mount ÷ best peer |', '|---|---:|---:|---:|---:|---:|');
    for (const [job, row] of Object.entries(results.fio)) {
      const ours = median(row.s3mount);
      const peers = [median(row.s3fs), median(row.rclone)].filter(Number.isFinite);
      const mib = (value: number) => (Number.isFinite(value) ? value.toFixed(0) : 'fail');
      lines.push(
        `| ${job} | ${mib(ours)} | ${mib(median(row.s3fs))} | ${mib(median(row.rclone))} | ${mib(median(row.floor))} | ${ratio(ours / (peers.length ? Math.max(...peers) : Number.NaN))} |`,
      );
    }
  }
  const rss = (name: SystemName) => (results.rss[name] !== undefined ? `${results.rss[name]} MiB` : '-');
  lines.push('', `Peak RSS of the serving process: s3mount ${rss('s3mount')}, s3fs ${rss('s3fs')}, rclone ${rss('rclone')}, floor ${rss('floor')}.`);
  return lines.join('\n');
}
