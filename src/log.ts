import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export type LogFormat = 'json' | 'pretty';

export interface LogOptions {
  level: LevelWithSilent;
  format: LogFormat;
  /** Append to this file instead of stderr. */
  file?: string;
}

// Paths that could carry secrets if anything ever logs a config, a client or a request.
const REDACTED_PATHS = [
  'accessKeyId',
  'secretAccessKey',
  'sessionToken',
  'credentials',
  '*.accessKeyId',
  '*.secretAccessKey',
  '*.sessionToken',
  '*.credentials',
  'headers.authorization',
  '*.headers.authorization',
  'headers["x-amz-security-token"]',
];

export function createLogger(options: LogOptions): Logger {
  const destination = options.file ?? 2;
  const base = { level: options.level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' }, base: { pid: process.pid } };
  if (options.format === 'pretty') {
    return pino(base, pino.transport({ target: 'pino-pretty', options: { destination, colorize: options.file === undefined && process.stderr.isTTY, translateTime: 'SYS:HH:MM:ss.l' } }));
  }
  return pino(base, pino.destination({ dest: destination, sync: true, append: true, mkdir: true }));
}

/** A logger that discards everything: the default in tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
