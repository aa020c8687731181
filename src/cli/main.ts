// Dispatch of the command line: mount (foreground or background), cache commands, warm, help.

import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createLogger } from '../log.js';
import { StartupError, startMount } from '../mount.js';
import { leaveWorkingDirectory, reportToParent, startInBackground } from './background.js';
import { cacheCommand } from './cache-command.js';
import { defaultLogFile } from './log-location.js';
import { helpText, parseMountArguments, UsageError } from './options.js';
import { warmCommand } from './warm-command.js';

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

export async function main(script: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  try {
    // Options end at `--`: what follows is positional, even "-h".
    const options = args.includes('--') ? args.slice(0, args.indexOf('--')) : args;
    if (options.includes('-h') || options.includes('--help')) {
      console.log(helpText());
      return 0;
    }
    if (options.includes('--version')) {
      console.log(version());
      return 0;
    }
    if (args[0] === 'cache') return await cacheCommand(args.slice(1));
    if (args[0] === 'warm') return await warmCommand(args.slice(1));
    return await mountCommand(script, args, env);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    console.error(`s3mount: ${message}`);
    reportToParent({ type: 'failed', message });
    return error instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE;
  }
}

async function mountCommand(script: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const config = parseMountArguments(args, env, { stderrIsTerminal: process.stderr.isTTY === true });
  if (!config.foreground) {
    // Nobody watches a background mount's stderr: its logs go to a file unless one is named.
    const logFile = config.logFile ?? defaultLogFile(config.mountpoint, env, process.getuid?.() ?? 0);
    await mkdir(dirname(logFile), { recursive: true, mode: 0o700 }).catch((error: Error) => {
      throw new StartupError(`cannot create the log directory ${dirname(logFile)}: ${error.message} (use --log-file)`);
    });
    const childArgs = config.logFile ? args : withOptions(args, ['--log-file', logFile]);
    const outcome = await startInBackground(script, withOptions(childArgs, ['--foreground']), logFile);
    if (outcome.type === 'failed') throw new StartupError(outcome.message);
    for (const notice of outcome.notices ?? []) console.error(`s3mount: ${notice}`);
    return 0;
  }
  const secrets = config.sharedCache?.password ? [config.sharedCache.password] : [];
  const log = createLogger({ level: config.logLevel, format: config.logFormat, file: config.logFile, secrets }, env);
  const mount = await startMount(config, log);
  leaveWorkingDirectory(env);
  reportToParent({ type: 'ready', notices: mount.notices });
  // SIGHUP too, as libfuse's own handlers do: a terminal closed under `s3mount -f` (or a stray
  // kill -HUP) would otherwise end the process at once and leave a dead mount.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      log.info({ signal }, 'unmounting');
      void mount.stop();
    });
  }
  // Asked for explicitly, so written even when the level would hide info lines.
  const statsLog = log.isLevelEnabled('info') || log.level === 'silent' ? log : log.child({}, { level: 'info' });
  process.on('SIGUSR1', () => statsLog.info({ stats: mount.stats() }, 'statistics'));
  await mount.finished;
  return 0;
}

/**
 * `args` with `options` added where they win over the user's (last wins) and are still options:
 * before `--` when there is one. The first `--` always ends the options, since parsing refuses
 * a separate value that starts with "-".
 */
export function withOptions(args: string[], options: string[]): string[] {
  const end = args.indexOf('--');
  return end < 0 ? [...args, ...options] : [...args.slice(0, end), ...options, ...args.slice(end)];
}

function version(): string {
  const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return `s3mount ${packageJson.version}`;
}
