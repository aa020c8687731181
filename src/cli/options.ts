// Command-line options of `s3mount BUCKET[:PREFIX] MOUNTPOINT`: one table gives each
// option's flag, environment variable, default and meaning, and parsing follows it.
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { LevelWithSilent } from 'pino';
import { defaultCacheRoot } from '../cache/disk/cache-dir.js';
import { type Config, DEFAULTS } from '../config.js';
import { normalizePrefix } from '../fs/names/paths.js';
import { isLoopbackHost, parseMetricsAddress } from '../metrics/address.js';
import { parseRedisUrl, type RedisTarget } from '../shared-cache/redis-url.js';
import { queueUrlProblem } from '../sqs/queue-endpoint.js';
import { type FlagKind, MountOptionError, mountOptionList } from './mount-options.js';

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
  {
    flag: 'endpoint-url',
    value: 'URL',
    default: "the profile's endpoint_url, else AWS S3 in the region",
    env: ['AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL'],
    help: 'S3 endpoint (for S3-compatible servers); a custom one implies --force-path-style',
    apply: (d, v) => (d.endpointUrl = parseUrl(v)),
  },
  { flag: 'region', value: 'REGION', env: ['AWS_REGION', 'AWS_DEFAULT_REGION'], default: DEFAULTS.region, help: 'AWS region', apply: (d, v) => (d.region = v) },
  {
    flag: 'profile',
    value: 'NAME',
    default: 'the default credential chain',
    env: ['AWS_PROFILE'],
    help: 'profile of ~/.aws/credentials and ~/.aws/config',
    apply: (d, v) => (d.profile = v),
  },
  switchOption('force-path-style', 'address the bucket as ENDPOINT/BUCKET instead of BUCKET.ENDPOINT', (d) => (d.forcePathStyle = true)),
  { flag: 'prefix', value: 'PREFIX', default: 'none', help: 'mount only keys under PREFIX (same as BUCKET:PREFIX)', apply: (d, v) => (d.prefixOption = v) },
  {
    flag: 'max-attempts',
    value: 'N',
    env: ['S3MOUNT_MAX_ATTEMPTS'],
    default: String(DEFAULTS.maxAttempts),
    help: 'attempts per S3 request, retries included',
    apply: (d, v) => (d.maxAttempts = parseInteger('max-attempts', v, 1)),
  },
  switchOption('read-only', 'refuse every change with EROFS', (d) => (d.readOnly = true)),
  switchOption('foreground', 'stay attached; unmount on Ctrl-C or SIGTERM', (d) => (d.foreground = true), 'f'),
  switchOption('allow-other', 'let other users use the mount (needs user_allow_other in /etc/fuse.conf for non-root)', (d) => (d.allowOther = true)),
  switchOption('allow-root', 'let root use the mount', (d) => (d.allowRoot = true)),
  switchOption('allow-non-empty', 'mount over a directory that is not empty', (d) => (d.allowNonEmpty = true)),
  { flag: 'uid', value: 'UID', default: 'the mounting user', help: 'owner of every file and directory', apply: (d, v) => (d.uid = parseInteger('uid', v, 0)) },
  {
    flag: 'gid',
    value: 'GID',
    default: "the mounting user's group",
    help: 'group of every file and directory',
    apply: (d, v) => (d.gid = parseInteger('gid', v, 0)),
  },
  { flag: 'file-mode', value: 'OCTAL', default: '0644', help: 'permission bits of files', apply: (d, v) => (d.fileMode = parseMode('file-mode', v)) },
  { flag: 'dir-mode', value: 'OCTAL', default: '0755', help: 'permission bits of directories', apply: (d, v) => (d.dirMode = parseMode('dir-mode', v)) },
  switchOption(
    'no-posix-metadata',
    "attributes from listings alone, no HEAD per entry: faster cold ls -l/find, but every object shows as a regular file with --file-mode, the mounting user and S3's time (symbolic links, chmod, touch -d and s3fs directory objects are not seen)",
    (d) => (d.posixMetadata = false),
  ),
  {
    flag: 'metadata-ttl',
    value: 'SECONDS',
    env: ['S3MOUNT_METADATA_TTL'],
    default: String(DEFAULTS.metadataTtlSeconds),
    help: 'how long HEAD and listing answers are trusted',
    apply: (d, v) => (d.metadataTtlSeconds = parseInteger('metadata-ttl', v, 0)),
  },
  {
    flag: 'kernel-cache-ttl',
    value: 'SECONDS',
    env: ['S3MOUNT_KERNEL_CACHE_TTL'],
    default: `${DEFAULTS.kernelCacheTtlSeconds} (at most the metadata TTL); ${DEFAULTS.sharedCacheKernelCacheTtlSeconds} with --shared-cache`,
    help: 'how long the kernel keeps attributes and names without asking s3mount (also caps its negative entries)',
    apply: (d, v) => (d.kernelCacheTtlSeconds = parseInteger('kernel-cache-ttl', v, 0)),
  },
  {
    flag: 'negative-metadata-ttl',
    value: 'SECONDS',
    env: ['S3MOUNT_NEGATIVE_METADATA_TTL'],
    default: String(DEFAULTS.negativeMetadataTtlSeconds),
    help: 'how long "no such key" is trusted; 0 turns it off',
    apply: (d, v) => (d.negativeMetadataTtlSeconds = parseInteger('negative-metadata-ttl', v, 0)),
  },
  {
    flag: 's3-events-queue',
    value: 'URL',
    env: ['S3MOUNT_S3_EVENTS_QUEUE'],
    default: 'off',
    help: "SQS queue of the bucket's S3 event notifications (sent directly, through SNS or EventBridge): objects other writers create or delete are forgotten as the events arrive",
    apply: (d, v) => (d.s3EventsQueue = parseQueueUrl(v)),
  },
  {
    flag: 'max-cache-entries',
    value: 'N',
    env: ['S3MOUNT_MAX_CACHE_ENTRIES'],
    default: String(DEFAULTS.maxCacheEntries),
    help: 'bound on cached metadata entries',
    apply: (d, v) => (d.maxCacheEntries = parseInteger('max-cache-entries', v, 1)),
  },
  {
    flag: 'max-cache-size',
    value: 'MIB',
    env: ['S3MOUNT_MAX_CACHE_SIZE'],
    default: String(DEFAULTS.maxCacheSizeMiB),
    help: 'bound on cached object content, in MiB',
    apply: (d, v) => (d.maxCacheSizeMiB = parseInteger('max-cache-size', v, 1)),
  },
  switchOption('no-disk-cache', 'keep cached content and metadata in memory only (no disk tiers)', (d) => (d.diskCache = false)),
  switchOption(
    'no-native-attr-cache',
    'answer every stat in JavaScript: no getattr answers kept in the FUSE binding (slower repeated stat and ls -l; for comparison and diagnosis)',
    (d) => (d.nativeAttrCache = false),
  ),
  switchOption(
    'no-native-reads',
    'answer every read in JavaScript: no reads of disk-cached blocks answered in the FUSE binding (for comparison and diagnosis)',
    (d) => (d.nativeReads = false),
  ),
  {
    flag: 'cache-dir',
    value: 'DIR',
    env: ['S3MOUNT_CACHE_DIR'],
    default: '$XDG_CACHE_HOME/s3mount (root: /var/cache/s3mount)',
    help: 'where content and metadata are cached on disk across remounts, a directory per bucket and prefix (created 0700; it holds object data)',
    apply: (d, v) => (d.cacheDir = resolve(v)),
  },
  {
    flag: 'max-disk-cache-size',
    value: 'MIB',
    env: ['S3MOUNT_MAX_DISK_CACHE_SIZE'],
    default: `${DEFAULTS.maxDiskCacheSizeMiB}, at most half the free space`,
    help: 'bound on the disk cache, in MiB (a sixteenth of it for metadata, the rest for content)',
    apply: (d, v) => (d.maxDiskCacheSizeMiB = parseInteger('max-disk-cache-size', v, 1)),
  },
  {
    flag: 'disk-cache-compression',
    value: 'CODEC',
    env: ['S3MOUNT_DISK_CACHE_COMPRESSION'],
    default: 'zstd',
    help: 'zstd (blocks and metadata entries that compress are stored compressed) or none',
    apply: (d, v) => (d.diskCacheCompression = parseChoice('disk-cache-compression', v, ['zstd', 'none'] as const)),
  },
  {
    flag: 'staging-dir',
    value: 'DIR',
    env: ['S3MOUNT_STAGING_DIR'],
    default: '$TMPDIR/s3mount-UID/staging',
    help: 'where files being written are staged (created 0700)',
    apply: (d, v) => (d.stagingDir = resolve(v)),
  },
  {
    flag: 'write-part-size',
    value: 'MIB',
    env: ['S3MOUNT_WRITE_PART_SIZE'],
    default: String(DEFAULTS.writePartSizeMiB),
    help: 'uploads above this size are multipart, in parts of this size',
    apply: (d, v) => (d.writePartSizeMiB = parseInteger('write-part-size', v, 5)),
  },
  {
    flag: 'log-level',
    value: 'LEVEL',
    env: ['S3MOUNT_LOG_LEVEL'],
    default: DEFAULTS.logLevel,
    help: LOG_LEVELS.join(', '),
    apply: (d, v) => (d.logLevel = parseLevel(v)),
  },
  switchOption('debug', 'log every FUSE operation, cache hit or miss and S3 call (same as --log-level debug)', (d) => (d.logLevel = 'debug')),
  {
    flag: 'log-format',
    value: 'FORMAT',
    env: ['S3MOUNT_LOG_FORMAT'],
    default: 'pretty on a terminal, else json',
    help: 'json, or pretty for people',
    apply: (d, v) => (d.logFormat = parseChoice('log-format', v, ['json', 'pretty'] as const)),
  },
  {
    flag: 'log-file',
    value: 'PATH',
    env: ['S3MOUNT_LOG_FILE'],
    default: 'stderr with -f, a file named after the mountpoint in the background (see logs below)',
    help: 'append logs to PATH',
    apply: (d, v) => (d.logFile = resolve(v)),
  },
  {
    flag: 'metrics-address',
    value: 'HOST:PORT',
    env: ['S3MOUNT_METRICS_ADDRESS'],
    default: 'off',
    help: 'serve Prometheus metrics at http://HOST:PORT/metrics (loopback only unless --metrics-allow-remote)',
    apply: (d, v) => (d.metricsAddress = parseAddress(v)),
  },
  switchOption('metrics-allow-remote', 'allow a --metrics-address other machines can reach', (d) => (d.metricsAllowRemote = true)),
  {
    flag: 'shared-cache',
    value: 'URL',
    env: ['S3MOUNT_SHARED_CACHE'],
    default: 'off',
    help: 'redis://[USER:PASSWORD@]HOST:PORT[/DB] or rediss:// (TLS) shared by the mounts of the bucket: changes made through one mount reach the others at once, and listings and HEAD answers are shared (give the password through the environment: the command line is visible to every local user)',
    apply: (d, v) => (d.sharedCache = parseSharedCache(v)),
  },
  switchOption(
    'no-shared-metadata',
    'with --shared-cache, share changes only: listings and HEAD answers stay in this mount',
    (d) => (d.sharedMetadata = false),
  ),
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
  const { given, positionals } = readArguments(givenArgs);
  const draft: Draft = {};
  // Each option counts once, at its last occurrence: later wins, and a switch given false
  // is as if left out (env included). Values are checked at every occurrence.
  const last = new Map<OptionSpec, string | boolean>();
  for (const { spec, value } of given) {
    if (typeof value === 'string') spec.apply({}, value);
    last.delete(spec);
    last.set(spec, value);
  }
  for (const [spec, value] of last) {
    if (value !== false) spec.apply(draft, value === true ? '' : value);
  }
  for (const option of OPTIONS) {
    if (last.has(option)) continue;
    const variable = option.env?.find((name) => env[name] !== undefined && env[name] !== '');
    if (variable === undefined) continue;
    const value = env[variable] as string;
    if (option.value) option.apply(draft, value);
    else if (switchValue(value, variable)) option.apply(draft, '');
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
    throw new UsageError(
      `--metrics-address ${draft.metricsAddress.host} can be reached from other machines; use a loopback address (127.0.0.1, ::1) or add --metrics-allow-remote`,
    );
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
    kernelCacheTtlSeconds:
      draft.kernelCacheTtlSeconds ??
      Math.min(draft.sharedCache ? DEFAULTS.sharedCacheKernelCacheTtlSeconds : DEFAULTS.kernelCacheTtlSeconds, metadataTtlSeconds),
    negativeMetadataTtlSeconds: draft.negativeMetadataTtlSeconds ?? DEFAULTS.negativeMetadataTtlSeconds,
    maxCacheEntries: draft.maxCacheEntries ?? DEFAULTS.maxCacheEntries,
    nativeAttrCache: draft.nativeAttrCache ?? true,
    nativeReads: draft.nativeReads ?? true,
    maxCacheSizeMiB: draft.maxCacheSizeMiB ?? DEFAULTS.maxCacheSizeMiB,
    blockSizeKiB: DEFAULTS.blockSizeKiB,
    diskCache: draft.diskCache ?? true,
    cacheDir: draft.cacheDir ?? defaultCacheRoot(env, uid),
    cacheDirChosen: draft.cacheDir !== undefined,
    maxDiskCacheSizeMiB: draft.maxDiskCacheSizeMiB ?? DEFAULTS.maxDiskCacheSizeMiB,
    diskCacheCompression: draft.diskCacheCompression ?? 'zstd',
    stagingDir: draft.stagingDir ?? join(tmpdir(), `s3mount-${uid}`, 'staging'),
    writePartSizeMiB: draft.writePartSizeMiB ?? DEFAULTS.writePartSizeMiB,
    logLevel: draft.logLevel ?? DEFAULTS.logLevel,
    // People read a terminal; files and pipes are read by programs.
    logFormat: draft.logFormat ?? (context.stderrIsTerminal && !draft.logFile ? 'pretty' : DEFAULTS.logFormat),
    logFile: draft.logFile,
    metricsAddress: draft.metricsAddress,
    sharedCache: draft.sharedCache,
    sharedMetadata: draft.sharedMetadata ?? true,
    s3EventsQueue: draft.s3EventsQueue,
  };
}

interface GivenOption {
  spec: OptionSpec;
  /** A switch: true or false; an option with a value: the value. */
  value: string | boolean;
}

// The key under which parseArgs reports -o lists; only the short form is accepted.
const OPTION_LIST_KEY = 'o';

/**
 * Reads the command line with util.parseArgs (strict) over the options table: long options as
 * --flag VALUE or --flag=VALUE, switches as --flag, --flag=true|false or --no-flag, short
 * options clustered as getopt does (-fo LIST is -f -o LIST), -- ending the options. A value
 * that looks like an option is refused unless attached (--region=-x). `-o` lists expand in place.
 */
function readArguments(args: string[]): { given: GivenOption[]; positionals: string[] } {
  const options: NonNullable<ParseArgsConfig['options']> = { [OPTION_LIST_KEY]: { type: 'string', short: 'o', multiple: true } };
  for (const option of OPTIONS) options[option.flag] = { type: option.value ? 'string' : 'boolean', ...(option.short ? { short: option.short } : {}) };
  let parsed: ReturnType<typeof parseArgs<{ options: typeof options; tokens: true; allowPositionals: true; strict: true; allowNegative: true }>>;
  try {
    parsed = parseArgs({ args: switchValuesAsNegation(args), options, strict: true, allowPositionals: true, allowNegative: true, tokens: true });
  } catch (error) {
    throw new UsageError(parseArgsErrorLine(error, args, options));
  }
  const given: GivenOption[] = [];
  for (const token of parsed.tokens) {
    if (token.kind !== 'option') continue;
    if (token.name === OPTION_LIST_KEY) {
      if (token.rawName !== '-o') throw new UsageError(`unknown option ${token.rawName} (see s3mount --help)`);
      for (const { flag, value } of expandOptionList(token.value ?? '')) {
        const spec = OPTIONS.find((option) => option.flag === flag) as OptionSpec;
        given.push({ spec, value: spec.value ? (value as string) : value !== 'false' });
      }
      continue;
    }
    const spec = OPTIONS.find((option) => option.flag === token.name);
    if (!spec) {
      // A switch whose own name starts with "no-" (--no-disk-cache): parseArgs reads it as the
      // negation of a switch that does not exist.
      const named = OPTIONS.find((option) => option.flag === `no-${token.name}` && !option.value);
      if (!named || !token.rawName.startsWith('--no-')) throw new UsageError(`unknown option ${token.rawName} (see s3mount --help)`);
      given.push({ spec: named, value: true });
      continue;
    }
    given.push({ spec, value: spec.value ? (token.value ?? '') : !token.rawName.startsWith('--no-') });
  }
  return { given, positionals: parsed.positionals };
}

/**
 * `--switch=true` becomes `--switch` and `--switch=false` `--no-switch` (parseArgs takes no
 * value after a boolean), up to `--`. No value is lost: parseArgs refuses every argument that
 * starts with "-" as the value of the option before it.
 */
function switchValuesAsNegation(args: string[]): string[] {
  const end = args.includes('--') ? args.indexOf('--') : args.length;
  const isSwitch = (flag: string) => OPTIONS.some((option) => option.flag === flag && !option.value);
  const rewritten = args.slice(0, end).map((arg) => {
    const [, flag, value] = /^--([^=]+)=(.*)$/s.exec(arg) ?? [];
    if (flag === undefined) return arg;
    if (isSwitch(flag)) return switchValue(value, `--${flag}`) ? `--${flag}` : `--no-${flag}`;
    if (flag.startsWith('no-') && isSwitch(flag.slice(3))) throw new UsageError(`option --${flag} takes no value`);
    return arg;
  });
  return [...rewritten, ...args.slice(end)];
}

/** A switch's value: true or false, nothing else (so that "no" or "0" cannot turn it on). */
function switchValue(value: string, where: string): boolean {
  if (value === 'true' || value === 'false') return value === 'true';
  throw new UsageError(`${where} takes true or false, not "${value}"`);
}

function expandOptionList(list: string) {
  try {
    return mountOptionList(list, flagKind);
  } catch (error) {
    if (error instanceof MountOptionError) throw new UsageError(error.message);
    throw error;
  }
}

/** One line for what util.parseArgs refused (its own messages span lines and name internals). */
export function parseArgsErrorLine(thrown: unknown, args: string[], options: NonNullable<ParseArgsConfig['options']>): string {
  const error = thrown as Error & { code?: string };
  const quoted = /'([^']*)'/.exec(error.message)?.[1] ?? '';
  const name = quoted.replace(/ <value>$/, '').replace(/^-\w, /, '');
  const spec = OPTIONS.find((option) => `--${option.flag}` === name);
  const shown = name === `--${OPTION_LIST_KEY}` || name === `-${OPTION_LIST_KEY}` ? '-o' : name;
  if (error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option ${quoted} (see s3mount --help)`;
  if (error.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    if (/argument missing/.test(error.message))
      return shown === '-o' ? 'option -o needs a list of options: -o opt[,opt...]' : `option ${shown} needs a value${spec?.value ? ` ${spec.value}` : ''}`;
    if (/ambiguous/.test(error.message)) {
      // Read again leniently to name the value that was refused.
      const { tokens } = parseArgs({ args, options, strict: false, allowPositionals: true, tokens: true });
      const refused = tokens.find(
        (token) =>
          token.kind === 'option' && token.inlineValue === false && typeof token.value === 'string' && token.value.length > 1 && token.value.startsWith('-'),
      );
      const value = refused?.kind === 'option' ? refused.value : '-...';
      return `option ${shown} needs a value, and "${value}" looks like an option (a value starting with "-" is written ${shown === '-o' ? '-o' : `${shown}=`}${value})`;
    }
    if (/does not take an argument/.test(error.message)) return `option ${shown} takes no value`;
  }
  return error.message.split('\n')[0];
}

export function helpText(): string {
  const lines = [
    'usage: s3mount [options] BUCKET[:PREFIX] MOUNTPOINT',
    '       s3mount BUCKET[:PREFIX] MOUNTPOINT -o OPT[,OPT...]   (how mount(8) runs it from /etc/fstab)',
    '       s3mount cache stats MOUNTPOINT [--json]',
    '       s3mount cache clear MOUNTPOINT',
    '       s3mount cache invalidate MOUNTPOINT PATH [--recursive]',
    '       s3mount cache configure MOUNTPOINT [--metadata-ttl SECONDS] [--max-cache-entries N] [--max-cache-size MIB] [--max-disk-cache-size MIB]',
    '       s3mount warm PATH [--content] [--concurrency N]',
    '',
    'Mounts an S3 bucket (or the keys under PREFIX) at MOUNTPOINT. Returns once the mount is ready,',
    'leaving a background process serving it; with -f it stays attached. End it with umount MOUNTPOINT.',
    'Credentials come from the standard AWS chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ...).',
    '',
    'options:',
    '  --flag VALUE or --flag=VALUE; a value starting with "-" only as --flag=-VALUE. Switches: --flag,',
    '  --flag=true or --flag=false (only these two words), --no-flag; false is the same as leaving the',
    '  switch out. The last occurrence of an option wins. -- ends the options. Short options cluster',
    '  as with getopt: -fo LIST is -f -o LIST.',
    '',
  ];
  for (const option of OPTIONS) {
    const flag = `${option.short ? `-${option.short}, ` : '    '}--${option.flag}${option.value ? ` ${option.value}` : ''}`;
    const fallback = option.default ?? (option.value ? undefined : 'off');
    const extras = [fallback !== undefined ? `default: ${fallback}` : '', option.env ? `env: ${option.env.join(', ')}` : ''].filter(Boolean).join('; ');
    lines.push(`  ${flag.padEnd(36)} ${option.help}${extras ? ` (${extras})` : ''}`);
  }
  lines.push(
    `  ${'-o OPT[,OPT...]'.padEnd(36)} options as mount(8) passes them: any long option above as name or name=value (a switch: name=true or name=false)`,
    `  ${''.padEnd(36)} (allow_other, endpoint-url=URL, metadata_ttl=5, ...), ro = --read-only, nonempty = --allow-non-empty;`,
    `  ${''.padEnd(36)} rw, defaults, _netdev, nofail, auto, noauto, user(s), (no)exec, (no)suid, (no)dev, x-* are ignored`,
    `  ${'-h, --help'.padEnd(36)} show this help`,
    `  ${'    --version'.padEnd(36)} show the version`,
  );
  lines.push(
    '',
    'cache commands talk to the running mount over its control socket (only its owner can connect):',
    '  invalidate PATH  drops what s3mount cached about PATH (relative paths are inside MOUNTPOINT), with',
    "                   --recursive everything under it; returns once the kernel's copy (--kernel-cache-ttl)",
    '                   ran out, so the next stat or read shows what S3 holds',
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

function parseAddress(value: string): { host: string; port: number } {
  try {
    return parseMetricsAddress(value);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function parseSharedCache(value: string): RedisTarget {
  try {
    return parseRedisUrl(value);
  } catch (error) {
    // The message never holds the URL: it may carry a password.
    throw new UsageError(`--shared-cache ${(error as Error).message}`);
  }
}

/** A whole number option of at least `min`; past what a number holds exactly, refused too. */
export function parseInteger(name: string, value: string, min: number): number {
  if (!/^\d+$/.test(value) || Number(value) < min) throw new UsageError(`--${name} must be a whole number of at least ${min}, not "${value}"`);
  if (!Number.isSafeInteger(Number(value))) throw new UsageError(`--${name} must be at most ${Number.MAX_SAFE_INTEGER}, not "${value}"`);
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

function parseQueueUrl(value: string): string {
  const problem = queueUrlProblem(value);
  if (problem) throw new UsageError(`--s3-events-queue must be an SQS queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME), not "${value}": ${problem}`);
  return value;
}

// S3's rules for bucket names: 3-63 characters of lower-case letters, digits, dots and hyphens,
// starting and ending with a letter or digit, no two dots in a row, not an IP address, and not
// one of the prefixes and suffixes S3 keeps for itself.
function validateBucket(bucket: string): void {
  const reason = !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)
    ? '3-63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit'
    : bucket.includes('..')
      ? 'two dots in a row'
      : /^\d+\.\d+\.\d+\.\d+$/.test(bucket)
        ? 'formatted as an IP address'
        : /^(xn--|sthree-)/.test(bucket) || /(-s3alias|--ol-s3)$/.test(bucket)
          ? 'a prefix or suffix S3 reserves'
          : undefined;
  if (reason) throw new UsageError(`invalid bucket name "${bucket}": ${reason}`);
}

/**
 * A prefix as typed (BUCKET:PREFIX or --prefix): trailing slashes are optional, but a leading
 * one is refused rather than dropped, since "/a" and "a" are different S3 keys. Components
 * that cannot be directories (empty, "." and "..") are refused, as is anything longer than a key.
 */
function validatePrefix(given: string): void {
  if (given.startsWith('/'))
    throw new UsageError(`invalid prefix "${given}": it must not start with "/" (keys under "${given}" and "${given.replace(/^\/+/, '')}" differ)`);
  const parts = given.replace(/\/+$/, '').split('/');
  if (given !== '' && parts.some((part) => part === '' || part === '.' || part === '..')) {
    throw new UsageError(`invalid prefix "${given}": empty, "." and ".." components cannot be mounted`);
  }
  if (Buffer.byteLength(given) > 1024) throw new UsageError(`invalid prefix of ${Buffer.byteLength(given)} bytes: S3 keys are at most 1024 bytes`);
}
