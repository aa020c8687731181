// `s3mount warm PATH [--content] [--concurrency N]`: walks a directory of a mount from this
// (separate) process so that the mount's caches hold its listings, attributes and content.
import { realpath } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { mountOf, readMountTable } from '../warm/mount-of.js';
import { ProgressReporter, summaryLine } from '../warm/progress.js';
import { warmTree } from '../warm/walker.js';
import { parseArgsErrorLine, UsageError } from './options.js';

const USAGE = 'usage: s3mount warm PATH [--content] [--concurrency N]';
const DEFAULT_CONCURRENCY = 16;
// What a shell reports for a command ended by Ctrl-C (128 + SIGINT).
export const EXIT_INTERRUPTED = 130;

export async function warmCommand(args: string[]): Promise<number> {
  const { path, content, concurrency } = parseWarmArguments(args);
  const root = await realpath(resolve(path));
  const mount = mountOf(root, await readMountTable());
  if (mount?.fstype !== 'fuse.s3mount') throw new Error(`${root} is not inside an s3mount mount`);

  const controller = new AbortController();
  let interrupts = 0;
  const onInterrupt = () => {
    // A second Ctrl-C does not wait for reads in flight.
    if (++interrupts > 1) process.exit(EXIT_INTERRUPTED);
    controller.abort();
  };
  process.on('SIGINT', onInterrupt);
  const reporter = new ProgressReporter(process.stderr, content);
  const started = performance.now();
  try {
    const result = await warmTree(root, { content, concurrency, signal: controller.signal, onProgress: (progress) => reporter.update(progress) });
    reporter.finish();
    console.log(summaryLine(root, result, content, (performance.now() - started) / 1000));
    if (result.interrupted) return EXIT_INTERRUPTED;
    return result.failures > 0 ? 1 : 0;
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}

function parseWarmArguments(args: string[]): { path: string; content: boolean; concurrency: number } {
  const options = { content: { type: 'boolean' }, concurrency: { type: 'string' } } as const;
  const read = () => {
    try {
      return parseArgs({ args, allowPositionals: true, options });
    } catch (error) {
      throw new UsageError(`${parseArgsErrorLine(error, args, options)}; ${USAGE}`);
    }
  };
  const { values, positionals } = read();
  if (positionals.length !== 1) throw new UsageError(USAGE);
  const concurrencyText = values.concurrency ?? String(DEFAULT_CONCURRENCY);
  if (!/^\d+$/.test(concurrencyText) || Number(concurrencyText) < 1 || Number(concurrencyText) > 256) {
    throw new UsageError(`--concurrency must be a whole number from 1 to 256, not "${concurrencyText}"`);
  }
  return { path: positionals[0], content: values.content === true, concurrency: Number(concurrencyText) };
}
