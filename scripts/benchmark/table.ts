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
  sdk: { whole: number[]; ranges: number[] };
  /** HEADs s3mount made per workload, one per round (from its cache stats). */
  heads?: Record<string, number[]>;
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

export function renderTable(results: Results): string {
  const sdkBest = Math.min(median(results.sdk.whole), median(results.sdk.ranges));
  const lines = [
    '| workload | s3mount | s3fs | rclone | floor | raw SDK | best peer ÷ s3mount | s3mount ÷ floor | SDK ÷ s3mount | s3mount HEADs |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const workload of WORKLOADS) {
    const row = results.times[workload.name] ?? {};
    if (Object.keys(row).length === 0) continue;
    const heads = median(results.heads?.[workload.name]);
    const ours = median(row.s3mount);
    const peers = [median(row.s3fs), median(row.rclone)].filter(Number.isFinite);
    const bestPeer = peers.length ? Math.min(...peers) : Number.NaN;
    const floor = median(row.floor);
    lines.push(
      `| ${workload.name} | ${cell(row.s3mount)} | ${cell(row.s3fs)} | ${cell(row.rclone)} | ${cell(row.floor)} | ${workload.sdkRow ? seconds(sdkBest) : ''} | ${ratio(bestPeer / ours)} | ${ratio(ours / floor)} | ${workload.sdkRow ? ratio(sdkBest / ours) : ''} | ${Number.isFinite(heads) ? heads : ''} |`,
    );
  }
  lines.push(`| raw SDK: one GetObject of 256 MiB | | | | | ${seconds(median(results.sdk.whole))} | | | | |`);
  lines.push(`| raw SDK: 8 MiB ranges, 8 in flight | | | | | ${seconds(median(results.sdk.ranges))} | | | | |`);
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
