import { resolve } from 'node:path';
import test from 'ava';
import { cacheCommand } from '../../src/cli/cache-command.js';
import { OPTIONS, parseMountArguments, UsageError } from '../../src/cli/options.js';
import { warmCommand } from '../../src/cli/warm-command.js';

test('BUCKET:PREFIX and flags become a Config with defaults', (t) => {
  const config = parseMountArguments(['my-bucket:photos/2024', '/mnt/s3', '--metadata-ttl', '30', '--file-mode=0600', '-f', '--read-only'], {});
  t.is(config.bucket, 'my-bucket');
  t.is(config.prefix, 'photos/2024/');
  t.is(config.mountpoint, '/mnt/s3');
  t.is(config.metadataTtlSeconds, 30);
  t.is(config.fileMode, 0o600);
  t.is(config.dirMode, 0o755);
  t.true(config.foreground);
  t.true(config.readOnly);
  t.false(config.forcePathStyle);
  t.is(config.negativeMetadataTtlSeconds, 5);
});

test('--prefix is the same as BUCKET:PREFIX', (t) => {
  t.is(parseMountArguments(['b-1', '/m', '--prefix', 'a/b/'], {}).prefix, 'a/b/');
  t.is(parseMountArguments(['b-1:a/b//', '/m'], {}).prefix, 'a/b/', 'trailing slashes are optional');
  t.throws(() => parseMountArguments(['b-1:x', '/m', '--prefix', 'y'], {}), { instanceOf: UsageError, message: /prefix given twice/ });
});

test('the environment fills options that flags leave unset, flags win', (t) => {
  const env = { AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9000', AWS_REGION: 'eu-west-1', S3MOUNT_METADATA_TTL: '5' };
  const fromEnv = parseMountArguments(['b-1', '/m'], env);
  t.is(fromEnv.endpointUrl, 'http://127.0.0.1:9000');
  t.true(fromEnv.forcePathStyle, 'custom endpoints default to path-style addressing');
  t.is(fromEnv.region, 'eu-west-1');
  t.is(fromEnv.metadataTtlSeconds, 5);
  t.is(parseMountArguments(['b-1', '/m', '--metadata-ttl', '9'], env).metadataTtlSeconds, 9);
});

test('bad input is one clear UsageError', (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['Bad_Bucket', '/m'], /invalid bucket name/],
    [['ab', '/m'], /invalid bucket name/],
    [['b-1:a//b', '/m'], /invalid prefix/],
    [['b-1:a/../b', '/m'], /invalid prefix/],
    [['b-1:..', '/m'], /invalid prefix/],
    [['b-1:./a', '/m'], /invalid prefix/],
    [['b-1:/abs', '/m'], /invalid prefix "\/abs": it must not start with "\/"/],
    [['b-1', '/m', '--prefix', '/abs'], /must not start with "\/"/],
    [[`b-1:${'p'.repeat(1025)}`, '/m'], /invalid prefix of 1025 bytes/],
    [['b'.repeat(64), '/m'], /invalid bucket name/],
    [['my..bucket', '/m'], /two dots in a row/],
    [['192.168.1.1', '/m'], /IP address/],
    [['xn--bucket', '/m'], /reserves/],
    [[':prefix', '/m'], /invalid bucket name ""/],
    [['b-1', '/m', '--metadata-ttl=-1'], /--metadata-ttl must be a whole number/],
    [['b-1', '/m', '--file-mode', '999'], /octal mode/],
    [['b-1', '/m', '--log-level', 'loud'], /--log-level must be one of/],
    [['b-1', '/m', '--endpoint-url', 'ftp://x'], /http:\/\/ or https:\/\//],
    [['b-1'], /usage: s3mount/],
    [['b-1', '/m', '--bogus'], /unknown option --bogus/],
    [['b-1', '/m', '--region'], /needs a value/],
  ];
  for (const [args, message] of cases) t.throws(() => parseMountArguments(args, {}), { instanceOf: UsageError, message }, args.join(' '));
});

// Issue 14: switches ignored inline values (--allow-other=false turned allow_other on) and values
// were taken even when they were the next option (--region --foreground).
test('a switch takes no value, or true or false', (t) => {
  const parse = (...flags: string[]) => parseMountArguments(['b-1', '/m', ...flags], {});
  t.false(parse('--allow-other=false').allowOther);
  t.true(parse('--allow-other=true').allowOther);
  t.true(parse('--allow-other').allowOther);
  t.false(parse('--allow-other', '--no-allow-other').allowOther, 'the last one wins');
  t.true(parse('--no-allow-other', '--allow-other').allowOther);
  t.false(parse('--read-only', '--read-only=false').readOnly);
  t.false(parse('-o', 'ro=false').readOnly);
  t.true(parse('-o', 'allow_other=true').allowOther);
  t.is(parse('--log-level', 'info', '--debug=false').logLevel, 'info', 'a switch given false is as if left out');
  t.is(parse('--log-level', 'info', '--debug').logLevel, 'debug');
  t.is(parse('--debug', '--log-level', 'info').logLevel, 'info');
  for (const bad of ['no', 'yes', '0', '1', 'FALSE', '']) {
    t.throws(() => parse(`--read-only=${bad}`), { instanceOf: UsageError, message: `--read-only takes true or false, not "${bad}"` }, bad);
  }
  t.throws(() => parse('--no-read-only=true'), { instanceOf: UsageError, message: 'option --no-read-only takes no value' });
  t.throws(() => parse('-o', 'ro=no'), { instanceOf: UsageError, message: /mount option ro takes no value, or true or false, not "no"/ });
});

test('a value that looks like an option is refused; attached with = it is taken', (t) => {
  t.throws(() => parseMountArguments(['b-1', '/m', '--region', '--foreground'], {}), {
    instanceOf: UsageError,
    message: 'option --region needs a value, and "--foreground" looks like an option (a value starting with "-" is written --region=--foreground)',
  });
  t.throws(() => parseMountArguments(['b-1', '/m', '--prefix', '-x'], {}), {
    instanceOf: UsageError,
    message: /option --prefix needs a value, and "-x" looks like an option/,
  });
  t.is(parseMountArguments(['b-1', '/m', '--region=-x'], {}).region, '-x');
  t.is(parseMountArguments(['b-1', '/m', '--region', 'eu-west-1'], {}).region, 'eu-west-1');
  t.is(parseMountArguments(['b-1', '/m', '--region=a=b'], {}).region, 'a=b');
});

test('-- ends the options, and short options cluster as getopt does', (t) => {
  const ended = parseMountArguments(['--read-only', '--', 'b-1', '-mnt'], {});
  t.is(ended.mountpoint, resolve('-mnt'));
  t.true(ended.readOnly);
  t.throws(
    () => parseMountArguments(['--', 'b-1', '/m', '--read-only'], {}),
    { instanceOf: UsageError, message: /^usage: s3mount/ },
    'after --, --read-only is a third positional',
  );
  const clustered = parseMountArguments(['b-1', '/m', '-fo', 'ro,allow_root'], {});
  t.true(clustered.foreground);
  t.true(clustered.readOnly);
  t.true(clustered.allowRoot);
  t.is(parseMountArguments(['b-1', '/m', '-foro'], {}).readOnly, true, '-foro is -f -o ro');
});

test('each bad command line is one line', (t) => {
  const cases: Array<[string[], string]> = [
    [['--bogus'], 'unknown option --bogus (see s3mount --help)'],
    [['-x'], 'unknown option -x (see s3mount --help)'],
    [['--no-region'], 'unknown option --no-region (see s3mount --help)'],
    [['--o', 'ro'], 'unknown option --o (see s3mount --help)'],
    [['--region'], 'option --region needs a value REGION'],
    [['-o'], 'option -o needs a list of options: -o opt[,opt...]'],
    [['-f', '--allow-other=no'], '--allow-other takes true or false, not "no"'],
    [['--metadata-ttl', '99999999999999999999'], '--metadata-ttl must be at most 9007199254740991, not "99999999999999999999"'],
    [
      ['--metadata-ttl', '--read-only'],
      'option --metadata-ttl needs a value, and "--read-only" looks like an option (a value starting with "-" is written --metadata-ttl=--read-only)',
    ],
  ];
  for (const [flags, message] of cases) {
    const error = t.throws(() => parseMountArguments(['b-1', '/m', ...flags], {}), { instanceOf: UsageError }, flags.join(' '));
    t.is(error?.message, message, flags.join(' '));
    t.false(error?.message.includes('\n'), flags.join(' '));
  }
});

test('a switch set in the environment takes true or false too', (t) => {
  // No switch of the table has a variable yet: one is added for this test.
  OPTIONS.push({ flag: 'test-switch', env: ['S3MOUNT_TEST_SWITCH'], help: '', apply: (draft) => (draft.readOnly = true) });
  try {
    t.true(parseMountArguments(['b-1', '/m'], { S3MOUNT_TEST_SWITCH: 'true' }).readOnly);
    t.false(parseMountArguments(['b-1', '/m'], { S3MOUNT_TEST_SWITCH: 'false' }).readOnly);
    t.false(parseMountArguments(['b-1', '/m', '--test-switch=false'], { S3MOUNT_TEST_SWITCH: 'true' }).readOnly, 'the flag wins');
    t.throws(() => parseMountArguments(['b-1', '/m'], { S3MOUNT_TEST_SWITCH: 'no' }), {
      instanceOf: UsageError,
      message: 'S3MOUNT_TEST_SWITCH takes true or false, not "no"',
    });
  } finally {
    OPTIONS.pop();
  }
});

test('cache and warm refuse bad options in one line too', async (t) => {
  const cases: Array<[() => Promise<number>, string]> = [
    [() => cacheCommand(['stats', '/m', '--bogus']), 'unknown option --bogus (see s3mount --help)'],
    [() => cacheCommand(['configure', '/m', '--metadata-ttl']), 'option --metadata-ttl needs a value SECONDS'],
    [
      () => cacheCommand(['configure', '/m', '--metadata-ttl', '--json']),
      'option --metadata-ttl needs a value, and "--json" looks like an option (a value starting with "-" is written --metadata-ttl=--json)',
    ],
    [
      () => cacheCommand(['configure', '/m']),
      'cache configure needs at least one setting: --metadata-ttl SECONDS, --max-cache-entries N or --max-cache-size MIB',
    ],
    [() => cacheCommand(['stats']), 'usage: s3mount cache stats|clear|invalidate|configure MOUNTPOINT ... (see s3mount --help)'],
    // Found by a helper: a number past what JavaScript holds exactly reached the mount, which refused it (exit 1, not a usage error).
    [
      () => cacheCommand(['configure', '/m', '--metadata-ttl=99999999999999999999']),
      '--metadata-ttl must be at most 9007199254740991, not "99999999999999999999"',
    ],
    [() => cacheCommand(['configure', '/m', '--max-cache-entries=0']), '--max-cache-entries must be a whole number of at least 1, not "0"'],
    [() => warmCommand(['/m', '--content=no']), 'option --content takes no value; usage: s3mount warm PATH [--content] [--concurrency N]'],
    [() => warmCommand(['/m', '--concurrency']), 'option --concurrency needs a value; usage: s3mount warm PATH [--content] [--concurrency N]'],
  ];
  for (const [command, message] of cases) await t.throwsAsync(command, { instanceOf: UsageError, message }, message);
});

test('disk cache options: on by default under the cache root, --no-disk-cache turns it off, a chosen root is marked', (t) => {
  const parse = (...args: string[]) => parseMountArguments([...args, 'bkt', '/mnt/x'], { XDG_CACHE_HOME: '/home/u/.cache' });
  t.like(parse(), { diskCache: true, cacheDir: '/home/u/.cache/s3mount', cacheDirChosen: false, maxDiskCacheSizeMiB: 4096, diskCacheCompression: 'zstd' });
  t.like(parse('--no-disk-cache'), { diskCache: false });
  t.like(parse('--no-disk-cache=true'), { diskCache: false });
  t.like(parse('-o', 'no-disk-cache'), { diskCache: false });
  t.like(parse('--cache-dir', '/var/tmp/c', '--max-disk-cache-size', '10', '--disk-cache-compression', 'none'), {
    cacheDir: '/var/tmp/c',
    cacheDirChosen: true,
    maxDiskCacheSizeMiB: 10,
    diskCacheCompression: 'none',
  });
  t.like(parseMountArguments(['bkt', '/mnt/x'], { S3MOUNT_CACHE_DIR: '/srv/c' }), { cacheDir: '/srv/c', cacheDirChosen: true });
  t.throws(() => parse('--disk-cache-compression', 'lz4'), { instanceOf: UsageError, message: /zstd, none/ });
  t.throws(() => parse('--no-such-thing'), { instanceOf: UsageError, message: /unknown option --no-such-thing/ });
});

test('--shared-cache takes a redis:// or rediss:// URL from the flag, the environment or -o, and lowers the kernel TTL to 0 unless given', (t) => {
  const flag = parseMountArguments(['b-1', '/m', '--shared-cache', 'rediss://s3mount:hunter22@cache.lan:6380/2'], {});
  t.deepEqual(flag.sharedCache, { host: 'cache.lan', port: 6380, db: 2, tls: true, username: 's3mount', password: 'hunter22' });
  t.true(flag.sharedMetadata);
  t.is(flag.kernelCacheTtlSeconds, 0, 'the bus, not the kernel, decides what another mount shows');
  t.is(parseMountArguments(['b-1', '/m', '--shared-cache', 'redis://h:1', '--kernel-cache-ttl', '2'], {}).kernelCacheTtlSeconds, 2, 'unless asked for');
  t.is(parseMountArguments(['b-1', '/m'], {}).kernelCacheTtlSeconds, 1, 'without a shared cache the default stays');
  t.is(parseMountArguments(['b-1', '/m'], {}).sharedCache, undefined);
  t.is(parseMountArguments(['b-1', '/m'], { S3MOUNT_SHARED_CACHE: 'redis://env-host:6379/1' }).sharedCache?.host, 'env-host');
  const listed = parseMountArguments(['b-1', '/m', '-o', 'shared_cache=redis://:pw@o-host:7000/3,no-shared-metadata'], {});
  t.like(listed.sharedCache, { host: 'o-host', port: 7000, db: 3, password: 'pw' });
  t.false(listed.sharedMetadata);
});

test('a bad --shared-cache is a usage error that never repeats the password', (t) => {
  for (const bad of ['http://u:hunter22@h:1', 'redis://u:hunter22@h:1/db', 'hunter22']) {
    const error = t.throws(() => parseMountArguments(['b-1', '/m', '--shared-cache', bad], {}), { instanceOf: UsageError, message: /^--shared-cache / });
    t.false(error?.message.includes('hunter22'), bad);
  }
});
