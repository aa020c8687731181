import { type LevelWithSilent, type Logger, pino } from 'pino';

export type { Logger };

export type LogFormat = 'json' | 'pretty';

export interface LogOptions {
  level: LevelWithSilent;
  format: LogFormat;
  /** Append to this file instead of stderr. */
  file?: string;
  /** Values never to write, wherever they appear (a Redis password given on the command line). */
  secrets?: readonly string[];
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

const CENSOR = '[redacted]';

// Redaction by path only covers the shapes listed above. Every line is also scrubbed of what
// a credential looks like wherever it sits: signatures, credential scopes, security tokens,
// passwords in URLs, header-like fields, and the values of the credentials in the environment.
const SECRET_PATTERNS: Array<[RegExp, string]> = [
  [/((?:X-Amz-)?Signature=)[0-9a-fA-F]{16,}/g, `$1${CENSOR}`],
  [/((?:X-Amz-)?Credential=)[^&",\s\\]+/gi, `$1${CENSOR}`],
  [/(X-Amz-Security-Token=)[^&"\s\\]+/gi, `$1${CENSOR}`],
  [/([a-z][a-z0-9+.-]*:\/\/)[^/@\s"\\]+@/gi, `$1${CENSOR}@`],
  [
    /("(?:authorization|x-amz-security-token|aws_secret_access_key|aws_session_token|secret_?access_?key|session_?token)":)"(?:[^"\\]|\\.)*"/gi,
    `$1"${CENSOR}"`,
  ],
];

// Values this short would censor ordinary words (test endpoints use "test"); real ones are 16+.
const MIN_SECRET_LENGTH = 8;
const SECRET_VARIABLES = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_SECURITY_TOKEN'];

/** Removes anything that looks like a credential from one serialized log line. */
export function scrubSecrets(line: string, secretValues: readonly string[] = []): string {
  let scrubbed = line;
  for (const [pattern, replacement] of SECRET_PATTERNS) scrubbed = scrubbed.replace(pattern, replacement);
  for (const value of secretValues) scrubbed = scrubbed.split(value).join(CENSOR);
  return scrubbed;
}

// A password named as such is scrubbed even when short; only the shortest would censor words.
const MIN_PASSWORD_LENGTH = 4;

/** The credentials in `env`, as they would appear inside a JSON string. */
export function secretValuesOf(env: NodeJS.ProcessEnv): string[] {
  return SECRET_VARIABLES.map((name) => env[name])
    .filter((value): value is string => value !== undefined && value.length >= MIN_SECRET_LENGTH)
    .map((value) => JSON.stringify(value).slice(1, -1));
}

export function createLogger(options: LogOptions, env: NodeJS.ProcessEnv = process.env): Logger {
  const destination = options.file ?? 2;
  const secretValues = [
    ...secretValuesOf(env),
    ...(options.secrets ?? []).filter((value) => value.length >= MIN_PASSWORD_LENGTH).map((value) => JSON.stringify(value).slice(1, -1)),
  ];
  const base = {
    level: options.level,
    redact: { paths: REDACTED_PATHS, censor: CENSOR },
    base: { pid: process.pid },
    hooks: { streamWrite: (line: string) => scrubSecrets(line, secretValues) },
  };
  if (options.format === 'pretty') {
    return pino(
      base,
      pino.transport({
        target: 'pino-pretty',
        options: { destination, colorize: options.file === undefined && process.stderr.isTTY, translateTime: 'SYS:HH:MM:ss.l' },
      }),
    );
  }
  return pino(base, pino.destination({ dest: destination, sync: true, append: true, mkdir: true }));
}

/** A logger that discards everything: the default in tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
