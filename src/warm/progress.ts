// Progress of a warm walk: a bar redrawn in place on a terminal, plain lines now and then
// otherwise (logs, CI), and one summary line at the end.
import type { WarmProgress, WarmResult } from './walker.js';

const BAR_WIDTH = 24;
// Often enough to look alive, rarely enough to cost nothing.
const TERMINAL_INTERVAL_MS = 100;
const PLAIN_INTERVAL_MS = 2000;

export interface ProgressOutput {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

export class ProgressReporter {
  private lastDrawn = Number.NEGATIVE_INFINITY;
  private drawnOnTerminal = false;

  constructor(
    private readonly output: ProgressOutput,
    private readonly content: boolean,
    private readonly now: () => number = Date.now,
  ) {}

  update(progress: Readonly<WarmProgress>): void {
    const terminal = this.output.isTTY === true;
    const now = this.now();
    if (now - this.lastDrawn < (terminal ? TERMINAL_INTERVAL_MS : PLAIN_INTERVAL_MS)) return;
    this.lastDrawn = now;
    const line = progressLine(progress, this.content);
    if (terminal) {
      const width = Math.max(20, (this.output.columns ?? 80) - 1);
      this.output.write(`\r\x1b[2K${line.slice(0, width)}`);
      this.drawnOnTerminal = true;
    } else {
      this.output.write(`warm: ${line}\n`);
    }
  }

  /** Clears the bar (a summary line follows on stdout). */
  finish(): void {
    if (this.drawnOnTerminal) this.output.write('\r\x1b[2K');
  }
}

export function progressLine(progress: Readonly<WarmProgress>, content: boolean): string {
  const [done, total] = content ? [progress.bytesRead, progress.bytesFound] : [progress.directoriesListed, progress.directoriesFound];
  const fraction = total === 0 ? 1 : Math.min(1, done / total);
  const filled = Math.round(fraction * BAR_WIDTH);
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}%`;
  const counts = `${progress.directoriesListed}/${progress.directoriesFound} directories, ${progress.files} files`;
  const bytes = content ? `, ${mib(progress.bytesRead)}/${mib(progress.bytesFound)} MiB read` : '';
  const failures = progress.failures ? `, ${progress.failures} failed` : '';
  return `${bar} ${counts}${bytes}${failures}`;
}

export function summaryLine(root: string, result: WarmResult, content: boolean, seconds: number): string {
  const what = result.interrupted ? 'interrupted warming' : 'warmed';
  const bytes = content ? `, ${mib(result.bytesRead)} MiB read` : '';
  const failures = result.failures ? `; ${result.failures} failed (first: ${result.firstFailure})` : '';
  return `${what} ${root}: ${result.directoriesListed} directories, ${result.files} files${bytes} in ${seconds.toFixed(1)} s${failures}`;
}

function mib(bytes: number): string {
  return (bytes / 1048576).toFixed(1);
}
