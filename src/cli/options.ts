// Command-line options of `s3mount BUCKET[:PREFIX] MOUNTPOINT`: one table gives each
// option's flag, environment variable, default and meaning, and parsing follows it.
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { LevelWithSilent } from 'pino';
import { DEFAULTS, type Config } from '../config.js';
import { normalizePrefix } from '../fs/names/paths.js';
import { isLoopbackHost, parseMetricsAddress } from '../metrics/address.js';
import { expandMountOptions, MountOptionError, type FlagKind } from './mount-options.js';

export class UsageError extends Error {
  override name = 'UsageError';
}

type Draft = Partial<Config> & { prefixOption?: string; metricsAllowRemote?: boolean };

interface OptionSpec {
  flag: string;
  short?: string;
  /** Takes a value (else a switch). */
  value?: string;
  /** Environment variables that set it when the flag is absent, first found wins. */
  env?: string[];
  default?: string;
  help: string;
  apply(draft: Draft, value: string): void;
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

function switchOption(flag: string, help: string, apply: (draft: Draft) => void, short?: string): OptionSpec {
  return { flag, short, help, apply: (draft) => apply(draft) };
}

export const OPTIONS: OptionSpec[] = [
  { flag: 'endpoint-url', value: 'URL', default: 'AWS S3 in the region', env: ['AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL'], help: 'S3 endpoint (for S3-compatible servers)', apply: (d, v) => (d.endpointUrl = parseUrl(v)) },
  { flag: 'region', value: 'REGION', env: ['AWS_REGION', 'AWS_DEFAULT_REGION'], default: DEFAULTS.region, help: 'AWS region', apply: (d, v) => (d.region = v) },
  { flag: 'profile', value: 'NAME', default: 'the default credential chain', env: ['AWS_PROFILE'], help: 'profile of ~/.aws/credentials and ~/.aws/config', apply: (d, v) => (d.profile = v) },
  switchOption('force-path-style', 'address the bucket as ENDPOINT/BUCKET instead of BUCKET.ENDPOINT', (d) => (d.forcePathStyle = true)),
  { flag: 'prefix', value: 'PREFIX', default: 'none', help: 'mount only keys under PREFIX (same as BUCKET:PREFIX)', apply: (d, v) => (d.prefixOption = v) },
  { flag: 'max-attempts', value: 'N', env: ['S3MOUNT_MAX_ATTEMPTS'], default: String(DEFAULTS.maxAttempts), help: 'attempts per S3 request, retries included', apply: (d, v) => (d.maxAttempts = parseInteger('max-attempts', v, 1)) },
  switchOption('read-only', 'refuse every change with EROFS', (d) => (d.readOnly = true)),
  switchOption('foreground', 'stay attached; unmount on Ctrl-C or SIGTERM', (d) => (d.foreground = true), 'f'),
  switchOption('allow-other', 'let other users use the mount (needs user_allow_other in /etc/fuse.conf for non-root)', (d) => (d.allowOther = true)),
  switchOption('allow-root', 'let root use the mount', (d) => (d.allowRoot = true)),
  switchOption('allow-non-empty', 'mount over a directory that is not empty', (d) => (d.allowNonEmpty = true)),
  { flag: 'uid', value: 'UID', default: 'the mounting user', help: 'owner of every file and directory', apply: (d, v) => (d.uid = parseInteger('uid', v, 0)) },
  { flag: 'gid', value: 'GID', default: "the mounting user's group", help: 'group of every file and directory', apply: (d, v) => (d.gid = parseInteger('gid', v, 0)) },
  { flag: 'file-mode', value: 'OCTAL', default: '0644', help: 'permission bits of files', apply: (d, v) => (d.fileMode = parseMode('file-mode', v)) },
  { flag: 'dir-mode', value: 'OCTAL', default: '0755', help: 'permission bits of directories', apply: (d, v) => (d.dirMode = parseMode('dir-mode', v)) },
  switchOption('no-posix-metadata', 'attributes from listings alone, no HEAD per entry: faster cold ls -l/find, but every object shows as a regular file with --file-mode, the mounting user and S3\'s time (symbolic links, chmod, touch -d and s3fs directory objects are not seen)', (d) => (d.posixMetadata = false)),
  { flag: 'metadata-ttl', value: 'SECONDS', env: ['S3MOUNT_METADATA_TTL'], default: String(DEFAULTS.metadataTtlSeconds), help: 'how long HEAD and listing answers are trusted', apply: (d, v) => (d.metadataTtlSeconds = parseInteger('metadata-ttl', v, 0)) },
  { flag: 'kernel-cache-ttl', value: 'SECONDS', env: ['S3MOUNT_KERNEL_CACHE_TTL'], default: 'the metadata TTL', help: 'how long the kernel keeps attributes and names without asking s3mount (also caps its negative entries)', apply: (d, v) => (d.kernelCacheTtlSeconds = parseInteger('kernel-cache-ttl', v, 0)) },
  { flag: 'negative-metadata-ttl', value: 'SECONDS', env: ['S3MOUNT_NEGATIVE_METADATA_TTL'], default: String(DEFAULTS.negativeMetadataTtlSeconds), help: 'how long "no such key" is trusted; 0 turns it off', apply: (d, v) => (d.negativeMetadataTtlSeconds = parseInteger('negative-metadata-ttl', v, 0)) },
  { flag: 'max-cache-entries', value: 'N', env: ['S3MOUNT_MAX_CACHE_ENTRIES'], default: String(DEFAULTS.maxCacheEntries), help: 'bound on cached metadata entries', apply: (d, v) => (d.maxCacheEntries = parseInteger('max-cache-entries', v, 1)) },
  { flag: 'max-cache-size', value: 'MIB', env: ['S3MOUNT_MAX_CACHE_SIZE'], default: String(DEFAULTS.maxCacheSizeMiB), help: 'bound on cached object content, in MiB', apply: (d, v) => (d.maxCacheSizeMiB = parseInteger('max-cache-size', v, 1)) },
  { flag: 'staging-dir', value: 'DIR', env: ['S3MOUNT_STAGING_DIR'], default: '$TMPDIR/s3mount-UID/staging', help: 'where files being written are staged (created 0700)', apply: (d, v) => (d.stagingDir = resolve(v)) },
  { flag: 'write-part-size', value: 'MIB', env: ['S3MOUNT_WRITE_PART_SIZE'], default: String(DEFAULTS.writePartSizeMiB), help: 'uploads above this size are multipart, in parts of this size', apply: (d, v) => (d.writePartSizeMiB = parseInteger('write-part-size', v, 5)) },
  { flag: 'log-level', value: 'LEVEL', env: ['S3MOUNT_LOG_LEVEL'], default: DEFAULTS.logLevel, help: LOG_LEVELS.join(', '), apply: (d, v) => (d.logLevel = parseLevel(v)) },
  switchOption('debug', 'log every FUSE operation, cache hit or miss and S3 call (same as --log-level debug)', (d) => (d.logLevel = 'debug')),
  { flag: 'log-format', value: 'FORMAT', env: ['S3MOUNT_LOG_FORMAT'], default: 'pretty on a terminal, else json', help: 'json, or pretty for people', apply: (d, v) => (d.logFormat = parseChoice('log-format', v, ['json', 'pretty'] as const)) },
  { flag: 'log-file', value: 'PATH', env: ['S3MOUNT_LOG_FILE'], default: 'stderr with -f, a file named after the mountpoint in the background (see logs below)', help: 'append logs to PATH', apply: (d, v) => (d.logFile = resolve(v)) },
  { flag: 'metrics-address', value: 'HOST:PORT', env: ['S3MOUNT_METRICS_ADDRESS'], default: 'off', help: 'serve Prometheus metrics at http://HOST:PORT/metrics (loopback only unless --metrics-allow-remote)', apply: (d, v) => (d.metricsAddress = parseAddress(v)) },
  switchOption('metrics-allow-remote', 'allow a --metrics-address other machines can reach', (d) => (d.metricsAllowRemote = true)),
];

/** Whether `flag` is a long option of ours, and whether it takes a value (for -o lists). */
export function flagKind(flag: string): FlagKind {
  const spec = OPTIONS.find((option) => option.flag === flag);
  return spec ? (spec.value ? 'value' : 'switch') : undefined;
}

export interface ParseContext {
  /** Logs go to a terminal: the default format is then pretty. */
  stderrIsTerminal?: boolean;
}

/** Parses mount arguments into a validated Config; the environment fills what flags leave unset. */
export function parseMountArguments(givenArgs: string[], env: NodeJS.ProcessEnv, context: ParseContext = {}): Config {
  const args = expandOptionLists(givenArgs);
  const draft: Draft = {};
  const positionals: string[] = [];
  const fromFlags = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const [name, inlineValue] = arg.startsWith('--') ? splitInline(arg.slice(2)) : [arg.slice(1), undefined];
    const spec = OPTIONS.find((option) => option.flag === name || option.short === name);
    if (!spec) throw new UsageError(`unknown option ${arg} (see s3mount --help)`);
    let value = inlineValue ?? '';
    if (spec.value && inlineValue === undefined) {
      if (i + 1 >= args.length) throw new UsageError(`option --${spec.flag} needs a value ${spec.value}`);
      value = args[++i];
    }
    spec.apply(draft, value);
    fromFlags.add(spec.flag);
  }
  for (const option of OPTIONS) {
    if (fromFlags.has(option.flag)) continue;
    const value = option.env?.map((variable) => env[variable]).find((found) => found !== undefined && found !== '');
    if (value !== undefined) option.apply(draft, value);
  }
  if (positionals.length !== 2) throw new UsageError('usage: s3mount [options] BUCKET[:PREFIX] MOUNTPOINT (see s3mount --help)');

  const [target, mountpoint] = positionals;
  const colon = target.indexOf(':');
  const bucket = colon < 0 ? target : target.slice(0, colon);
  const targetPrefix = colon < 0 ? undefined : target.slice(colon + 1);
  if (targetPrefix !== undefined && draft.prefixOption !== undefined && normalizePrefix(targetPrefix) !== normalizePrefix(draft.prefixOption)) {
    throw new UsageError(`prefix given twice: ${targetPrefix} and --prefix ${draft.prefixOption}`);
  }
  validateBucket(bucket);
  if (draft.metricsAddress && !draft.metricsAllowRemote && !isLoopbackHost(draft.metricsAddress.host)) {
    throw new UsageError(`--metrics-address ${draft.metricsAddress.host} can be reached from other machines; use a loopback address (127.0.0.1, ::1) or add --metrics-allow-remote`);
  }
  const metadataTtlSeconds = draft.metadataTtlSeconds ?? DEFAULTS.metadataTtlSeconds;
  const givenPrefix = targetPrefix ?? draft.prefixOption ?? '';
  validatePrefix(givenPrefix);
  const prefix = normalizePrefix(givenPrefix);
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  return {
    bucket,
    prefix,
    mountpoint: resolve(mountpoint),
    endpointUrl: draft.endpointUrl,
    region: draft.region,
    profile: draft.profile,
    // Custom endpoints (MinIO, emulators) rarely serve virtual-hosted buckets.
    forcePathStyle: draft.forcePathStyle ?? draft.endpointUrl !== undefined,
    maxAttempts: draft.maxAttempts ?? DEFAULTS.maxAttempts,
    readOnly: draft.readOnly ?? false,
    foreground: draft.foreground ?? false,
    allowOther: draft.allowOther ?? false,
    allowRoot: draft.allowRoot ?? false,
    allowNonEmpty: draft.allowNonEmpty ?? false,
    uid: draft.uid ?? uid,
    gid: draft.gid ?? gid,
    fileMode: draft.fileMode ?? DEFAULTS.fileMode,
    dirMode: draft.dirMode ?? DEFAULTS.dirMode,
    posixMetadata: draft.posixMetadata ?? true,
    metadataTtlSeconds,
    kernelCacheTtlSeconds: draft.kernelCacheTtlSeconds ?? metadataTtlSeconds,
    negativeMetadataTtlSeconds: draft.negativeMetadataTtlSeconds ?? DEFAULTS.negativeMetadataTtlSeconds,
    maxCacheEntries: draft.maxCacheEntries ?? DEFAULTS.maxCacheEntries,
    maxCacheSizeMiB: draft.maxCacheSizeMiB ?? DEFAULTS.maxCacheSizeMiB,
    blockSizeKiB: DEFAULTS.blockSizeKiB,
    stagingDir: draft.stagingDir ?? join(tmpdir(), `s3mount-${uid}`, 'staging'),
    writePartSizeMiB: draft.writePartSizeMiB ?? DEFAULTS.writePartSizeMiB,
    logLevel: draft.logLevel ?? DEFAULTS.logLevel,
    // People read a terminal; files and pipes are read by programs.
    logFormat: draft.logFormat ?? (context.stderrIsTerminal && !draft.logFile ? 'pretty' : DEFAULTS.logFormat),
    logFile: draft.logFile,
    metricsAddress: draft.metricsAddress,
  };
}

export function helpText(): string {
  const lines = [
    'usage: s3mount [options] BUCKET[:PREFIX] MOUNTPOINT',
    '       s3mount BUCKET[:PREFIX] MOUNTPOINT -o OPT[,OPT...]   (how mount(8) runs it from /etc/fstab)',
    '       s3mount cache stats MOUNTPOINT [--json]',
    '       s3mount cache clear MOUNTPOINT',
    '       s3mount cache invalidate MOUNTPOINT PATH [--recursive]',
    '       s3mount cache configure MOUNTPOINT [--metadata-ttl SECONDS] [--max-cache-entries N] [--max-cache-size MIB]',
    '       s3mount warm PATH [--content] [--concurrency N]',
    '',
    'Mounts an S3 bucket (or the keys under PREFIX) at MOUNTPOINT. Returns once the mount is ready,',
    'leaving a background process serving it; with -f it stays attached. End it with umount MOUNTPOINT.',
    'Credentials come from the standard AWS chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ...).',
    '',
    'options:',
  ];
  for (const option of OPTIONS) {
    const flag = `${option.short ? `-${option.short}, ` : '    '}--${option.flag}${option.value ? ` ${option.value}` : ''}`;
    const fallback = option.default ?? (option.value ? undefined : 'off');
    const extras = [fallback !== undefined ? `default: ${fallback}` : '', option.env ? `env: ${option.env.join(', ')}` : ''].filter(Boolean).join('; ');
    lines.push(`  ${flag.padEnd(36)} ${option.help}${extras ? ` (${extras})` : ''}`);
  }
  lines.push(
    `  ${'-o OPT[,OPT...]'.padEnd(36)} options as mount(8) passes them: any long option above as name or name=value`,
    `  ${''.padEnd(36)} (allow_other, endpoint-url=URL, metadata_ttl=5, ...), ro = --read-only, nonempty = --allow-non-empty;`,
    `  ${''.padEnd(36)} rw, defaults, _netdev, nofail, auto, noauto, user(s), (no)exec, (no)suid, (no)dev, x-* are ignored`,
    `  ${'-h, --help'.padEnd(36)} show this help`,
    `  ${'    --version'.padEnd(36)} show the version`,
  );
  lines.push(
    '',
    'cache commands talk to the running mount over its control socket (only its owner can connect):',
    '  invalidate PATH  drops what s3mount cached about PATH (relative paths are inside MOUNTPOINT), with',
    '                   --recursive everything under it; the kernel may keep attributes it already has',
    '                   until --kernel-cache-ttl runs out',
    '  configure        changes the cache at once, without remounting; entries already cached keep the TTL',
    '                   they were stored with (cache clear drops them)',
    'warm walks a directory of a mount and fills listings and attributes (and content with --content).',
    'SIGUSR1 to a mount process writes its statistics to its log.',
    '',
    'logs: JSON lines to stderr with -f (pretty on a terminal); in the background, to --log-file or to',
    '$XDG_STATE_HOME/s3mount/ (default ~/.local/state/s3mount/; root: /var/log/s3mount/), in a file named',
    'after the mountpoint (/mnt/s3 -> mnt-s3.log). Credentials, signatures and tokens are never logged.',
    '',
    'exit status: 0 mounted (or command done), 1 failed to start or run, 2 bad usage, 130 warm interrupted',
  );
  return lines.join('\n');
}

function expandOptionLists(args: string[]): string[] {
  try {
    return expandMountOptions(args, flagKind);
  } catch (error) {
    if (error instanceof MountOptionError) throw new UsageError(error.message);
    throw error;
  }
}

function parseAddress(value: string): { host: string; port: number } {
  try {
    return parseMetricsAddress(value);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function splitInline(text: string): [string, string | undefined] {
  const equals = text.indexOf('=');
  return equals < 0 ? [text, undefined] : [text.slice(0, equals), text.slice(equals + 1)];
}

function parseInteger(name: string, value: string, min: number): number {
  if (!/^\d+$/.test(value) || Number(value) < min) throw new UsageError(`--${name} must be a whole number of at least ${min}, not "${value}"`);
  return Number(value);
}

function parseMode(name: string, value: string): number {
  if (!/^0?[0-7]{3,4}$/.test(value)) throw new UsageError(`--${name} must be an octal mode such as 0644, not "${value}"`);
  return parseInt(value, 8);
}

function parseLevel(value: string): LevelWithSilent {
  return parseChoice('log-level', value, LOG_LEVELS as LevelWithSilent[]);
}

function parseChoice<T extends string>(name: string, value: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(value)) throw new UsageError(`--${name} must be one of ${choices.join(', ')}, not "${value}"`);
  return value as T;
}

function parseUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http(s)');
    return value;
  } catch {
    throw new UsageError(`--endpoint-url must be an http:// or https:// URL, not "${value}"`);
  }
}

// S3's rules for bucket names: 3-63 characters of lower-case letters, digits, dots and hyphens,
// starting and ending with a letter or digit, no two dots in a row, not an IP address, and not
// one of the prefixes and suffixes S3 keeps for itself.
function validateBucket(bucket: string): void {
  const reason =
    !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) ? '3-63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit' :
    bucket.includes('..') ? 'two dots in a row' :
    /^\d+\.\d+\.\d+\.\d+$/.test(bucket) ? 'formatted as an IP address' :
    /^(xn--|sthree-)/.test(bucket) || /(-s3alias|--ol-s3)$/.test(bucket) ? 'a prefix or suffix S3 reserves' :
    undefined;
  if (reason) throw new UsageError(`invalid bucket name "${bucket}": ${reason}`);
}

/**
 * A prefix as typed (BUCKET:PREFIX or --prefix): trailing slashes are optional, but a leading
 * one is refused rather than dropped, since "/a" and "a" are different S3 keys. Components
 * that cannot be directories (empty, "." and "..") are refused, as is anything longer than a key.
 */
function validatePrefix(given: string): void {
  if (given.startsWith('/')) throw new UsageError(`invalid prefix "${given}": it must not start with "/" (keys under "${given}" and "${given.replace(/^\/+/, '')}" differ)`);
  const parts = given.replace(/\/+$/, '').split('/');
  if (given !== '' && parts.some((part) => part === '' || part === '.' || part === '..')) {
    throw new UsageError(`invalid prefix "${given}": empty, "." and ".." components cannot be mounted`);
  }
  if (Buffer.byteLength(given) > 1024) throw new UsageError(`invalid prefix of ${Buffer.byteLength(given)} bytes: S3 keys are at most 1024 bytes`);
}
