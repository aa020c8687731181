import test from 'ava';
import { parseMountArguments, UsageError } from '../../src/cli/options.js';

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
    [['b-1', '/m', '--metadata-ttl', '-1'], /--metadata-ttl must be a whole number/],
    [['b-1', '/m', '--file-mode', '999'], /octal mode/],
    [['b-1', '/m', '--log-level', 'loud'], /--log-level must be one of/],
    [['b-1', '/m', '--endpoint-url', 'ftp://x'], /http:\/\/ or https:\/\//],
    [['b-1'], /usage: s3mount/],
    [['b-1', '/m', '--bogus'], /unknown option --bogus/],
    [['b-1', '/m', '--region'], /needs a value/],
  ];
  for (const [args, message] of cases) t.throws(() => parseMountArguments(args, {}), { instanceOf: UsageError, message }, args.join(' '));
});
