// Dispatch of the command line: mount (foreground or background), cache commands, help.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { sendControl } from '../control/client.js';
import { createLogger } from '../log.js';
import { startMount, StartupError } from '../mount.js';
import { formatStats } from '../stats.js';
import { reportToParent, startInBackground } from './background.js';
import { helpText, parseMountArguments, UsageError } from './options.js';

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

export async function main(script: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  try {
    if (args.includes('-h') || args.includes('--help')) {
      console.log(helpText());
      return 0;
    }
    if (args.includes('--version')) {
      console.log(version());
      return 0;
    }
    if (args[0] === 'cache') return await cacheCommand(args.slice(1));
    return await mountCommand(script, args, env);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    console.error(`s3mount: ${message}`);
    reportToParent({ type: 'failed', message });
    return error instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE;
  }
}

async function mountCommand(script: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const config = parseMountArguments(args, env);
  if (!config.foreground) {
    const outcome = await startInBackground(script, args, config.logFile);
    if (outcome.type === 'failed') throw new StartupError(outcome.message);
    return 0;
  }
  const log = createLogger({ level: config.logLevel, format: config.logFormat, file: config.logFile });
  const mount = await startMount(config, log);
  reportToParent({ type: 'ready' });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      log.info({ signal }, 'unmounting');
      void mount.stop();
    });
  }
  process.on('SIGUSR1', () => log.info({ stats: mount.stats() }, 'statistics'));
  await mount.finished;
  return 0;
}

async function cacheCommand(args: string[]): Promise<number> {
  const [action, mountpoint, ...rest] = args;
  if ((action !== 'stats' && action !== 'clear') || !mountpoint) throw new UsageError('usage: s3mount cache stats|clear MOUNTPOINT [--json]');
  const response = await sendControl(resolve(mountpoint), { command: action });
  if (!response.ok) throw new Error(response.error);
  if (action === 'stats' && response.stats) console.log(rest.includes('--json') ? JSON.stringify(response.stats, null, 2) : formatStats(response.stats));
  return 0;
}

function version(): string {
  const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return `s3mount ${packageJson.version}`;
}
